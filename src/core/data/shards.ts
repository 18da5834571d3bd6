/**
 * Binary shards of the training and validation streams (`convbert prepare`), the contract the PyTorch workers
 * memory-map (docs/torch-engine.md, "Shards"):
 *
 *   DIR/index.json                 what is in the folder: `key` (of everything that decides the content), sizes, dtypes
 *   DIR/train/<array>.<k>.bin      rows [k·R, min((k+1)·R, N)) of the training stream, raw little-endian C order
 *   DIR/validation/<array>.<k>.bin the validation rows
 *   DIR/train-states.json          the batch iterator's state before every step (steps + 1 entries)
 *
 * The training stream is the TF.js engine's `BatchIterator` from its initial state, row after row (how it is cut into
 * batches does not change it); step t consumes rows [t·G, (t+1)·G), G = batchSize × gradientAccumulation × worldSize.
 * The writer streams (a chunk of rows at a time, never the whole stream in memory) into a hidden temporary folder
 * next to the target, fsyncs it and renames it into place, so a killed prepare never leaves a folder that would be
 * reused. A folder whose `key` matches and whose files all have their recorded sizes is reused as it is.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainingFlopsPerStep, totalTrainingSteps } from '../cost/budget';
import type { ResolvedSpec } from '../spec/resolve';
import { isRecord } from '../json';
import { Rng } from '../rng';
import type { Batch } from '../batch';
import { BatchIterator, type BatchIteratorState } from './batches';
import { checkDataFitsModel, evaluationIterator, prepareData, type PreparedData } from './pipeline';
import { tokenCacheKey, TOKEN_CACHE_VERSION } from './tokenized';

export const SHARD_FORMAT = 'convbert-shards';
export const SHARD_FORMAT_VERSION = 1;
/** Rows per shard file unless told otherwise (R in the contract). */
export const DEFAULT_SEQUENCES_PER_SHARD = 65536;
/** Most rows the writer asks the iterator for at once. */
const MAX_CHUNK_ROWS = 1024;

export const SHARD_ARRAYS = ['input_ids', 'token_type_ids', 'attention_mask', 'masked_positions', 'masked_labels', 'masked_weights', 'nsp_labels'] as const;
export type ShardArrayName = (typeof SHARD_ARRAYS)[number];
export type ShardDtype = 'uint8' | 'uint16' | 'int32';
export type ShardSplitName = 'train' | 'validation';

const DTYPE_BYTES: Record<ShardDtype, number> = { uint8: 1, uint16: 2, int32: 4 };

export interface ShardSplitInfo {
  sequences: number;
  sequencesPerShard: number;
  shards: number;
}

export interface ShardFile {
  /** Relative to the folder, with `/`. */
  path: string;
  bytes: number;
}

export interface ShardIndex {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_FORMAT_VERSION;
  key: string;
  contentSha256: string;
  sequenceLength: number;
  maxPredictions: number;
  nsp: boolean;
  /** The tokenizer's pieces (ids are below it); at most the model's `vocabSize`. Decides `input_ids`' dtype. */
  vocabSize: number;
  arrays: Partial<Record<ShardArrayName, ShardDtype>>;
  train: ShardSplitInfo;
  validation: ShardSplitInfo & { fromTraining: boolean };
  steps: number;
  /** batchSize × gradientAccumulation × worldSize. */
  sequencesPerStep: number;
  /** Per rank. */
  batchSize: number;
  gradientAccumulation: number;
  worldSize: number;
  evalBatches: number;
  /** The `.bin` files, in the order `contentSha256` hashes them. */
  files: ShardFile[];
  /** `train-states.json` (not part of `contentSha256`; its size is checked on reuse). */
  trainStates: ShardFile;
  createdAt: string;
  createdBy: string;
}

export interface ShardOptions {
  /** Ranks the run will train on (default 1): a step is batchSize × gradientAccumulation × worldSize rows. */
  worldSize?: number;
  /** Total steps instead of `training.steps` / the FLOP budget (`--steps`). */
  steps?: number;
  /** Rows per shard file (default `DEFAULT_SEQUENCES_PER_SHARD`). */
  sequencesPerShard?: number;
}

