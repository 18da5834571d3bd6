/** The data pipeline: corpus → WordPiece tokenizer → tokenized corpus → BERT pretraining batches (plain typed arrays). */
export { Rng, mixSeed, type RngState } from '../rng';
export { expandGlob, globToRegExp, hasGlobMagic, matchGlob } from './glob';
export { DEFAULT_CHUNK_SIZE, readChunks, readLineBatches, type StreamOptions } from './stream';
export { splitSentences } from './sentences';
export {
  bundledCorpusDir,
  CorpusHasher,
  hashCorpus,
  readDocuments,
  resolveCorpus,
  type CorpusSource,
  type CorpusSpec,
  type Document,
  type ReadOptions,
  type ResolveCorpusOptions,
} from './corpus';
export { isPunctuation, normalizeText, preTokenize } from './pretokenize';
export { CONTINUATION, SPECIAL_TOKENS, WordPieceTokenizer, type SpecialIds, type SpecialToken, type TokenizerOptions } from './wordpiece';
export { trainWordPiece, WordCounter, type TrainOptions, type TrainResult } from './trainer';
export { countWords, tokenizerCacheKey, trainTokenizer, TRAINER_VERSION, type TokenizerSettings, type TrainedTokenizer, type TrainTokenizerOptions } from './tokenizer-cache';
export {
  documentRange,
  tokenCacheKey,
  tokenizeCorpus,
  tokenizeDocuments,
  TOKEN_CACHE_VERSION,
  type TokenizeCorpusOptions,
  type TokenizedCorpus,
  type TokenStore,
} from './tokenized';
export { splitDocuments, validationCount, type DocumentSplit } from './split';
export { buildEpochPlan, checkExampleConfig, maskRow, writeExample, type EpochPlan, type ExampleConfig, type ExampleRows, type Vocabulary } from './examples';
export { allocateBatch, BatchIterator, type Batch, type BatchConfig, type BatchIteratorState } from './batches';
export { checkDataFitsModel, evaluationIterator, prepareData, type DataTrainingSettings, type PrepareDataOptions, type PreparedData } from './pipeline';
export { checkCorpusPaths, nodeCorpusFs, type CorpusFs, type PathKind } from './corpus-check';
export { MAX_UNK_SHARE, notTextMessage, sniffFile, sniffText, unkShare, type TextSniff } from './text-check';
export {
  checkShardFiles,
  DEFAULT_SEQUENCES_PER_SHARD,
  expectedShardFiles,
  parseShardIndex,
  planShards,
  readShardIndex,
  readShardRows,
  readTrainStates,
  SHARD_ARRAYS,
  SHARD_FORMAT,
  SHARD_FORMAT_VERSION,
  shardContentSha256,
  ShardIndexError,
  shardKey,
  verifyShards,
  writeShards,
  type ShardArrayName,
  type ShardDtype,
  type ShardFile,
  type ShardIndex,
  type ShardOptions,
  type ShardPlan,
  type ShardSplitInfo,
  type ShardSplitName,
  type VerifyResult,
  type WriteShardsOptions,
  type WriteShardsResult,
} from './shards';
