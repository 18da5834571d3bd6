/**
 * The messages between the extension host and the dashboard webview. One definition, in the style of
 * `messages.ts`: TypeBox schemas that are both the runtime validators and (through `Static<…>`) the types.
 * Every message carries `v` (`WEBVIEW_PROTOCOL_VERSION`, independent of the trainer protocol's) and a `type`.
 *
 * Host → webview ("to webview"):
 * - `snapshot`: everything the panel shows: runs with their metric points and saved probe steps, the selected
 *   run ids, up to two cost reports. Sent after `ready` and again whenever the panel becomes visible (a hidden
 *   webview drops messages, so the host replays state instead of queueing it). Replaces what the webview had.
 * - `run`: a run was added or changed state (no points). `metrics`: points appended to a run (batched).
 *   `eval`: one validation result. `probeIndex`: the steps with saved probes of a run (the whole list).
 * - `probe`: the probes of one run at one step (answers `requestProbe`, or pushed), made from a `core/train/probes`
 *   `ModelProbe`: the sample sentence's tokens (and how many are real, not padding) and, per layer, attention
 *   probabilities (heads × T × T, row = query, column = key), mean attention distance per head, and the conv
 *   module's T × T token-mixing map, weight per relative offset and mean distance.
 *   Matrices are `Float32Array`s (VS Code transfers and revives typed arrays); a bare `ArrayBuffer` of float32s
 *   is accepted too and turned into a `Float32Array` by the parser. `probeMissing`: a `requestProbe` that
 *   cannot be served.
 * - `costs`: replaces the cost reports (0, 1, or 2 for a side-by-side comparison). `theme`: the colour theme
 *   changed (optional: the webview also watches its body class).
 * - `sweeps`: the sweeps found in the workspace (their runs' ids; the runs are the snapshot's), for the Sweep tab.
 * - `showView`: switch to a tab (`loss`, `costs`, `attention`, `sweep`), e.g. Show Costs opens the Costs tab. The webview
 *   keeps it as its own choice (persisted like a click on the tab); without one it stays on the tab it had.
 *
 * Webview → host ("from webview"):
 * - `ready`: the webview is listening; the host sends nothing before it, then a `snapshot`.
 * - `requestProbe`: please send the `probe` of run `runId` at `step`.
 * - `exportFile`: please save this file (the webview cannot write files): a PNG as a `data:image/png;base64,`
 *   URL or a CSV as text, with a suggested file name.
 * - `selectRuns`: the user changed which runs are overlaid. `log`: a line for the output channel (dropped
 *   messages, render errors).
 *
 * Validation uses TypeBox's interpreting `Check` (no `new Function`, which the webview's CSP forbids), imported
 * on its own so the webview bundle does not carry the rest of `Value`.
 *
 * `parseToWebviewMessage` / `parseFromWebviewMessage` never throw: they return the typed message or a readable
 * reason. Numbers are finite everywhere, typed arrays included; array lengths must agree with the shapes.
 */
import { Kind, Type, TypeRegistry, type Static, type TLiteral, type TSchema, type TUnsafe } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/errors';
import type { CostKind, CostReport } from '../core/cost/types';

/** The cost model's report types, as the dashboard receives them (the webview reaches core only through here). */
export type { CostKind, CostReport, FlopSplit, ModuleCost } from '../core/cost/types';
import { DONE_REASONS, LOG_LEVELS, MAX_TEXT, TRAINER_STATES } from './messages';
import { describeValue, parseEnvelope, type ParseResult } from './envelope';

export const WEBVIEW_PROTOCOL_VERSION = 1 as const;

/** Most tokens in a probed sentence (a probe is heads × T² floats per layer). */
export const MAX_PROBE_TOKENS = 1024;
/** Most metric points in one message (a snapshot holds each run's full history). */
export const MAX_POINTS = 2_000_000;
/** Largest exported file (a PNG data URL or a CSV), in characters. */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;

const Text = (options: { minLength?: number; maxLength?: number } = {}) => Type.String({ maxLength: MAX_TEXT, ...options });
const Id = () => Type.String({ minLength: 1, maxLength: 256 });
const Count = () => Type.Integer({ minimum: 0 });
const NonNegative = () => Type.Number({ minimum: 0 });
const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)) as TLiteral<T>[]);

