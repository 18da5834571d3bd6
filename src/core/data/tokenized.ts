/**
 * The tokenized corpus: every document's token ids laid end to end, plus an index of where each document and each
 * sentence starts. Built in one streaming pass; with a cache folder it is written to disk (`tokens-<key>.bin`,
 * int32 little-endian, and `tokens-<key>.idx`) and read back with positioned reads when larger than the in-memory
 * limit, so corpora larger than memory work. Only the index (one float64 per sentence) stays in memory.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusSource, Document } from './corpus';
import { CorpusHasher, hashCorpus, readDocuments } from './corpus';
import type { WordPieceTokenizer } from './wordpiece';

export const TOKEN_CACHE_VERSION = 1;

export interface TokenStore {
  /** Token ids in [start, end) (global offsets). */
  read(start: number, end: number): Int32Array;
  readonly inMemory: boolean;
  close(): void;
}

export interface TokenizedCorpus {
  numDocuments: number;
  numSentences: number;
  numTokens: number;
  /** Sentence index where document d starts; length numDocuments + 1. */
  docSentenceStart: Int32Array;
  /** Global token offset where sentence s starts; length numSentences + 1 (the last is numTokens). */
  sentenceStart: Float64Array;
  /** A 48-bit key from the sha256 of each document's text: the validation split is chosen by it. */
  docKey: Float64Array;
  tokens: TokenStore;
  /** The cache files, when written to or read from a cache folder. */
  files?: { tokens: string; index: string };
}

/** [start, end) token offsets of a document. */
export function documentRange(c: TokenizedCorpus, d: number): [number, number] {
  return [c.sentenceStart[c.docSentenceStart[d] as number] as number, c.sentenceStart[c.docSentenceStart[d + 1] as number] as number];
}

class MemoryStore implements TokenStore {
  readonly inMemory = true;
  constructor(private readonly ids: Int32Array) {}
  read(start: number, end: number): Int32Array {
    return this.ids.subarray(start, end);
  }
  close(): void {}
}

class FileStore implements TokenStore {
  readonly inMemory = false;
  private fd: number | undefined;
  constructor(private readonly path: string) {
    this.fd = openSync(path, 'r');
  }
  read(start: number, end: number): Int32Array {
    if (this.fd === undefined) throw new Error(`token store ${this.path} is closed`);
    const out = new Int32Array(end - start);
    const bytes = new Uint8Array(out.buffer);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, start * 4 + done);
      if (n === 0) throw new Error(`token store ${this.path} is truncated`);
      done += n;
    }
    return out;
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** An append-only Float64Array. */
class F64List {
  private a = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const g = new Float64Array(this.a.length * 2);
      g.set(this.a);
      this.a = g;
    }
    this.a[this.length++] = v;
  }
  toArray(): Float64Array {
    return this.a.slice(0, this.length);
  }
}

/** Grows typed arrays (tokens in memory or buffered to a file; index always in memory). */
class Builder {
  private tokens = new Int32Array(1 << 16);
  private tokenCount = 0;
  private flushed = 0;
  private sentences = new F64List();
  private docSentences = new F64List();
  private keys = new F64List();

  constructor(private readonly fd?: number) {
    this.sentences.push(0);
    this.docSentences.push(0);
  }

  addDocument(sentences: readonly string[], tokenizer: WordPieceTokenizer): void {
    let added = 0;
    for (const s of sentences) {
      const ids = tokenizer.encode(s);
      if (ids.length === 0) continue;
      this.append(ids);
      this.sentences.push(this.flushed + this.tokenCount);
      added++;
    }
    if (added === 0) return;
    this.docSentences.push(this.sentences.length - 1);
    const digest = createHash('sha256').update(sentences.join('\n')).digest();
    this.keys.push(digest.readUIntBE(0, 6));
  }

  private append(ids: readonly number[]): void {
    if (this.tokenCount + ids.length > this.tokens.length) {
      if (this.fd !== undefined) this.flush();
      if (this.tokenCount + ids.length > this.tokens.length) {
        const grown = new Int32Array(Math.max(this.tokens.length * 2, this.tokenCount + ids.length));
        grown.set(this.tokens.subarray(0, this.tokenCount));
        this.tokens = grown;
      }
    }
    this.tokens.set(ids, this.tokenCount);
    this.tokenCount += ids.length;
  }

  private flush(): void {
    if (this.fd === undefined || this.tokenCount === 0) return;
    const bytes = new Uint8Array(this.tokens.buffer, 0, this.tokenCount * 4);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.flushed += this.tokenCount;
    this.tokenCount = 0;
  }

  finish(): Omit<TokenizedCorpus, 'tokens'> & { memory?: Int32Array } {
    this.flush();
    const numTokens = this.flushed + this.tokenCount;
    return {
      numDocuments: this.keys.length,
      numSentences: this.sentences.length - 1,
      numTokens,
      docSentenceStart: Int32Array.from(this.docSentences.toArray()),
      sentenceStart: this.sentences.toArray(),
      docKey: this.keys.toArray(),
      ...(this.fd === undefined ? { memory: this.tokens.slice(0, this.tokenCount) } : {}),
    };
  }
}

/** Tokenizes documents held in memory (tests, small corpora). Each document is a list of sentences. */
export function tokenizeDocuments(docs: Iterable<readonly string[]>, tokenizer: WordPieceTokenizer): TokenizedCorpus {
  const b = new Builder();
  for (const d of docs) b.addDocument(d, tokenizer);
  const { memory, ...index } = b.finish();
  return { ...index, tokens: new MemoryStore(memory ?? new Int32Array(0)) };
}

