/**
 * What the training loop (`src/engines/trainer/loop.ts`) drives: a `TrainingJob` owns a model, its data and its
 * optimizer; the loop owns the schedule, the step count, stop/pause, evaluation and checkpoint timing, the run
 * directory and the protocol. The masked-LM job built from `core/model` + `core/data` implements this; so does
 * the linear-regression job in `toy-job.ts` that the tests train.
 */
import type { ResolvedSpec } from '../spec/resolve';
import type { Json } from '../json';
import type { ModelProbe } from './probe-format';
import type { OptimizerState, OptimizerType } from './optimizer';
import type { Rng } from '../rng';
import type { HostTensorMap } from './tensors';

/**
 * The job's own types for what it reports, so core does not import the protocol; they are assignable to the
 * protocol's `LogLevel` and `Summary` (src/protocol/messages.ts), which the trainer loop forwards them as.
 */
export type JobLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type JobSummary = Record<string, number | string | boolean | null>;
export type { Json };

export interface JobContext {
  spec: ResolvedSpec;
  /** Absolute path of the run directory. */
  runDir: string;
  /** The engine's backend in use (a TF.js backend, or a PyTorch device). */
  backend: string;
  /**
   * Seeded from `spec.training.seed`; the loop saves and restores its state with every checkpoint, so a job
   * that draws initialisation and dropout seeds from it replays them on resume.
   */
  rng: Rng;
  log(level: JobLogLevel, message: string): void;
  warn(message: string, hint?: string): void;
  /**
   * Where the tokenizer and tokenized corpus are cached (the engine derives it from the run directory's place,
   * src/run-format `defaultCacheDir`); none: no cache unless the job's options name one.
   */
  cacheDir?: string;
  /**
   * Stores a probe in the run directory (the run format's probe files) and returns its path relative to the run
   * directory, '/'-separated. None: probes are computed and summarised, not stored.
   */
  saveProbe?(probe: ModelProbe): Promise<string>;
}

export interface JobInfo {
  parameterCount: number;
  /** Tokens consumed by one optimizer step (batch × sequence × accumulation). */
  tokensPerStep: number;
  /** Training FLOPs of one optimizer step by the cost model (forward + backward); lets `flopBudget` set the steps. */
  flopsPerStep?: number;
  description?: string;
}

export interface StepInput {
  /** 0-based index of this update (the number of updates done before it). */
  step: number;
  learningRate: number;
}

export interface StepMetrics {
  loss: number;
  mlmLoss?: number;
  nspLoss?: number;
  /** Global gradient norm before clipping (from the optimizer: `applyGradients`, or `applyGradientsDeferred` then `settle`). */
  gradNorm: number;
  /** Tokens this step consumed. */
  tokens: number;
  /** Training FLOPs this step did (0 or left out when unknown). */
  flops?: number;
  /** Device memory in use after the step and the peak so far, where the job measures it (PyTorch); else the runtime's. */
  memoryBytes?: number;
  peakMemoryBytes?: number;
}

export interface ProbeResult {
  /** A few numbers worth showing without opening the file. */
  summary: JobSummary;
  /** The probe file's header (its path is in the summary's `file`). */
  data: Json;
}

export interface EvalMetrics {
  /** MLM + NSP when the model has an NSP head. */
  loss: number;
  /** The masked-LM part of `loss`, and the NSP part (with an NSP head). */
  mlmLoss?: number;
  nspLoss?: number;
  mlmAccuracy: number;
  nspAccuracy?: number;
  probes?: ProbeResult;
}

/** Everything the job needs to continue exactly where it was. */
export interface JobState {
  /** Weights as `weights/<name>`, optimizer moments as `optimizer/m/<name>`, `optimizer/v/<name>`. */
  tensors: HostTensorMap;
  optimizer?: Json;
  /** The data iterator's state. */
  data?: Json;
  /** The job's own RNG states, if it keeps any besides `JobContext.rng`. */
  rng?: Json;
  extra?: Json;
}

export interface TrainingJob {
  /** Builds the model (initialising from `ctx.rng`), the data pipeline and the optimizer. */
  init(): Promise<JobInfo>;
  /** One optimizer step (all accumulation micro-batches). */
  step(input: StepInput): Promise<StepMetrics>;
  /** Validation at `step` (updates completed). */
  evaluate(step: number): Promise<EvalMetrics>;
  saveState(): Promise<JobState> | JobState;
  /**
   * Called once after `init` (and before `loadState`) with the run's length, when it is known: `training.steps`, the
   * FLOP budget's steps or the caller's override. Optional: a job that prepares data ahead (the torch engine's
   * shards) needs it. `evaluationOnly`: the job will only load a checkpoint and evaluate (`convbert eval`), no step.
   */
  plan?(run: { totalSteps: number; startStep: number; evaluationOnly?: boolean }): Promise<void> | void;
  /** Called after `init` (and `plan`), before the first `step`, when resuming. */
  loadState(state: JobState): Promise<void> | void;
  dispose(): void;
}

export type JobFactory = (ctx: JobContext) => TrainingJob | Promise<TrainingJob>;

// -------------------------------------------------------------------------------------------------------
// Helpers for jobs

/** Puts an optimizer's exported state into a job state's tensors (prefix `optimizer/`) and JSON. */
export function packOptimizerState(state: OptimizerState, into: HostTensorMap): Json {
  for (const [key, value] of Object.entries(state.tensors)) into[`optimizer/${key}`] = value;
  return { type: state.type, step: state.step };
}

/** The inverse of `packOptimizerState`. */
export function unpackOptimizerState(json: Json | undefined, tensors: HostTensorMap): OptimizerState {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('job state has no optimizer state');
  const { type, step } = json;
  if ((type !== 'adamw' && type !== 'lamb') || typeof step !== 'number') throw new Error('job state has a malformed optimizer state');
  const out: HostTensorMap = {};
  for (const [key, value] of Object.entries(tensors)) if (key.startsWith('optimizer/')) out[key.slice('optimizer/'.length)] = value;
  return { type: type as OptimizerType, step, tensors: out };
}
