/**
 * Train-or-load for the WordPiece vocabulary: the trained `vocab.txt` is cached in a folder under a key made of
 * the corpus content hash and the training settings, so a second run on the same corpus loads it in milliseconds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusSource } from './corpus';
import { CorpusHasher, hashCorpus, readDocuments } from './corpus';
import { trainWordPiece, WordCounter, type TrainResult } from './trainer';
import { WordPieceTokenizer } from './wordpiece';

export const TRAINER_VERSION = 1;

export interface TokenizerSettings {
  vocabSize: number;
  lowercase: boolean;
  minPairCount?: number;
  maxInputCharsPerWord?: number;
}

export interface TrainTokenizerOptions {
  /** Folder for cached vocabularies; without it the tokenizer is always trained. */
  cacheDir?: string;
  /** The corpus hash if already known. */
  corpusHash?: string;
  chunkSize?: number;
}

export interface TrainedTokenizer {
  tokenizer: WordPieceTokenizer;
  corpusHash: string;
  /** True when loaded from the cache. */
  cached: boolean;
  /** The cached vocab.txt (when a cache folder was given). */
  vocabPath?: string;
  /** Training statistics (absent when cached). */
  stats?: Omit<TrainResult, 'vocab'> & { words: number; distinctWords: number; countMs: number; trainMs: number };
}

export function tokenizerCacheKey(corpusHash: string, s: TokenizerSettings): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: TRAINER_VERSION, corpusHash, vocabSize: s.vocabSize, lowercase: s.lowercase, minPairCount: s.minPairCount ?? 1, maxChars: s.maxInputCharsPerWord ?? 100 }))
    .digest('hex');
}

/** Counts words in one streaming pass (also returning the content hash of what was read). */
export async function countWords(source: CorpusSource, lowercase: boolean, opts: { chunkSize?: number } = {}): Promise<{ counter: WordCounter; corpusHash: string }> {
  const counter = new WordCounter(lowercase);
  const hasher = new CorpusHasher(source.kind);
  for await (const doc of readDocuments(source, { chunkSize: opts.chunkSize, hasher })) for (const s of doc.sentences) counter.addText(s);
  return { counter, corpusHash: hasher.digest() };
}

/** Trains a WordPiece tokenizer on the corpus, or loads it from the cache. */
export async function trainTokenizer(source: CorpusSource, settings: TokenizerSettings, opts: TrainTokenizerOptions = {}): Promise<TrainedTokenizer> {
  const tokOpts = { lowercase: settings.lowercase, maxInputCharsPerWord: settings.maxInputCharsPerWord };
  let knownHash = opts.corpusHash;
  let vocabPath: string | undefined;
  if (opts.cacheDir !== undefined) {
    knownHash ??= await hashCorpus(source, { chunkSize: opts.chunkSize });
    vocabPath = join(opts.cacheDir, `vocab-${tokenizerCacheKey(knownHash, settings).slice(0, 24)}.txt`);
    if (existsSync(vocabPath)) {
      return { tokenizer: WordPieceTokenizer.fromVocabFile(vocabPath, tokOpts), corpusHash: knownHash, cached: true, vocabPath };
    }
  }
  const t0 = performance.now();
  const { counter, corpusHash } = await countWords(source, settings.lowercase, opts);
  if (knownHash !== undefined && corpusHash !== knownHash) throw new Error(`The corpus (${source.description}) changed while the tokenizer was being trained; run again.`);
  const t1 = performance.now();
  const result = trainWordPiece(counter.counts, { vocabSize: settings.vocabSize, minPairCount: settings.minPairCount, maxInputCharsPerWord: settings.maxInputCharsPerWord });
  const t2 = performance.now();
  const tokenizer = new WordPieceTokenizer(result.vocab, tokOpts);
  if (vocabPath !== undefined && opts.cacheDir !== undefined) {
    mkdirSync(opts.cacheDir, { recursive: true });
    tokenizer.save(vocabPath);
  }
  const { vocab: _vocab, ...rest } = result;
  return {
    tokenizer,
    corpusHash,
    cached: false,
    ...(vocabPath !== undefined ? { vocabPath } : {}),
    stats: { ...rest, words: counter.words, distinctWords: counter.counts.size, countMs: t1 - t0, trainMs: t2 - t1 },
  };
}
