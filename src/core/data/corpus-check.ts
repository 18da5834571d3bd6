/**
 * Corpus paths checked against the file system while the spec is edited: a file that does not exist, a glob that
 * matches nothing, a folder or device where a text file belongs, a binary file, an empty corpus, a missing
 * vocabulary file — each a warning on the path's own source range, relative to the spec's folder as training
 * resolves them. The validator stays pure: the file system comes in as a `CorpusFs` (`nodeCorpusFs` outside tests).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';
import { LineIndex, type Diagnostic, type JsonPath } from '../spec/diagnostics';
import { specialFileKind } from './corpus';
import { expandGlob, hasGlobMagic } from './glob';
import { sniffFile, type TextSniff } from './text-check';

export type PathKind = 'file' | 'directory' | { special: string } | undefined;

/** What the check needs from a file system. */
export interface CorpusFs {
  /** What is at `path`: a file, a directory, something else (in words), or nothing (undefined). */
  kind(path: string): PathKind;
  /** The files a glob matches, relative to `baseDir` (absolute paths). */
  glob(pattern: string, baseDir: string): string[];
  /** Whether a file is text (its head is looked at). */
  sniff(path: string): TextSniff;
}

export const nodeCorpusFs: CorpusFs = {
  kind(path) {
    try {
      const st = statSync(path);
      if (st.isFile()) return 'file';
      if (st.isDirectory()) return 'directory';
      return { special: specialFileKind(st) };
    } catch {
      return undefined;
    }
  },
  glob: expandGlob,
  sniff(path) {
    try {
      return sniffFile(path);
    } catch {
      return { kind: 'text' }; // unreadable now: training will say why
    }
  },
};

/** Files looked at for text per spec, at most (a glob over a large folder is not read while typing). */
const MAX_SNIFFED = 64;

/** Warnings for the corpus paths and the vocabulary file written in a spec's text, at their source ranges. */
export function checkCorpusPaths(text: string, specDir: string, fs: CorpusFs = nodeCorpusFs): Diagnostic[] {
  const clean = text.startsWith('\uFEFF') ? ` ${text.slice(1)}` : text; // as the validator reads a BOM
  const root = parseTree(clean, [], { allowTrailingComma: true, disallowComments: false });
  if (!root) return [];
  const lines = new LineIndex(clean);
  const out: Diagnostic[] = [];
  const warn = (code: string, node: Node, path: JsonPath, message: string) => {
    out.push({ severity: 'warning', code, message, path, range: lines.range(node.offset, node.length) });
  };

  const corpus = findNodeAtLocation(root, ['training', 'corpus']);
  if (corpus?.type === 'array') {
    const files: { file: string; node: Node; path: JsonPath }[] = [];
    (corpus.children ?? []).forEach((node, i) => {
      if (node.type !== 'string' || typeof node.value !== 'string') return;
      const pattern = node.value;
      const path: JsonPath = ['training', 'corpus', i];
      if (hasGlobMagic(pattern)) {
        const matches = fs.glob(pattern, specDir);
        if (matches.length === 0) warn('corpus-path', node, path, `the glob "${pattern}" matches no files in ${specDir}; training would stop here`);
        for (const file of matches) files.push({ file, node, path });
        return;
      }
      const full = resolve(specDir, pattern);
      const kind = fs.kind(full);
      if (kind === undefined) warn('corpus-path', node, path, `no file ${full} (paths are relative to the spec's folder); training would stop here`);
      else if (kind === 'directory') warn('corpus-path', node, path, `${full} is a folder, not a file; use a glob such as "${pattern.replace(/\/$/, '')}/**/*.txt"`);
      else if (kind !== 'file') warn('corpus-path', node, path, `${full} is not a regular file but ${kind.special}; give a text file`);
      else files.push({ file: full, node, path });
    });
    let empty = 0;
    let sniffed = 0;
    const reported = new Set<Node>();
    for (const { file, node, path } of files.slice(0, MAX_SNIFFED)) {
      const sniff = fs.sniff(file);
      sniffed++;
      if (sniff.kind === 'empty') empty++;
      if (sniff.kind === 'binary' && !reported.has(node)) {
        reported.add(node);
        warn('corpus-not-text', node, path, `${file} is not text: ${sniff.reason}; training would stop here`);
      }
    }
    if (files.length > 0 && files.length <= MAX_SNIFFED && empty === sniffed) {
      const first = files[0]!;
      warn('corpus-not-text', corpus, ['training', 'corpus'], `the corpus is empty: ${files.length === 1 ? `${first.file} has no text` : `its ${files.length} files have no text`}`);
    }
  }

  const vocab = findNodeAtLocation(root, ['training', 'tokenizer', 'vocabFile']);
  if (vocab?.type === 'string' && typeof vocab.value === 'string') {
    const full = resolve(specDir, vocab.value);
    const kind = fs.kind(full);
    if (kind !== 'file') {
      warn('corpus-path', vocab, ['training', 'tokenizer', 'vocabFile'], kind === undefined ? `no vocabulary file ${full} (relative to the spec's folder); training would stop here` : `${full} is not a file`);
    }
  }
  return out;
}