// ---------------------------------------------------------------------------------------------------------
// Typed arrays

const FLOAT32_KIND = 'ConvbertFloat32Data';
const tagOf = (value: unknown) => Object.prototype.toString.call(value);
const isFloat32Array = (value: unknown): value is Float32Array => tagOf(value) === '[object Float32Array]';
const isArrayBuffer = (value: unknown): value is ArrayBuffer => tagOf(value) === '[object ArrayBuffer]';
if (!TypeRegistry.Has(FLOAT32_KIND)) {
  TypeRegistry.Set(FLOAT32_KIND, (_schema, value) => isFloat32Array(value) || (isArrayBuffer(value) && value.byteLength % 4 === 0));
}
/** A `Float32Array` (or, on the wire, an `ArrayBuffer` of float32s that the parser wraps in one). */
const Float32Data = (): TUnsafe<Float32Array> => Type.Unsafe<Float32Array>({ [Kind]: FLOAT32_KIND, description: 'Float32Array' });

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

/** A run's lifecycle as the dashboard shows it: the trainer's live states, how it ended, or `interrupted` (no end recorded). */
export const RUN_STATES = [...TRAINER_STATES, ...DONE_REASONS, 'interrupted'] as const;
export type RunState = (typeof RUN_STATES)[number];

/**
 * One step of a run. `loss` is the training loss, `valLoss`/`valAccuracy` the evaluation at that step, `lr` the
 * learning rate. `tokens`, `flops` and `trainingMs` are cumulative through this step over the steps the run kept
 * (`run-format/totals.ts`: no reset and no double count across a resume): tokens processed, training FLOPs by the
 * cost model, and training time (the sum of step times: no evaluation, checkpoints or pauses). The dashboard's
 * Loss view plots against any of them.
 */
export const MetricPointSchema = Type.Object(
  {
    step: Count(),
    loss: Type.Optional(Type.Number()),
    valLoss: Type.Optional(Type.Number()),
    valAccuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    lr: Type.Optional(NonNegative()),
    tokens: Type.Optional(NonNegative()),
    flops: Type.Optional(NonNegative()),
    trainingMs: Type.Optional(NonNegative()),
  },
  { additionalProperties: false },
);
export type MetricPoint = Static<typeof MetricPointSchema>;