/** Everything about the folder that is known before anything is written. */
export interface ShardPlan {
  key: string;
  index: Omit<ShardIndex, 'key' | 'contentSha256' | 'createdAt' | 'createdBy' | 'trainStates'>;
  trainIterator: BatchIterator;
  validationIterator: BatchIterator;
}

/** A broken or foreign `index.json` (or shard folder): one line, naming the file. */
export class ShardIndexError extends Error {}

/** The arrays of a shards folder and their dtypes (docs/torch-engine.md): ids in 16 bits while the vocabulary fits. */
function arrayTypes(vocabSize: number, nsp: boolean): Partial<Record<ShardArrayName, ShardDtype>> {
  const idType: ShardDtype = vocabSize <= 65536 ? 'uint16' : 'int32';
  return {
    input_ids: idType,
    token_type_ids: 'uint8',
    attention_mask: 'uint8',
    masked_positions: 'int32',
    masked_labels: idType,
    masked_weights: 'uint8',
    ...(nsp ? { nsp_labels: 'uint8' as const } : {}),
  };
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive whole number (got ${value})`);
  return value;
}

function splitInfo(sequences: number, sequencesPerShard: number): ShardSplitInfo {
  return { sequences, sequencesPerShard, shards: Math.ceil(sequences / sequencesPerShard) };
}

function rowWidth(name: ShardArrayName, S: number, P: number): number {
  if (name === 'nsp_labels') return 1;
  return name === 'input_ids' || name === 'token_type_ids' || name === 'attention_mask' ? S : P;
}

function shardName(k: number): string {
  return String(k).padStart(5, '0');
}

/** The `.bin` files of an index's layout, in the contract's order (split, shard, array). */
export function expectedShardFiles(index: Pick<ShardIndex, 'arrays' | 'train' | 'validation' | 'sequenceLength' | 'maxPredictions'>): ShardFile[] {
  const files: ShardFile[] = [];
  for (const split of ['train', 'validation'] as const) {
    const info = index[split];
    for (let k = 0; k < info.shards; k++) {
      const rows = Math.min(info.sequencesPerShard, info.sequences - k * info.sequencesPerShard);
      for (const name of SHARD_ARRAYS) {
        const dtype = index.arrays[name];
        if (!dtype) continue;
        files.push({ path: `${split}/${name}.${shardName(k)}.bin`, bytes: rows * rowWidth(name, index.sequenceLength, index.maxPredictions) * DTYPE_BYTES[dtype] });
      }
    }
  }
  return files;
}

/** A fresh iterator over the same stream as `it`, from its initial state, handing out `rows` rows per `next()`. */
function streamCopy(it: BatchIterator, rows: number): BatchIterator {
  return new BatchIterator(it.corpus, it.documents, it.vocab, { ...it.config, batchSize: rows });
}

function digestInts(a: Int32Array): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}

/**
 * The layout, key and iterators of the shards of `spec` over `data`, without writing anything. Throws (one line)
 * when the data does not fit the spec.
 */
export function planShards(spec: ResolvedSpec, data: PreparedData, opts: ShardOptions = {}): ShardPlan {
  const t = spec.training;
  const worldSize = positiveInt('worldSize', opts.worldSize ?? 1);
  const sequencesPerShard = positiveInt('sequencesPerShard', opts.sequencesPerShard ?? DEFAULT_SEQUENCES_PER_SHARD);
  if (opts.steps !== undefined) positiveInt('steps', opts.steps);
  const nsp = spec.model.heads.nsp;
  const cfg = data.train.config;
  if (cfg.sequenceLength !== t.sequenceLength || cfg.maxPredictions !== t.maxPredictions || cfg.nsp !== nsp) {
    throw new Error(
      `the prepared data (sequence length ${cfg.sequenceLength}, ${cfg.maxPredictions} predictions, ${cfg.nsp ? 'with' : 'without'} NSP) does not match the spec (${t.sequenceLength}, ${t.maxPredictions}, ${nsp ? 'with' : 'without'} NSP)`,
    );
  }
  checkDataFitsModel(spec.model, t.sequenceLength, data.tokenizer.vocabSize);

  const accumulation = Math.max(1, t.gradientAccumulation);
  const batchSize = t.batchSize;
  const sequencesPerStep = batchSize * accumulation * worldSize;
  const { steps } = totalTrainingSteps(t, trainingFlopsPerStep(spec, worldSize), opts.steps);
  const evalBatches = Math.max(1, t.evalBatches); // as the masked-LM job's evaluate
  // The validation stream, or its stand-in when there is no validation split: what the masked-LM job evaluates on.
  const { iterator: validation, fromTraining } = evaluationIterator(data);
  const arrays = arrayTypes(data.tokenizer.vocabSize, nsp);
  const layout = {
    sequenceLength: t.sequenceLength,
    maxPredictions: t.maxPredictions,
    nsp,
    vocabSize: data.tokenizer.vocabSize,
    arrays,
    train: splitInfo(steps * sequencesPerStep, sequencesPerShard),
    validation: { ...splitInfo(evalBatches * batchSize, sequencesPerShard), fromTraining },
  };
  const index: ShardPlan['index'] = {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    ...layout,
    steps,
    sequencesPerStep,
    batchSize,
    gradientAccumulation: accumulation,
    worldSize,
    evalBatches,
    files: expectedShardFiles(layout),
  };
  const streamConfig = (it: BatchIterator) => {
    const c = it.config;
    // Every setting of the stream but the iterator's own batch size (which does not change the rows).
    return { S: c.sequenceLength, P: c.maxPredictions, maskRate: c.maskRate, nsp: c.nsp, seed: c.seed, stream: c.stream ?? 0, shortSeqProb: c.shortSeqProb, randomNextProb: c.randomNextProb, minFill: c.minFill, documents: digestInts(it.documents) };
  };
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        format: SHARD_FORMAT,
        version: SHARD_FORMAT_VERSION,
        tokens: TOKEN_CACHE_VERSION,
        // Corpus content hash + vocabulary + tokenizer settings.
        corpus: tokenCacheKey(data.corpusHash, data.tokenizer),
        train: streamConfig(data.train),
        validation: streamConfig(validation),
        index: { ...index, files: undefined },
      }),
    )
    .digest('hex');
  return { key, index, trainIterator: data.train, validationIterator: validation };
}

/** The `key` the shards of `spec` over `data` would have, without writing anything. */
export function shardKey(spec: ResolvedSpec, data: PreparedData, opts: ShardOptions = {}): string {
  return planShards(spec, data, opts).key;
}

// ---------------------------------------------------------------------------------------------------------------
// index.json: reading and validating (untrusted input)

const HEX64 = /^[0-9a-f]{64}$/;
const FILE_PATH = /^(train|validation)\/[a-z_]+\.\d{5}\.bin$/;

function fail(file: string, what: string): never {
  throw new ShardIndexError(`${file}: ${what}`);
}

function checkInt(file: string, where: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(file, `${where} must be a whole number ≥ ${min} (got ${JSON.stringify(v)})`);
  return v;
}

function checkFile(file: string, where: string, v: unknown, pattern: RegExp): ShardFile {
  if (!isRecord(v) || typeof v.path !== 'string' || !pattern.test(v.path)) fail(file, `${where} must be {path, bytes} with a path inside the folder (got ${JSON.stringify(v)?.slice(0, 80)})`);
  return { path: v.path, bytes: checkInt(file, `${where}.bytes`, v.bytes, 0) };
}

function checkSplit(file: string, name: ShardSplitName, v: unknown): ShardSplitInfo {
  if (!isRecord(v)) fail(file, `"${name}" is missing or not an object`);
  const sequences = checkInt(file, `${name}.sequences`, v.sequences, 0);
  const sequencesPerShard = checkInt(file, `${name}.sequencesPerShard`, v.sequencesPerShard, 1);
  const shards = checkInt(file, `${name}.shards`, v.shards, 0);
  if (shards !== Math.ceil(sequences / sequencesPerShard)) fail(file, `${name}.shards is ${shards}, but ${sequences} sequences at ${sequencesPerShard} per shard make ${Math.ceil(sequences / sequencesPerShard)}`);
  return { sequences, sequencesPerShard, shards };
}

/** Validates a parsed index.json (`file` names it in errors). */
export function parseShardIndex(value: unknown, file = 'index.json'): ShardIndex {
  if (!isRecord(value)) fail(file, 'not a JSON object');
  if (value.format !== SHARD_FORMAT) fail(file, `not a convbert shards index (format ${JSON.stringify(value.format)})`);
  if (value.version !== SHARD_FORMAT_VERSION) fail(file, `shards format version ${JSON.stringify(value.version)} is not the supported ${SHARD_FORMAT_VERSION}; run convbert prepare again`);
  for (const k of ['key', 'contentSha256'] as const) if (typeof value[k] !== 'string' || !HEX64.test(value[k])) fail(file, `${k} must be a sha256 hex digest`);
  const sequenceLength = checkInt(file, 'sequenceLength', value.sequenceLength, 1);
  const maxPredictions = checkInt(file, 'maxPredictions', value.maxPredictions, 1);
  if (typeof value.nsp !== 'boolean') fail(file, 'nsp must be true or false');
  const nsp = value.nsp;
  const vocabSize = checkInt(file, 'vocabSize', value.vocabSize, 1);
  if (!isRecord(value.arrays)) fail(file, 'arrays is missing');
  const arrays: ShardIndex['arrays'] = {};
  const want: Partial<Record<ShardArrayName, ShardDtype>> = arrayTypes(vocabSize, nsp);
  for (const name of Object.keys(value.arrays)) if (!(SHARD_ARRAYS as readonly string[]).includes(name)) fail(file, `unknown array "${name}"`);
  for (const name of SHARD_ARRAYS) {
    const got = value.arrays[name];
    if (got !== want[name]) fail(file, `arrays.${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(want[name])}`);
    if (want[name]) arrays[name] = want[name];
  }
  const train = checkSplit(file, 'train', value.train);
  const validationInfo = checkSplit(file, 'validation', value.validation);
  const v = value.validation as Record<string, unknown>;
  if (typeof v.fromTraining !== 'boolean') fail(file, 'validation.fromTraining must be true or false');
  const validation = { ...validationInfo, fromTraining: v.fromTraining };
  const steps = checkInt(file, 'steps', value.steps, 1);
  const batchSize = checkInt(file, 'batchSize', value.batchSize, 1);
  const gradientAccumulation = checkInt(file, 'gradientAccumulation', value.gradientAccumulation, 1);
  const worldSize = checkInt(file, 'worldSize', value.worldSize, 1);
  const evalBatches = checkInt(file, 'evalBatches', value.evalBatches, 1);
  const sequencesPerStep = checkInt(file, 'sequencesPerStep', value.sequencesPerStep, 1);
  if (sequencesPerStep !== batchSize * gradientAccumulation * worldSize) fail(file, `sequencesPerStep ${sequencesPerStep} is not batchSize × gradientAccumulation × worldSize (${batchSize * gradientAccumulation * worldSize})`);
  if (train.sequences !== steps * sequencesPerStep) fail(file, `train.sequences ${train.sequences} is not steps × sequencesPerStep (${steps * sequencesPerStep})`);
  if (validation.sequences !== evalBatches * batchSize) fail(file, `validation.sequences ${validation.sequences} is not evalBatches × batchSize (${evalBatches * batchSize})`);
  if (!Array.isArray(value.files)) fail(file, 'files must be a list');
  const files = value.files.map((f, i) => checkFile(file, `files[${i}]`, f, FILE_PATH));
  const expected = expectedShardFiles({ arrays, train, validation, sequenceLength, maxPredictions });
  if (files.length !== expected.length || files.some((f, i) => f.path !== expected[i]!.path || f.bytes !== expected[i]!.bytes)) {
    fail(file, `files do not list the ${expected.length} .bin files (with their sizes) that its shapes call for`);
  }
  const trainStates = checkFile(file, 'trainStates', value.trainStates, /^train-states\.json$/);
  const str = (k: string): string => {
    const s = value[k];
    return typeof s === 'string' ? s : fail(file, `${k} must be a string`);
  };
  return {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    key: value.key as string,
    contentSha256: value.contentSha256 as string,
    sequenceLength,
    maxPredictions,
    nsp,
    vocabSize,
    arrays,
    train,
    validation,
    steps,
    sequencesPerStep,
    batchSize,
    gradientAccumulation,
    worldSize,
    evalBatches,
    files,
    trainStates,
    createdAt: str('createdAt'),
    createdBy: str('createdBy'),
  };
}

/** Reads and validates `dir/index.json`; throws a `ShardIndexError` with one line naming the file. */
export function readShardIndex(dir: string): ShardIndex {
  const file = path.join(dir, 'index.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ShardIndexError(code === 'ENOENT' ? `${dir}: no index.json (not a shards folder; write one with convbert prepare)` : `${file}: cannot read (${code ?? String(e)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  return parseShardIndex(value, file);
}

/** Why the folder's files do not match its index (a missing or short file), or undefined when they all do. */
export function checkShardFiles(dir: string, index: ShardIndex): string | undefined {
  for (const f of [...index.files, index.trainStates]) {
    let size: number;
    try {
      size = fs.statSync(path.join(dir, f.path)).size;
    } catch {
      return `${f.path} is missing`;
    }
    if (size !== f.bytes) return `${f.path} has ${size} bytes, not ${f.bytes}`;
  }
  return undefined;
}

/** sha256 of the `.bin` files' bytes, in the order of `index.files`. */
export async function shardContentSha256(dir: string, files: readonly ShardFile[]): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const f of files) {
    const fd = fs.openSync(path.join(dir, f.path), 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        await yieldNow();
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return hash.digest('hex');
}

export interface VerifyResult {
  ok: boolean;
  /** What is wrong (a file's size, or the content hash), when not ok. */
  problem?: string;
  index: ShardIndex;
}

/** Checks the index, every file's size and `contentSha256` (reads every byte). */
export async function verifyShards(dir: string): Promise<VerifyResult> {
  const index = readShardIndex(dir);
  const sizes = checkShardFiles(dir, index);
  if (sizes) return { ok: false, problem: sizes, index };
  const actual = await shardContentSha256(dir, index.files);
  if (actual !== index.contentSha256) return { ok: false, problem: `the content hash is ${actual}, index.json records ${index.contentSha256}`, index };
  return { ok: true, index };
}

/** Reads and checks `train-states.json` (steps + 1 iterator states). */
export function readTrainStates(dir: string, index: ShardIndex): BatchIteratorState[] {
  const file = path.join(dir, index.trainStates.path);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `cannot read (${(e as Error).message})`);
  }
  if (!Array.isArray(value) || value.length !== index.steps + 1) fail(file, `must hold ${index.steps + 1} iterator states`);
  return value.map((s, i) => {
    if (!isRecord(s) || !Number.isSafeInteger(s.epoch) || !Number.isSafeInteger(s.position)) fail(file, `entry ${i} is not an iterator state {epoch, position, rng}`);
    let rng: BatchIteratorState['rng'];
    try {
      rng = Rng.fromState(s.rng as BatchIteratorState['rng']).state();
    } catch (e) {
      fail(file, `entry ${i}: ${(e as Error).message}`);
    }
    return { epoch: s.epoch as number, position: s.position as number, rng };
  });
}

