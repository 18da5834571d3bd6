/**
 * The messages between the trainer process and its host (the extension host, the CLI, and through the
 * extension host the webview). One definition: the TypeBox schemas below are both the runtime validators
 * (`parse.ts`) and, through `Static<…>`, the TypeScript types. Every message carries `v` (the protocol
 * version) and a `type` that selects its shape.
 *
 * Order of a run, trainer → host: `hello` (the process is ready for `start`), `started` (the run is set up:
 * run id, backend, resume point), then `progress`/`metrics` every step, `eval`/`probes`/`checkpoint` at their
 * intervals, `state` when paused/resumed/stopping, `log`/`warning`/`error` any time, and `done` last.
 *
 * Step numbering: `step` is the number of optimizer updates completed (1 after the first update). A
 * checkpoint at step s holds the state after s updates; resuming from it takes update s+1 next.
 *
 * Numbers are finite everywhere (NaN and ±Infinity are rejected); a diverged run ends with `done`
 * `{ reason: 'nonfinite' }` instead of sending a non-finite metric.
 */
import { Type, type Static, type TLiteral, type TSchema } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1 as const;

/** Longest string field accepted (log lines, error messages, paths). */
export const MAX_TEXT = 65_536;

const Text = (options: { minLength?: number } = {}) => Type.String({ maxLength: MAX_TEXT, ...options });
const Count = () => Type.Integer({ minimum: 0 });
const NonNegative = () => Type.Number({ minimum: 0 });
/** One of a list of string constants. */
const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)) as TLiteral<T>[]);

/** The envelope fields every message has; `time` (ms since the epoch) is stamped by the sender when known. */
function message<T extends string, P extends Record<string, TSchema>>(type: T, props: P, description: string) {
  return Type.Object(
    {
      v: Type.Literal(PROTOCOL_VERSION),
      type: Type.Literal(type),
      time: Type.Optional(NonNegative()),
      ...props,
    },
    { additionalProperties: false, description },
  );
}

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

export const BackendReportSchema = Type.Object(
  {
    /** What the spec or the start options asked for (`auto`, `wasm`, …). */
    requested: Text(),
    /** The TF.js backend that is running the job. */
    name: Text({ minLength: 1 }),
    /** Backends tried before `name` and why each was passed over. */
    skipped: Type.Array(Type.Object({ name: Text(), reason: Text() }, { additionalProperties: false }), { maxItems: 32 }),
    /** Backend-specific facts worth showing: thread count, SIMD, device name… */
    details: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]))),
  },
  { additionalProperties: false },
);
export type BackendReport = Static<typeof BackendReportSchema>;

export const VersionsSchema = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL_VERSION),
    app: Type.Optional(Text()),
    node: Type.Optional(Text()),
    tfjs: Type.Optional(Text()),
    python: Type.Optional(Text()),
    torch: Type.Optional(Text()),
  },
  { additionalProperties: false },
);
export type Versions = Static<typeof VersionsSchema>;

/** A small flat summary (of probes, of a finished run): a few named numbers, strings or flags. */
export const SummarySchema = Type.Record(Type.String({ maxLength: 128 }), Type.Union([Type.Number(), Type.String({ maxLength: 4096 }), Type.Boolean(), Type.Null()]));
export type Summary = Static<typeof SummarySchema>;

/**
 * How a job ended. `stopped`: on request after at least one step of this session (a checkpoint holds it);
 * `cancelled`: on request before the first step of this session completed (nothing new to checkpoint).
 */
export const DONE_REASONS = ['completed', 'stopped', 'cancelled', 'nonfinite', 'error'] as const;
export type DoneReason = (typeof DONE_REASONS)[number];