export const RunInfoSchema = Type.Object(
  {
    id: Id(),
    name: Text({ minLength: 1, maxLength: 256 }),
    state: OneOf(RUN_STATES),
    /** The TF.js backend that ran it, when known. */
    backend: Type.Optional(Text({ maxLength: 128 })),
    /** When the run was created (ISO 8601), when known: shown beside the name, and it orders the runs. */
    createdAt: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type RunInfo = Static<typeof RunInfoSchema>;

// ---------------------------------------------------------------------------------------------------------
// How a run is told apart (the Runs view, the pickers and the dashboard all say it the same way)

/**
 * The short id of a run: the random suffix of `20250101-120000-123-3fa9c1` ("3fa9c1"); a sweep's run
 * (`<sweep>--<run name>-s<seed>`, docs/sweeps.md): its run name and seed ("bert-mini-s2"); other ids: their last 8
 * characters.
 */
export function runShortId(id: string): string {
  const sweep = /--([^]+-s\d+)$/.exec(id);
  if (sweep) return sweep[1]!;
  const m = /-([0-9a-z]{4,})$/i.exec(id);
  return (m ? m[1]! : id.slice(-8)).slice(0, 12);
}

/** When a run started: its `createdAt`, else the UTC time its id encodes; undefined when neither says. */
export function runStartDate(id: string, createdAt?: string): Date | undefined {
  const fromIso = createdAt ? new Date(createdAt) : undefined;
  if (fromIso && Number.isFinite(fromIso.getTime())) return fromIso;
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(id);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isFinite(d.getTime()) ? d : undefined;
}

/** A start time in local time, "2025-01-01 12:00" (the same everywhere a run is listed). */
export function runTimeLabel(date: Date | undefined): string {
  if (!date) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}`;
}

/** "#3fa9c1 · 2025-01-01 12:00": what tells two runs of the same spec apart. */
export function runTag(id: string, createdAt?: string): string {
  const time = runTimeLabel(runStartDate(id, createdAt));
  return time ? `#${runShortId(id)} · ${time}` : `#${runShortId(id)}`;
}

/** Newest first: by start time, then by id (ids sort by creation time). */
export function compareRunsNewestFirst(a: { id: string; createdAt?: string }, b: { id: string; createdAt?: string }): number {
  const ta = runStartDate(a.id, a.createdAt)?.getTime() ?? -Infinity;
  const tb = runStartDate(b.id, b.createdAt)?.getTime() ?? -Infinity;
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export const RunSeriesSchema = Type.Object(
  {
    ...RunInfoSchema.properties,
    /** Sorted by step. */
    points: Type.Array(MetricPointSchema, { maxItems: MAX_POINTS }),
    /** Steps with saved probes, ascending. */
    probeSteps: Type.Array(Count(), { maxItems: 100_000 }),
  },
  { additionalProperties: false },
);
export type RunSeries = Static<typeof RunSeriesSchema>;

/** The module kinds of `core/cost`, in the order the dashboard stacks and colours them. */
export const COST_KINDS = ['embeddings', 'attention', 'conv', 'gffn', 'ffn', 'final_norm', 'mlm_head', 'pooler', 'nsp_head'] as const;
/** The kinds that occur inside a layer. */
export const LAYER_KINDS = ['attention', 'conv', 'gffn', 'ffn'] as const;
type CostKindsMatch = [CostKind] extends [(typeof COST_KINDS)[number]] ? ([(typeof COST_KINDS)[number]] extends [CostKind] ? true : false) : false;
const costKindsMatch: CostKindsMatch = true;
void costKindsMatch;

const FlopSplitSchema = Type.Object({ matmul: NonNegative(), elementwise: NonNegative() });
const ModuleCostSchema = Type.Object({
  name: Text({ maxLength: 256 }),
  kind: OneOf(COST_KINDS),
  layer: Type.Optional(Count()),
  moduleIndex: Type.Optional(Count()),
  params: NonNegative(),
  forward: FlopSplitSchema,
  backward: FlopSplitSchema,
  activationBytes: NonNegative(),
});
const LayerCostSchema = Type.Object({
  index: Count(),
  params: NonNegative(),
  forward: FlopSplitSchema,
  backward: FlopSplitSchema,
  activationBytes: NonNegative(),
  modules: Type.Array(ModuleCostSchema, { maxItems: 64 }),
});
/**
 * `core/cost`'s `CostReport`. Extra properties are allowed (a newer cost model may add fields the dashboard
 * does not show yet); the fields it reads are checked.
 */
export const CostReportSchema = Type.Object({
  convention: Text(),
  sequenceLength: Count(),
  batchSize: Count(),
  maskedPerSequence: Count(),
  tokensPerStep: Count(),
  embeddings: ModuleCostSchema,
  layers: Type.Array(LayerCostSchema, { maxItems: 1024 }),
  heads: Type.Array(ModuleCostSchema, { maxItems: 16 }),
  totals: Type.Object({
    params: NonNegative(),
    encoderParams: NonNegative(),
    forward: FlopSplitSchema,
    backward: FlopSplitSchema,
    trainingFlopsPerStep: NonNegative(),
    trainingFlopsPerToken: NonNegative(),
    encoderForwardMatmulFlopsPerToken: NonNegative(),
  }),
  memory: Type.Object({
    weightsBytes: NonNegative(),
    gradientBytes: NonNegative(),
    optimizerBytes: NonNegative(),
    activationBytes: NonNegative(),
    totalBytes: NonNegative(),
  }),
});
// The host sends `computeCost(...)`'s answer as it is: a `CostReport` must satisfy the schema's type.
const reportFits: Static<typeof CostReportSchema> = null as unknown as CostReport;
void reportFits;

/** A cost report with the name of the spec it was computed from. */
export const CostEntrySchema = Type.Object(
  {
    /** The spec's name or file name, shown as the column/chart title. */
    label: Text({ minLength: 1, maxLength: 256 }),
    report: CostReportSchema,
  },
  { additionalProperties: false },
);
export type CostEntry = { label: string; report: CostReport };

/**
 * One layer's probes, made by the host from a `core/train/probes` `ModelProbe` (its first attention and first
 * conv module of the layer). Any part may be missing: a layer without a conv module has no `conv`.
 */
export const ProbeLayerSchema = Type.Object(
  {
    layer: Count(),
    attention: Type.Optional(
      Type.Object(
        {
          heads: Type.Integer({ minimum: 1, maximum: 256 }),
          /** heads × T × T row-major: `probs[(h·T + query)·T + key]`. */
          probs: Float32Data(),
        },
        { additionalProperties: false },
      ),
    ),
    /** Mean attention distance Σ P·|query − key| over the real queries, in tokens, one per head. */
    meanDistance: Type.Optional(Type.Array(NonNegative(), { maxItems: 256 })),
    conv: Type.Optional(
      Type.Object(
        {
          /** T × T row-major: how much output token `row` draws on input token `column` (`ConvMapProbe.map`). */
          mixing: Float32Data(),
          /** Weight per relative offset (`ConvMapProbe.offsetWeights`): `kernel[i]` is at offset `kernelStart + i`. */
          kernel: Type.Optional(Float32Data()),
          /** Default: centred, −⌊(K − 1)/2⌋. */
          kernelStart: Type.Optional(Type.Integer({ minimum: -4096, maximum: 4096 })),
          /** The mixing map's mean distance in tokens (`ConvMapProbe.meanDistance`), shown beside the heads'. */
          meanDistance: Type.Optional(NonNegative()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProbeLayer = Static<typeof ProbeLayerSchema>;

const THEME_KINDS = ['light', 'dark', 'high-contrast', 'high-contrast-light'] as const;
export type ThemeKind = (typeof THEME_KINDS)[number];

/** The dashboard's views (its tabs), in tab order. */
export const DASHBOARD_VIEWS = ['loss', 'costs', 'attention', 'sweep'] as const;
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];

/**
 * One row of a sweep's crossing table (docs/sweeps.md): the FLOPs and time a GroupBERT-family group's mean curve
 * needs to reach a BERT-family group's final validation loss, and their ratios to the BERT group's; absent when
 * the curve does not reach it.
 */
export const SweepCrossingSchema = Type.Object(
  {
    groupbert: Text({ minLength: 1, maxLength: 256 }),
    bert: Text({ minLength: 1, maxLength: 256 }),
    target: Type.Number(),
    flops: Type.Optional(NonNegative()),
    flopsRatio: Type.Optional(NonNegative()),
    timeMs: Type.Optional(NonNegative()),
    timeRatio: Type.Optional(NonNegative()),
  },
  { additionalProperties: false },
);
export type SweepCrossing = Static<typeof SweepCrossingSchema>;

/**
 * A sweep as the dashboard's Sweep view shows it: its name, its runs' ids in plan order (`state.json`'s runs; the
 * runs themselves, points included, are the snapshot's), the FLOP budget when known, and the crossing table when
 * the host could build one.
 */
export const SweepInfoSchema = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 256 }),
    runIds: Type.Array(Id(), { maxItems: 1000 }),
    flopBudget: Type.Optional(NonNegative()),
    crossings: Type.Optional(Type.Array(SweepCrossingSchema, { maxItems: 10_000 })),
  },
  { additionalProperties: false },
);
export type SweepInfo = Static<typeof SweepInfoSchema>;

// ---------------------------------------------------------------------------------------------------------
// Messages

function message<T extends string, P extends Record<string, TSchema>>(type: T, props: P, description: string) {
  return Type.Object({ v: Type.Literal(WEBVIEW_PROTOCOL_VERSION), type: Type.Literal(type), ...props }, { additionalProperties: false, description });
}

// Host → webview

export const SnapshotSchema = message(
  'snapshot',
  {
    runs: Type.Array(RunSeriesSchema, { maxItems: 1000 }),
    selectedRunIds: Type.Array(Id(), { maxItems: 1000 }),
    costs: Type.Array(CostEntrySchema, { maxItems: 2 }),
    theme: Type.Optional(OneOf(THEME_KINDS)),
  },
  'Everything the dashboard shows; replaces what it had. Sent after `ready` and whenever the panel becomes visible.',
);
export const RunSchema = message('run', { run: RunInfoSchema }, 'A run was added or changed state.');
export const MetricsPointsSchema = message(
  'metrics',
  { runId: Id(), points: Type.Array(MetricPointSchema, { minItems: 1, maxItems: MAX_POINTS }) },
  'Points to merge into a run (by step; a later value for a step replaces the earlier one).',
);
export const EvalResultSchema = message(
  'eval',
  { runId: Id(), step: Count(), loss: Type.Number(), accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })) },
  'A validation result.',
);
export const ProbeIndexSchema = message('probeIndex', { runId: Id(), steps: Type.Array(Count(), { maxItems: 100_000 }) }, 'The steps with saved probes of a run.');
export const ProbeSchema = message(
  'probe',
  {
    runId: Id(),
    step: Count(),
    /** The probed sample sentence, one label per token, any padding included (T = `tokens.length`). */
    tokens: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: MAX_PROBE_TOKENS }),
    /** The real (unpadded) tokens come first: this many (`ModelProbe.realLength`; default: all). Padding is not shown. */
    realLength: Type.Optional(Count()),
    layers: Type.Array(ProbeLayerSchema, { maxItems: 1024 }),
  },
  'The probes of one run at one step.',
);
export const ProbeMissingSchema = message('probeMissing', { runId: Id(), step: Count(), reason: Text() }, 'A requested probe cannot be served.');
export const CostsSchema = message('costs', { costs: Type.Array(CostEntrySchema, { maxItems: 2 }) }, 'Replaces the cost reports (two: side by side).');
export const ThemeSchema = message('theme', { kind: OneOf(THEME_KINDS) }, 'The colour theme changed.');
export const ShowViewSchema = message('showView', { view: OneOf(DASHBOARD_VIEWS) }, 'Switch to this view (tab).');
export const SweepsSchema = message('sweeps', { sweeps: Type.Array(SweepInfoSchema, { maxItems: 100 }) }, 'Replaces the sweeps (`.convbert/sweeps/*/state.json`).');