/** Rows [start, start + count) of a split, widened to the `Batch` the TF.js job uses (for tests and checks). */
export function readShardRows(dir: string, index: ShardIndex, split: ShardSplitName, start: number, count: number): Batch {
  const info = index[split];
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > info.sequences) {
    throw new RangeError(`rows ${start}…${start + count} are outside the ${info.sequences} rows of ${split}`);
  }
  const S = index.sequenceLength;
  const P = index.maxPredictions;
  const read = (name: ShardArrayName): Int32Array => {
    const dtype = index.arrays[name]!;
    const w = rowWidth(name, S, P);
    const bytes = DTYPE_BYTES[dtype];
    const out = new Int32Array(count * w);
    let row = start;
    while (row < start + count) {
      const k = Math.floor(row / info.sequencesPerShard);
      const inShard = row - k * info.sequencesPerShard;
      const n = Math.min(start + count - row, info.sequencesPerShard - inShard);
      const buf = Buffer.alloc(n * w * bytes);
      const fd = fs.openSync(path.join(dir, split, `${name}.${shardName(k)}.bin`), 'r');
      try {
        const got = fs.readSync(fd, buf, 0, buf.length, inShard * w * bytes);
        if (got !== buf.length) throw new ShardIndexError(`${split}/${name}.${shardName(k)}.bin is shorter than index.json says`);
      } finally {
        fs.closeSync(fd);
      }
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
      const src = dtype === 'uint8' ? new Uint8Array(ab) : dtype === 'uint16' ? new Uint16Array(ab) : new Int32Array(ab);
      out.set(src, (row - start) * w);
      row += n;
    }
    return out;
  };
  return {
    inputIds: read('input_ids'),
    tokenTypeIds: read('token_type_ids'),
    attentionMask: read('attention_mask'),
    maskedPositions: read('masked_positions'),
    maskedLabels: read('masked_labels'),
    maskedWeights: Float32Array.from(read('masked_weights')),
    ...(index.nsp ? { nspLabels: read('nsp_labels') } : {}),
    batchSize: count,
    sequenceLength: S,
    maxPredictions: P,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

function yieldNow(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

const BATCH_FIELD: Record<ShardArrayName, keyof Batch> = {
  input_ids: 'inputIds',
  token_type_ids: 'tokenTypeIds',
  attention_mask: 'attentionMask',
  masked_positions: 'maskedPositions',
  masked_labels: 'maskedLabels',
  masked_weights: 'maskedWeights',
  nsp_labels: 'nspLabels',
};

function typedArray(dtype: ShardDtype, length: number): Uint8Array | Uint16Array | Int32Array {
  return dtype === 'uint8' ? new Uint8Array(length) : dtype === 'uint16' ? new Uint16Array(length) : new Int32Array(length);
}

/** Writes one split's rows into its shard files, a chunk at a time, opening and fsyncing shard after shard. */
class SplitWriter {
  private shard = -1;
  private rowsInShard = 0;
  private fds = new Map<ShardArrayName, number>();
  private readonly names: ShardArrayName[];
  private readonly buffers = new Map<ShardArrayName, Uint8Array | Uint16Array | Int32Array>();

  constructor(
    private readonly dir: string,
    private readonly split: ShardSplitName,
    private readonly index: ShardPlan['index'],
    chunkRows: number,
  ) {
    this.names = SHARD_ARRAYS.filter((n) => index.arrays[n] !== undefined);
    for (const n of this.names) this.buffers.set(n, typedArray(index.arrays[n]!, chunkRows * rowWidth(n, index.sequenceLength, index.maxPredictions)));
    fs.mkdirSync(path.join(dir, split), { recursive: true });
  }

  /** Appends rows [from, from + count) of `batch`. */
  write(batch: Batch, from: number, count: number): void {
    const R = this.index[this.split].sequencesPerShard;
    while (count > 0) {
      if (this.shard < 0 || this.rowsInShard === R) this.open();
      const n = Math.min(count, R - this.rowsInShard);
      for (const name of this.names) {
        const w = rowWidth(name, this.index.sequenceLength, this.index.maxPredictions);
        const src = batch[BATCH_FIELD[name]] as Int32Array | Float32Array;
        const dst = this.buffers.get(name)!.subarray(0, n * w);
        dst.set(src.subarray(from * w, (from + n) * w));
        fs.writeSync(this.fds.get(name)!, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
      }
      this.rowsInShard += n;
      from += n;
      count -= n;
    }
  }

  private open(): void {
    this.closeShard();
    this.shard++;
    this.rowsInShard = 0;
    for (const name of this.names) this.fds.set(name, fs.openSync(path.join(this.dir, this.split, `${name}.${shardName(this.shard)}.bin`), 'wx'));
  }

  private closeShard(): void {
    for (const fd of this.fds.values()) {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    this.fds.clear();
  }

  /** Closes (and fsyncs) the open shard. */
  finish(): void {
    this.closeShard();
  }

  /** On failure: closes without syncing. */
  abort(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

/** The largest divisor of `g` that is at most `max`: chunks that end on step boundaries. */
function chunkFor(g: number, max: number): number {
  if (g <= max) return g;
  for (let c = max; c > 1; c--) if (g % c === 0) return c;
  return 1;
}

function fsyncDir(dir: string): void {
  // Directories cannot be opened for fsync on Windows; there the rename is what we have.
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Hidden siblings a prepare writes into (`.<name>.partial-<pid>-<hex>`) or moves an old folder to (`.old-`). */
function tempName(target: string, kind: 'partial' | 'old'): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Removes what killed prepares of `target` left behind (their processes are gone). */
function removeStaleTemps(target: string): void {
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(partial|old)-(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (m && !processAlive(Number(m[2]))) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

export interface WriteShardsOptions extends ShardOptions {
  spec: ResolvedSpec;
  /** The target folder. */
  outDir: string;
  /** Prepared data (tests, the CLI); without it, `prepareData` runs on the spec and is closed afterwards. */
  data?: PreparedData;
  /** For `prepareData`: the spec file's folder (default: the working directory) and the cache folder. */
  specDir?: string;
  cacheDir?: string;
  /** Rows written of the total, after every chunk. */
  onProgress?: (written: number, total: number) => void;
  /** Data pipeline messages (corpus, tokenizer) and what the writer does. */
  onLog?: (message: string) => void;
  onWarning?: (message: string, hint?: string) => void;
  /** Recorded in index.json (default "convbert"). */
  createdBy?: string;
}

export interface WriteShardsResult {
  dir: string;
  index: ShardIndex;
  /** The folder already held these shards: nothing was written. */
  reused: boolean;
  /** Bytes of the `.bin` files. */
  bytes: number;
  /** Rows in both splits. */
  rows: number;
}

function resultOf(dir: string, index: ShardIndex, reused: boolean): WriteShardsResult {
  return { dir, index, reused, bytes: index.files.reduce((s, f) => s + f.bytes, 0), rows: index.train.sequences + index.validation.sequences };
}

/**
 * Writes (or reuses) the shards of `spec` in `outDir`. A folder that holds something else than shards is refused
 * (never overwritten); shards with another key are replaced, atomically.
 */
export async function writeShards(opts: WriteShardsOptions): Promise<WriteShardsResult> {
  if (os.endianness() !== 'LE') throw new Error('shards are little-endian and this machine is not');
  const target = path.resolve(opts.outDir);
  const log = opts.onLog ?? (() => {});
  // What is there now, checked before the (possibly long) data preparation: shards (reused or replaced), nothing,
  // an empty folder, or something that is not ours (refused).
  let old: ShardIndex | undefined;
  let existing = false;
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new Error(`${target} exists and is not a folder`);
    if (fs.existsSync(path.join(target, 'index.json'))) {
      try {
        old = readShardIndex(target);
      } catch (e) {
        throw new Error(`${(e as Error).message}; remove ${target} or choose another folder`);
      }
    } else if (fs.readdirSync(target).length > 0) {
      throw new Error(`${target} exists and is not a shards folder (no index.json); choose another folder or empty it`);
    }
    existing = true;
  }
  const data =
    opts.data ??
    (await prepareData({
      training: opts.spec.training,
      specDir: opts.specDir ?? process.cwd(),
      nsp: opts.spec.model.heads.nsp,
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      onProgress: log,
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    }));
  try {
    const plan = planShards(opts.spec, data, opts);
    if (plan.index.validation.fromTraining) (opts.onWarning ?? ((m: string) => log(`warning: ${m}`)))('there is no validation split: the validation shards are drawn from training documents (as the TF.js job evaluates)', 'raise training.validationFraction, or give a corpus with more documents');

    if (old) {
      if (old.key === plan.key) {
        const problem = checkShardFiles(target, old);
        if (!problem) return resultOf(target, old, true);
        log(`the shards in ${target} are incomplete (${problem}): writing them again`);
      } else log(`the shards in ${target} were written for other settings: replacing them`);
    }

    fs.mkdirSync(path.dirname(target), { recursive: true });
    removeStaleTemps(target);
    const temp = tempName(target, 'partial');
    fs.mkdirSync(temp);
    try {
      const index = await writeInto(temp, plan, opts.createdBy ?? 'convbert', opts.onProgress);
      fsyncDir(temp);
      if (existing) {
        const aside = tempName(target, 'old');
        fs.renameSync(target, aside);
        fs.renameSync(temp, target);
        fs.rmSync(aside, { recursive: true, force: true });
      } else {
        try {
          fs.renameSync(temp, target);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
          throw new Error(`${target} was created by someone else while the shards were written; run again`);
        }
      }
      fsyncDir(path.dirname(target));
      return resultOf(target, index, false);
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
  } finally {
    if (!opts.data) data.close();
  }
}

async function writeInto(dir: string, plan: ShardPlan, createdBy: string, onProgress?: (written: number, total: number) => void): Promise<ShardIndex> {
  const { index } = plan;
  const G = index.sequencesPerStep;
  const total = index.train.sequences + index.validation.sequences;
  let written = 0;
  let lastYield = Date.now();
  const progress = async () => {
    onProgress?.(written, total);
    if (Date.now() - lastYield > 50) {
      await yieldNow();
      lastYield = Date.now();
    }
  };

  // Training rows, with the iterator state at every step boundary, streamed to train-states.json.
  const chunk = chunkFor(G, MAX_CHUNK_ROWS);
  const train = streamCopy(plan.trainIterator, chunk);
  const statesPath = path.join(dir, 'train-states.json');
  const statesFd = fs.openSync(statesPath, 'wx');
  const trainWriter = new SplitWriter(dir, 'train', index, chunk);
  try {
    fs.writeSync(statesFd, `[\n${JSON.stringify(train.state())}`);
    for (let row = 0; row < index.train.sequences; row += chunk) {
      trainWriter.write(train.next(), 0, chunk);
      written += chunk;
      if ((row + chunk) % G === 0) fs.writeSync(statesFd, `,\n${JSON.stringify(train.state())}`);
      await progress();
    }
    fs.writeSync(statesFd, '\n]\n');
    fs.fsyncSync(statesFd);
    trainWriter.finish();
  } catch (e) {
    trainWriter.abort();
    throw e;
  } finally {
    fs.closeSync(statesFd);
  }

  // Validation rows: the validation iterator from its start.
  const V = index.validation.sequences;
  const vChunk = Math.min(V, MAX_CHUNK_ROWS);
  const validation = streamCopy(plan.validationIterator, vChunk);
  const validationWriter = new SplitWriter(dir, 'validation', index, vChunk);
  try {
    for (let row = 0; row < V; row += vChunk) {
      const n = Math.min(vChunk, V - row);
      validationWriter.write(validation.next(), 0, n);
      written += n;
      await progress();
    }
    validationWriter.finish();
  } catch (e) {
    validationWriter.abort();
    throw e;
  }

  const full: ShardIndex = {
    ...index,
    key: plan.key,
    contentSha256: await shardContentSha256(dir, index.files),
    trainStates: { path: 'train-states.json', bytes: fs.statSync(statesPath).size },
    createdAt: new Date().toISOString(),
    createdBy,
  };
  const problem = checkShardFiles(dir, full);
  if (problem) throw new Error(`writing the shards went wrong: ${problem}`);
  const indexFd = fs.openSync(path.join(dir, 'index.json'), 'wx');
  try {
    fs.writeSync(indexFd, `${JSON.stringify(full, null, 2)}\n`);
    fs.fsyncSync(indexFd);
  } finally {
    fs.closeSync(indexFd);
  }
  for (const sub of ['train', 'validation']) fsyncDir(path.join(dir, sub));
  return full;
}