export const TRAINER_STATES = ['starting', 'running', 'paused', 'stopping'] as const;
export type TrainerState = (typeof TRAINER_STATES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// ---------------------------------------------------------------------------------------------------------
// Trainer → host

export const HelloSchema = message(
  'hello',
  { pid: Count(), versions: VersionsSchema },
  'The trainer is up and listening: send `start` now. One trainer process runs one job.',
);

export const StartedSchema = message(
  'started',
  {
    runId: Text({ minLength: 1 }),
    runDir: Text({ minLength: 1 }),
    backend: BackendReportSchema,
    seed: Count(),
    /** Step the run starts from: 0 for a fresh run, the checkpoint's step when resuming. */
    step: Count(),
    totalSteps: Count(),
    resumed: Type.Boolean(),
    /** The checkpoint resumed from, when `resumed`. */
    checkpoint: Type.Optional(Text()),
    /**
     * When resuming: the steps an earlier session trained past the checkpoint (not checkpointed), which are trained
     * again; their old events were dropped from metrics.jsonl, so no step is recorded twice.
     */
    retrained: Type.Optional(Type.Object({ from: Count(), to: Count() }, { additionalProperties: false })),
  },
  'The run is set up (backend loaded, state restored) and the first step is about to run.',
);

export const ProgressSchema = message(
  'progress',
  {
    step: Count(),
    totalSteps: Count(),
    tokensSeen: Count(),
    /** Training time in this run, summed over resumed sessions. */
    elapsedMs: NonNegative(),
    /** Estimated time to the last step; `null` until a step time is known. */
    etaMs: Type.Union([NonNegative(), Type.Null()]),
  },
  'Where the run is.',
);

export const MetricsSchema = message(
  'metrics',
  {
    step: Count(),
    loss: Type.Number(),
    mlmLoss: Type.Number(),
    nspLoss: Type.Optional(Type.Number()),
    /** The learning rate used by this step's update. */
    learningRate: NonNegative(),
    /** Global gradient norm before clipping. */
    gradNorm: NonNegative(),
    tokensPerSecond: NonNegative(),
    stepMs: NonNegative(),
    /** Training FLOPs per second by the cost model's convention (one multiply-add = 2 FLOPs); 0 when unknown. */
    flopsPerSecond: NonNegative(),
    /** Bytes the engine holds after the step: TF.js tensors, or the device memory PyTorch allocated (0 when unknown). */
    memoryBytes: NonNegative(),
    /** The most device memory the run has held so far, where the engine measures it (PyTorch). */
    peakMemoryBytes: Type.Optional(NonNegative()),
  },
  'Training metrics of one optimizer step.',
);

export const EvalSchema = message(
  'eval',
  {
    step: Count(),
    /** MLM + NSP when the model has an NSP head. */
    loss: Type.Number(),
    /** The masked-LM part of `loss` (runs written before it was recorded lack it). */
    mlmLoss: Type.Optional(Type.Number()),
    nspLoss: Type.Optional(Type.Number()),
    mlmAccuracy: Type.Number({ minimum: 0, maximum: 1 }),
    nspAccuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  'Validation metrics.',
);

export const ProbesSchema = message(
  'probes',
  {
    step: Count(),
    /** The stored probe file (attention maps, conv kernels…), relative to the run directory. */
    path: Text({ minLength: 1 }),
    summary: SummarySchema,
  },
  'Probes of the model were written to a file; the summary is small enough to show without reading it.',
);

export const CheckpointSchema = message(
  'checkpoint',
  {
    step: Count(),
    /** The checkpoint directory, relative to the run directory. */
    path: Text({ minLength: 1 }),
  },
  'A checkpoint was written completely and is now the latest.',
);

export const StateSchema = message('state', { state: OneOf(TRAINER_STATES), step: Count() }, 'The trainer changed state (answers `pause`, `resume`, `stop`).');

export const LogSchema = message('log', { level: OneOf(LOG_LEVELS), message: Text() }, 'A line for the log.');

export const WarningSchema = message('warning', { message: Text({ minLength: 1 }), hint: Type.Optional(Text()) }, 'Something the user should know; the run goes on.');

export const ErrorSchema = message(
  'error',
  {
    message: Text({ minLength: 1 }),
    /** `true`: the job cannot go on (a `done` with reason `error` follows). `false`: e.g. a rejected message. */
    fatal: Type.Boolean(),
    /** What to do about it. */
    hint: Type.Optional(Text()),
  },
  'An error.',
);

export const DoneSchema = message(
  'done',
  {
    reason: OneOf(DONE_REASONS),
    step: Count(),
    summary: SummarySchema,
  },
  'The job is over; the process exits after this message.',
);

export const TRAINER_MESSAGE_SCHEMAS = {
  hello: HelloSchema,
  started: StartedSchema,
  progress: ProgressSchema,
  metrics: MetricsSchema,
  eval: EvalSchema,
  probes: ProbesSchema,
  checkpoint: CheckpointSchema,
  state: StateSchema,
  log: LogSchema,
  warning: WarningSchema,
  error: ErrorSchema,
  done: DoneSchema,
} as const;

export type HelloMessage = Static<typeof HelloSchema>;
export type StartedMessage = Static<typeof StartedSchema>;

/**
 * What a resume says, in the trainer's log, the CLI and the editor alike: "resuming at step 100; steps 101–147 were
 * not checkpointed and are retrained" (`retrained`: the `started` message's range, when there is one).
 */
export function resumingSentence(step: number, retrained?: { from: number; to: number }): string {
  if (!retrained) return `resuming at step ${step}`;
  const which = retrained.from === retrained.to ? `step ${retrained.from} was` : `steps ${retrained.from}–${retrained.to} were`;
  return `resuming at step ${step}; ${which} not checkpointed and ${retrained.from === retrained.to ? 'is' : 'are'} retrained`;
}
export type ProgressMessage = Static<typeof ProgressSchema>;
export type MetricsMessage = Static<typeof MetricsSchema>;
export type EvalMessage = Static<typeof EvalSchema>;
export type ProbesMessage = Static<typeof ProbesSchema>;
export type CheckpointMessage = Static<typeof CheckpointSchema>;
export type StateMessage = Static<typeof StateSchema>;
export type LogMessage = Static<typeof LogSchema>;
export type WarningMessage = Static<typeof WarningSchema>;
export type ErrorMessage = Static<typeof ErrorSchema>;
export type DoneMessage = Static<typeof DoneSchema>;

export type TrainerMessage =
  | HelloMessage
  | StartedMessage
  | ProgressMessage
  | MetricsMessage
  | EvalMessage
  | ProbesMessage
  | CheckpointMessage
  | StateMessage
  | LogMessage
  | WarningMessage
  | ErrorMessage
  | DoneMessage;
export type TrainerMessageType = TrainerMessage['type'];
/** The message of one type: `TrainerMessageOf<'metrics'>`. */
export type TrainerMessageOf<T extends TrainerMessageType> = Extract<TrainerMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------------------
// Host → trainer

export const StartOptionsSchema = Type.Object(
  {
    /** Train this many steps instead of the spec's `training.steps` (and instead of `flopBudget`). */
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
    /** Use this backend instead of the spec's `training.backend`. */
    backend: Type.Optional(Text({ minLength: 1 })),
    /** Continue from the run directory's latest good checkpoint (refused with a fatal error when it has none). */
    resume: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type StartOptions = Static<typeof StartOptionsSchema>;

export const StartSchema = message(
  'start',
  {
    /** The run directory (`.convbert/runs/<run-id>`); created when missing. */
    runDir: Text({ minLength: 1 }),
    /** A `*.convbert.json` file to read. Give this or `spec`; on `resume` both may be left out (the run's snapshot is used). */
    specPath: Type.Optional(Text({ minLength: 1 })),
    /** The spec file's content (a parsed `*.convbert.json`), snapshotted by the host. */
    spec: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    options: Type.Optional(StartOptionsSchema),
  },
  'Start (or resume) the job. Accepted once per process.',
);
export const StopSchema = message(
  'stop',
  {},
  'Finish the current step, write a checkpoint, then end with `done` `{ reason: "stopped" }`; before the first step completes, end at once with `{ reason: "cancelled" }`.',
);
export const PauseSchema = message('pause', {}, 'Finish the current step and wait.');
export const ResumeSchema = message('resume', {}, 'Go on after `pause`.');

export const HOST_MESSAGE_SCHEMAS = { start: StartSchema, stop: StopSchema, pause: PauseSchema, resume: ResumeSchema } as const;

export type StartMessage = Static<typeof StartSchema>;
export type StopMessage = Static<typeof StopSchema>;
export type PauseMessage = Static<typeof PauseSchema>;
export type ResumeMessage = Static<typeof ResumeSchema>;
export type HostMessage = StartMessage | StopMessage | PauseMessage | ResumeMessage;
export type HostMessageType = HostMessage['type'];
export type HostMessageOf<T extends HostMessageType> = Extract<HostMessage, { type: T }>;

/** Distributes over a union, so `Omit` keeps each member's own fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A message as written by its sender, before `v` is added. */
export type TrainerMessageBody = DistributiveOmit<TrainerMessage, 'v'>;
export type HostMessageBody = DistributiveOmit<HostMessage, 'v'>;