export const TO_WEBVIEW_SCHEMAS = {
  snapshot: SnapshotSchema,
  run: RunSchema,
  metrics: MetricsPointsSchema,
  eval: EvalResultSchema,
  probeIndex: ProbeIndexSchema,
  probe: ProbeSchema,
  probeMissing: ProbeMissingSchema,
  costs: CostsSchema,
  theme: ThemeSchema,
  showView: ShowViewSchema,
  sweeps: SweepsSchema,
} as const;

export type SnapshotMessage = Omit<Static<typeof SnapshotSchema>, 'costs'> & { costs: CostEntry[] };
export type RunMessage = Static<typeof RunSchema>;
export type MetricsPointsMessage = Static<typeof MetricsPointsSchema>;
export type EvalResultMessage = Static<typeof EvalResultSchema>;
export type ProbeIndexMessage = Static<typeof ProbeIndexSchema>;
export type ProbeMessage = Static<typeof ProbeSchema>;
export type ProbeMissingMessage = Static<typeof ProbeMissingSchema>;
export type CostsMessage = Omit<Static<typeof CostsSchema>, 'costs'> & { costs: CostEntry[] };
export type ThemeMessage = Static<typeof ThemeSchema>;
export type ShowViewMessage = Static<typeof ShowViewSchema>;
export type SweepsMessage = Static<typeof SweepsSchema>;
export type ToWebviewMessage =
  | SnapshotMessage
  | RunMessage
  | MetricsPointsMessage
  | EvalResultMessage
  | ProbeIndexMessage
  | ProbeMessage
  | ProbeMissingMessage
  | CostsMessage
  | ThemeMessage
  | ShowViewMessage
  | SweepsMessage;