export interface TokenizeCorpusOptions {
  /** Where to write / find the cached token files; without it everything stays in memory. */
  cacheDir?: string;
  /** The corpus hash, when already computed (saves a pass). */
  corpusHash?: string;
  chunkSize?: number;
  /** Cached token files up to this size are loaded into memory; larger ones are read on demand (default 512 MiB). */
  inMemoryLimitBytes?: number;
  onDocument?: (doc: Document) => void;
}

const MAGIC = 'CBTOK1\n';

function writeIndex(path: string, c: Omit<TokenizedCorpus, 'tokens'>): void {
  const header = Buffer.from(`${MAGIC}${JSON.stringify({ numDocuments: c.numDocuments, numSentences: c.numSentences, numTokens: c.numTokens })}\n`);
  const pad = Buffer.alloc((8 - (header.length % 8)) % 8, 0x20);
  writeFileSync(path, Buffer.concat([header, pad, Buffer.from(c.sentenceStart.buffer, c.sentenceStart.byteOffset, c.sentenceStart.byteLength), Buffer.from(c.docKey.buffer, c.docKey.byteOffset, c.docKey.byteLength), Buffer.from(c.docSentenceStart.buffer, c.docSentenceStart.byteOffset, c.docSentenceStart.byteLength)]));
}

function readIndex(path: string): Omit<TokenizedCorpus, 'tokens'> | undefined {
  const buf = readFileSync(path);
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) return undefined;
  const nl = buf.indexOf(0x0a, MAGIC.length);
  const meta = JSON.parse(buf.subarray(MAGIC.length, nl).toString()) as { numDocuments: number; numSentences: number; numTokens: number };
  let off = nl + 1;
  off += (8 - (off % 8)) % 8;
  const take = (bytes: number): ArrayBuffer => {
    const ab = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + bytes) as ArrayBuffer;
    off += bytes;
    return ab;
  };
  const sentenceStart = new Float64Array(take((meta.numSentences + 1) * 8));
  const docKey = new Float64Array(take(meta.numDocuments * 8));
  const docSentenceStart = new Int32Array(take((meta.numDocuments + 1) * 4));
  if (off !== buf.length) return undefined;
  return { ...meta, sentenceStart, docKey, docSentenceStart };
}

function openStore(path: string, numTokens: number, limit: number): TokenStore {
  const size = statSync(path).size;
  if (size !== numTokens * 4) throw new Error(`token cache ${path} has ${size} bytes, expected ${numTokens * 4}`);
  if (size <= limit) {
    const buf = readFileSync(path);
    return new MemoryStore(new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer));
  }
  return new FileStore(path);
}

/** The cache key of a tokenized corpus: corpus content + vocabulary + settings. */
export function tokenCacheKey(corpusHash: string, tokenizer: WordPieceTokenizer): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: TOKEN_CACHE_VERSION, corpusHash, lowercase: tokenizer.lowercase, maxChars: tokenizer.maxInputCharsPerWord }))
    .update(tokenizer.toVocabFile())
    .digest('hex');
}

/**
 * Tokenizes a corpus source in one streaming pass. With `cacheDir`, the result is keyed by corpus hash + vocabulary
 * and reused on later runs.
 */
export async function tokenizeCorpus(source: CorpusSource, tokenizer: WordPieceTokenizer, opts: TokenizeCorpusOptions = {}): Promise<TokenizedCorpus & { cached: boolean; corpusHash: string }> {
  const limit = opts.inMemoryLimitBytes ?? 512 * 1024 * 1024;
  if (opts.cacheDir === undefined) {
    const b = new Builder();
    const hasher = new CorpusHasher(source.kind);
    for await (const doc of readDocuments(source, { chunkSize: opts.chunkSize, hasher })) {
      opts.onDocument?.(doc);
      b.addDocument(doc.sentences, tokenizer);
    }
    const { memory, ...index } = b.finish();
    return { ...index, tokens: new MemoryStore(memory ?? new Int32Array(0)), cached: false, corpusHash: hasher.digest() };
  }
  const corpusHash = opts.corpusHash ?? (await hashCorpus(source, { chunkSize: opts.chunkSize }));
  const key = tokenCacheKey(corpusHash, tokenizer).slice(0, 24);
  mkdirSync(opts.cacheDir, { recursive: true });
  const tokensPath = join(opts.cacheDir, `tokens-${key}.bin`);
  const indexPath = join(opts.cacheDir, `tokens-${key}.idx`);
  if (existsSync(indexPath) && existsSync(tokensPath)) {
    const index = readIndex(indexPath);
    if (index && statSync(tokensPath).size === index.numTokens * 4) {
      return { ...index, tokens: openStore(tokensPath, index.numTokens, limit), files: { tokens: tokensPath, index: indexPath }, cached: true, corpusHash };
    }
  }
  const tmp = `${tokensPath}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  let index: Omit<TokenizedCorpus, 'tokens'>;
  const hasher = new CorpusHasher(source.kind);
  try {
    const b = new Builder(fd);
    for await (const doc of readDocuments(source, { chunkSize: opts.chunkSize, hasher })) {
      opts.onDocument?.(doc);
      b.addDocument(doc.sentences, tokenizer);
    }
    index = b.finish();
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  const streamedHash = hasher.digest();
  if (streamedHash !== corpusHash) {
    rmSync(tmp, { force: true });
    throw new Error(`The corpus (${source.description}) changed while it was being tokenized; run again.`);
  }
  renameSync(tmp, tokensPath);
  const tmpIdx = `${indexPath}.${process.pid}.tmp`;
  writeIndex(tmpIdx, index);
  renameSync(tmpIdx, indexPath); // the index is written last: its presence marks a complete cache entry
  return { ...index, tokens: openStore(tokensPath, index.numTokens, limit), files: { tokens: tokensPath, index: indexPath }, cached: false, corpusHash };
}
