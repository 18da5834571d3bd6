/**
 * Batches for masked-LM (+ NSP) pretraining and their resumable iterator. The iterator's state is
 * `{epoch, position, rng}`: the epoch's plan is recomputed from (seed, epoch), `position` is the next chunk in it,
 * and `rng` is the generator that draws random-next documents and masks. Restoring a saved state therefore
 * continues with exactly the batches an uninterrupted run would have produced.
 */
import { buildEpochPlan, checkExampleConfig, writeExample, type EpochPlan, type ExampleConfig, type ExampleRows, type Vocabulary } from './examples';
import { Rng, type RngState } from '../rng';
import type { TokenizedCorpus } from './tokenized';
import { allocateBatch, type Batch } from '../batch';

export { allocateBatch, type Batch };

export interface BatchIteratorState {
  epoch: number;
  position: number;
  rng: RngState;
}

export interface BatchConfig extends ExampleConfig {
  batchSize: number;
  seed: number;
  /** Separates the random streams of different iterators on the same seed (e.g. training 0, validation 1). */
  stream?: number;
}

const PLAN_STREAM = 0x504c414e; // "PLAN"
const EXAMPLE_STREAM = 0x4558414d; // "EXAM"

export class BatchIterator {
  private plan: EpochPlan | undefined;
  private planEpoch = -1;
  private epoch = 0;
  private position = 0;
  private rng: Rng;
  private readonly initial: BatchIteratorState;

  constructor(
    readonly corpus: TokenizedCorpus,
    /** The documents this iterator draws from (sorted indices). */
    readonly documents: Int32Array,
    readonly vocab: Vocabulary,
    readonly config: BatchConfig,
  ) {
    checkExampleConfig(config);
    if (!Number.isInteger(config.batchSize) || config.batchSize < 1) throw new RangeError(`batchSize must be a positive integer (got ${config.batchSize})`);
    if (documents.length === 0) throw new Error('No documents to draw batches from (the corpus or this split is empty).');
    this.rng = Rng.fromSeed(config.seed, EXAMPLE_STREAM, config.stream ?? 0);
    this.initial = this.state();
  }

  private planFor(epoch: number): EpochPlan {
    if (!this.plan || this.planEpoch !== epoch) {
      this.plan = buildEpochPlan(this.corpus, this.documents, this.config, Rng.fromSeed(this.config.seed, PLAN_STREAM, this.config.stream ?? 0, epoch));
      this.planEpoch = epoch;
      if (this.plan.length === 0) throw new Error('The documents hold no tokens.');
    }
    return this.plan;
  }

  /** Chunks (sequences) in the current epoch. */
  get examplesInEpoch(): number {
    return this.planFor(this.epoch).length;
  }

  /** The state before the next batch: save it with a checkpoint. */
  state(): BatchIteratorState {
    return { epoch: this.epoch, position: this.position, rng: this.rng.state() };
  }

  /** Continues from a saved state. */
  restore(state: BatchIteratorState): void {
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0) {
      throw new Error(`invalid batch iterator state ${JSON.stringify(state)}`);
    }
    const rng = Rng.fromState(state.rng);
    if (state.position > this.planFor(state.epoch).length) throw new Error(`batch iterator state position ${state.position} is past the end of epoch ${state.epoch} (${this.planFor(state.epoch).length} sequences): was it saved for another corpus or configuration?`);
    this.epoch = state.epoch;
    this.position = state.position;
    this.rng = rng;
  }

  /** Back to the first batch (e.g. to evaluate on the same validation batches every time). */
  reset(): void {
    this.restore(this.initial);
  }

  next(): Batch {
    const { batchSize, sequenceLength, maxPredictions, nsp } = this.config;
    const batch = allocateBatch(batchSize, sequenceLength, maxPredictions, nsp);
    const rows: ExampleRows = batch;
    for (let row = 0; row < batchSize; row++) {
      let plan = this.planFor(this.epoch);
      if (this.position >= plan.length) {
        this.epoch++;
        this.position = 0;
        plan = this.planFor(this.epoch);
      }
      writeExample(plan, this.position, row, rows, this.corpus, this.documents, this.vocab, this.config, this.rng);
      this.position++;
    }
    return batch;
  }
}