export type ToWebviewType = ToWebviewMessage['type'];
export type ToWebviewMessageOf<T extends ToWebviewType> = Extract<ToWebviewMessage, { type: T }>;

// Webview → host

export const EXPORT_KINDS = ['png', 'csv'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];
export const PNG_DATA_URL_PREFIX = 'data:image/png;base64,';

export const ReadySchema = message('ready', {}, 'The webview listens now: send a `snapshot`.');
export const RequestProbeSchema = message('requestProbe', { runId: Id(), step: Count() }, 'Send the `probe` of a run at a step.');
export const ExportFileSchema = message(
  'exportFile',
  {
    kind: OneOf(EXPORT_KINDS),
    /** A suggested file name: letters, digits, `.`, `_`, `-`, ending in `.png` or `.csv` as `kind` says. */
    name: Type.String({ minLength: 5, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.(png|csv)$' }),
    /** PNG: a `data:image/png;base64,` URL. CSV: the text. */
    data: Type.String({ maxLength: MAX_EXPORT_CHARS }),
  },
  'Save a file the dashboard made.',
);
export const SelectRunsSchema = message('selectRuns', { runIds: Type.Array(Id(), { maxItems: 1000 }) }, 'The runs to overlay changed.');
export const WebviewLogSchema = message('log', { level: OneOf(LOG_LEVELS), message: Text() }, 'A line for the log.');

export const FROM_WEBVIEW_SCHEMAS = {
  ready: ReadySchema,
  requestProbe: RequestProbeSchema,
  exportFile: ExportFileSchema,
  selectRuns: SelectRunsSchema,
  log: WebviewLogSchema,
} as const;

export type ReadyMessage = Static<typeof ReadySchema>;
export type RequestProbeMessage = Static<typeof RequestProbeSchema>;
export type ExportFileMessage = Static<typeof ExportFileSchema>;
export type SelectRunsMessage = Static<typeof SelectRunsSchema>;
export type WebviewLogMessage = Static<typeof WebviewLogSchema>;
export type FromWebviewMessage = ReadyMessage | RequestProbeMessage | ExportFileMessage | SelectRunsMessage | WebviewLogMessage;
export type FromWebviewType = FromWebviewMessage['type'];
export type FromWebviewMessageOf<T extends FromWebviewType> = Extract<FromWebviewMessage, { type: T }>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ToWebviewBody = DistributiveOmit<ToWebviewMessage, 'v'>;
export type FromWebviewBody = DistributiveOmit<FromWebviewMessage, 'v'>;

/** Adds the version to a host → webview message. */
export function toWebview(body: ToWebviewBody): ToWebviewMessage {
  return { ...body, v: WEBVIEW_PROTOCOL_VERSION } as ToWebviewMessage;
}

/** Adds the version to a webview → host message. */
export function fromWebview(body: FromWebviewBody): FromWebviewMessage {
  return { ...body, v: WEBVIEW_PROTOCOL_VERSION } as FromWebviewMessage;
}

/** The `ArrayBuffer`s of a message's typed arrays: pass them as `postMessage(message, transfer)`'s second argument. */
export function transferablesOf(message: ToWebviewMessage): ArrayBuffer[] {
  if (message.type !== 'probe') return [];
  const out = new Set<ArrayBuffer>();
  const add = (a: Float32Array | undefined) => {
    if (a && isArrayBuffer(a.buffer)) out.add(a.buffer);
  };
  for (const layer of message.layers) {
    add(layer.attention?.probs);
    add(layer.conv?.mixing);
    add(layer.conv?.kernel);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

const float32View = (value: object): Float32Array | undefined =>
  isFloat32Array(value) ? value : isArrayBuffer(value) && value.byteLength % 4 === 0 ? new Float32Array(value) : undefined;

function explainFloat32(error: ValueError): string | undefined {
  if ((error.schema as unknown as Record<symbol, unknown>)[Kind] !== FLOAT32_KIND) return undefined;
  return `expected a Float32Array (or an ArrayBuffer of float32s), got ${ArrayBuffer.isView(error.value) ? tagOf(error.value).slice(8, -1) : describeValue(error.value)}`;
}

function parseWith<T>(raw: unknown, schemas: Record<string, TSchema>, direction: string): ParseResult<T> {
  return parseEnvelope<T>(raw, {
    schemas,
    version: WEBVIEW_PROTOCOL_VERSION,
    direction,
    protocolName: 'webview protocol',
    mismatchAdvice: 'the extension and its dashboard come from different builds; reload the window',
    floats: float32View,
    explain: explainFloat32,
  });
}

const asFloat32 = (data: Float32Array | ArrayBuffer): Float32Array => (isFloat32Array(data) ? data : new Float32Array(data));

/** Shape checks a schema cannot express, and `ArrayBuffer` → `Float32Array`. */
function checkProbe(m: ProbeMessage): ParseResult<ProbeMessage> {
  const t = m.tokens.length;
  if (m.realLength !== undefined && m.realLength > t) return { ok: false, error: `\`probe\` message: realLength ${m.realLength} is more than the ${t} tokens` };
  const seen = new Set<number>();
  const layers: ProbeLayer[] = [];
  for (let i = 0; i < m.layers.length; i++) {
    const layer = m.layers[i]!;
    const where = `\`probe\` message: /layers/${i} (layer ${layer.layer})`;
    if (seen.has(layer.layer)) return { ok: false, error: `${where} repeats a layer index` };
    seen.add(layer.layer);
    const out: ProbeLayer = { layer: layer.layer };
    if (layer.attention) {
      const probs = asFloat32(layer.attention.probs);
      const want = layer.attention.heads * t * t;
      if (probs.length !== want) {
        return { ok: false, error: `${where}: attention.probs has ${probs.length} numbers, expected heads × T × T = ${layer.attention.heads} × ${t} × ${t} = ${want}` };
      }
      out.attention = { heads: layer.attention.heads, probs };
      if (layer.meanDistance && layer.meanDistance.length !== layer.attention.heads) {
        return { ok: false, error: `${where}: meanDistance has ${layer.meanDistance.length} numbers, expected one per head (${layer.attention.heads})` };
      }
    } else if (layer.meanDistance) {
      return { ok: false, error: `${where}: meanDistance without attention` };
    }
    if (layer.meanDistance) out.meanDistance = layer.meanDistance;
    if (layer.conv) {
      const mixing = asFloat32(layer.conv.mixing);
      if (mixing.length !== t * t) return { ok: false, error: `${where}: conv.mixing has ${mixing.length} numbers, expected T × T = ${t * t}` };
      out.conv = { mixing };
      if (layer.conv.kernel) {
        const kernel = asFloat32(layer.conv.kernel);
        out.conv.kernel = kernel;
        out.conv.kernelStart = layer.conv.kernelStart ?? -Math.floor((kernel.length - 1) / 2);
      }
      if (layer.conv.meanDistance !== undefined) out.conv.meanDistance = layer.conv.meanDistance;
    }
    layers.push(out);
  }
  return { ok: true, message: { ...m, layers } };
}

/** Validates a message from the host, in the webview. Never throws. */
export function parseToWebviewMessage(raw: unknown): ParseResult<ToWebviewMessage> {
  const result = parseWith<ToWebviewMessage>(raw, TO_WEBVIEW_SCHEMAS, 'host → webview');
  if (!result.ok) return result;
  const m = result.message;
  if (m.type === 'probe') return checkProbe(m);
  if (m.type === 'snapshot') {
    const ids = new Set<string>();
    for (const run of m.runs) {
      if (ids.has(run.id)) return { ok: false, error: `\`snapshot\` message: run id "${run.id.slice(0, 64)}" appears twice` };
      ids.add(run.id);
    }
  }
  return result;
}

/** Validates a message from the webview, in the extension host. Never throws. */
export function parseFromWebviewMessage(raw: unknown): ParseResult<FromWebviewMessage> {
  const result = parseWith<FromWebviewMessage>(raw, FROM_WEBVIEW_SCHEMAS, 'webview → host');
  if (!result.ok) return result;
  const m = result.message;
  if (m.type === 'exportFile') {
    if (!m.name.endsWith(`.${m.kind}`)) return { ok: false, error: `\`exportFile\` message: name "${m.name}" does not end in .${m.kind}` };
    if (m.kind === 'png' && !(m.data.startsWith(PNG_DATA_URL_PREFIX) && /^[A-Za-z0-9+/]*={0,2}$/.test(m.data.slice(PNG_DATA_URL_PREFIX.length)))) {
      return { ok: false, error: `\`exportFile\` message: a PNG must be sent as a "${PNG_DATA_URL_PREFIX}…" URL` };
    }
  }
  return result;
}

/** The bytes of an exported file (the PNG decoded from its data URL, the CSV as UTF-8), for the host to write. */
export function exportFileBytes(m: ExportFileMessage): Uint8Array {
  if (m.kind === 'png') {
    const b64 = m.data.slice(PNG_DATA_URL_PREFIX.length);
    const binary = atob(b64);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  return new TextEncoder().encode(m.data);
}
