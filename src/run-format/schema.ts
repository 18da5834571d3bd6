/**
 * The run format, defined once: what every engine writes into a run directory and every reader (the CLI, the
 * extension, the dashboard) reads back, whatever language the writer is in. TypeBox schemas, so the TypeScript
 * types come from them and `schemas/*.schema.json` are generated from them (`npm run generate:schema`;
 * test/unit/schema-drift.test.ts fails when a generated file drifts):
 *
 *   run.json                          `RunInfoSchema`              schemas/run.schema.json
 *   metrics.jsonl, one per line       `MetricEventSchema`          schemas/metrics-event.schema.json
 *                                     (the protocol's trainer messages that are history: one definition, referenced)
 *   checkpoints/<name>/manifest.json  `CheckpointManifestSchema`   schemas/checkpoint.schema.json
 *   probes/step-<step>.probe header   `ProbeHeaderSchema`          schemas/probe-header.schema.json
 *
 * The layout (file names, the checkpoint directory's files, probe naming) is in run-dir.ts, checkpoint.ts and
 * probes.ts; this module holds the shapes of what is in the files.
 */
import { Type, type Static, type TLiteral } from '@sinclair/typebox';
import { Check } from '@sinclair/typebox/value';
import type { ProbeHeader } from '../core/train/probe-format';
import { TRAINER_MESSAGE_SCHEMAS, type TrainerMessage } from '../protocol';

const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)) as TLiteral<T>[]);
const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });
const Text = (description?: string) => Type.String(description ? { description } : {});
/** A JSON value the format does not look into (an engine's own state). */
const Opaque = (description: string) => Type.Unknown({ description });

// ---------------------------------------------------------------------------------------------------------
// run.json

export const RUN_FORMAT = 'convbert-run';
export const RUN_FORMAT_VERSION = 1;

/** `cancelled`: stopped before the first step of its session completed (nothing new to checkpoint). */
export const RUN_STATES = ['created', 'running', 'paused', 'stopped', 'cancelled', 'completed', 'nonfinite', 'error'] as const;

export const RunInfoSchema = Type.Object(
  {
    format: Type.Literal(RUN_FORMAT),
    formatVersion: Type.Literal(RUN_FORMAT_VERSION),
    runId: Type.String({ minLength: 1, description: 'The run directory\'s name: `20250101-120000-123-3fa9c1` (UTC date, time, milliseconds, random suffix).' }),
    name: Type.Optional(Text('The spec\'s name.')),
    displayName: Type.Optional(Text('A name the user gave the run; shown instead of `name` when set.')),
    state: OneOf(RUN_STATES),
    createdAt: Text('ISO 8601 time.'),
    updatedAt: Text('ISO 8601 time of the last write of this file.'),
    startedAt: Type.Optional(Text('ISO 8601 time the current (or last) session started.')),
    endedAt: Type.Optional(Text('ISO 8601 time the last session ended.')),
    seed: Type.Optional(Type.Number()),
    backend: Type.Optional(
      Type.Object({
        requested: Text('What the spec or the user asked for (`auto`, `wasm`, …).'),
        name: Text('What ran.'),
        description: Type.Optional(Text('What the backend said it is: threads and SIMD, or the GPU adapter (vendor, architecture, description).')),
        limits: Type.Optional(Text('The device limits requested, where a GPU backend has them (`maxStorageBuffersPerShaderStage=16, …`).')),
      }),
    ),
    step: Count('Updates completed.'),
    totalSteps: Type.Optional(Count()),
    specHash: Type.Optional(Text('Hash of the resolved spec the run trains (checkpoints carry it too).')),
    versions: Type.Object({ protocol: Type.Integer(), node: Text(), app: Type.Optional(Text()), tfjs: Type.Optional(Text()), python: Type.Optional(Text()), torch: Type.Optional(Text()) }),
    pid: Type.Optional(Type.Integer({ minimum: 0, description: 'The trainer process while it runs (`running` with a dead pid: it crashed).' })),
    host: Type.Optional(Text('The machine `pid` runs on.')),
    lastCheckpoint: Type.Optional(Text('Relative to the run directory.')),
    message: Type.Optional(Text('Why it ended, when it ended badly.')),
  },
  { title: 'run.json', description: 'The state of one training run (`<runs folder>/<runId>/run.json`), replaced atomically. Readers ignore properties they do not know.' },
);
export type RunInfo = Static<typeof RunInfoSchema>;
export type RunState = RunInfo['state'];

/** A `run.json` value that matches the schema, or undefined. */
export function checkRunInfo(value: unknown): RunInfo | undefined {
  return Check(RunInfoSchema, value) ? value : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// metrics.jsonl

/** The message types `metrics.jsonl` keeps (progress is per step and derivable; hello/state/log are not history). */
export const HISTORY_TYPE_LIST = ['started', 'metrics', 'eval', 'probes', 'checkpoint', 'warning', 'error', 'done'] as const satisfies readonly TrainerMessage['type'][];

/** One line of `metrics.jsonl`: a trainer protocol message (src/protocol/messages.ts), one of the history types. */
export const MetricEventSchema = Type.Union(
  HISTORY_TYPE_LIST.map((type) => TRAINER_MESSAGE_SCHEMAS[type]),
  { title: 'metrics.jsonl event', description: 'One line of `metrics.jsonl`: a trainer → host protocol message of a history type, as the trainer sent it.' },
);

// ---------------------------------------------------------------------------------------------------------
// checkpoints/<name>/manifest.json

export const CHECKPOINT_FORMAT = 'convbert-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export const CheckpointTensorSchema = Type.Object({
  name: Text('`weights/<name>`, `optimizer/m/<name>`, …'),
  dtype: OneOf(['float32', 'int32', 'bool'] as const),
  shape: Type.Array(Count()),
  offset: Count('Byte offset in the tensors file (a multiple of 8).'),
  byteLength: Count(),
});

export const CheckpointManifestSchema = Type.Object(
  {
    format: Type.Literal(CHECKPOINT_FORMAT),
    formatVersion: Type.Integer({ description: `${CHECKPOINT_FORMAT_VERSION} for this version.` }),
    endianness: Type.Literal('little'),
    step: Count('Updates completed.'),
    specHash: Text(),
    createdAt: Text('ISO 8601 time.'),
    bin: Type.Object({ file: Text('A plain file name in the checkpoint directory (`tensors.bin`).'), byteLength: Count(), sha256: Text('Hex SHA-256 of the whole file.') }),
    tensors: Type.Array(CheckpointTensorSchema),
    optimizer: Type.Optional(Opaque('Optimizer scalars (type, update count).')),
    data: Type.Optional(Opaque('The data pipeline\'s iterator state.')),
    rng: Type.Optional(Opaque('Random generator state(s).')),
    extra: Type.Optional(Opaque('The loop\'s own counters and anything else.')),
  },
  { title: 'checkpoint manifest.json', description: 'A checkpoint directory (`checkpoints/<name>/`): this manifest, written after the tensors file it describes, then the directory renamed into place and `checkpoints/latest` updated.' },
);
export type CheckpointManifest = Static<typeof CheckpointManifestSchema>;

// ---------------------------------------------------------------------------------------------------------
// probes/step-<step>.probe: the JSON header inside the file (the encoding is core/train/probe-format.ts)

const HeaderTensorSchema = Type.Object({ offset: Count('In floats from the start of the data section.'), length: Count(), shape: Type.Array(Count()) });

export const ProbeHeaderSchema = Type.Object(
  {
    format: Type.Literal('convbert-probe'),
    version: Type.Integer(),
    step: Count(),
    tokens: Type.Array(Type.String()),
    length: Count('T: the side of every map.'),
    realLength: Count('Real (unpadded) tokens: the first `realLength` of the T.'),
    attention: Type.Array(Type.Object({ layer: Count(), module: Text(), heads: Count(), meanDistance: Type.Array(Type.Number()), probs: HeaderTensorSchema })),
    conv: Type.Array(
      Type.Object({
        layer: Count(),
        module: Text(),
        kernelSize: Count(),
        padding: OneOf(['same', 'causal'] as const),
        offsets: Type.Array(Type.Integer()),
        meanDistance: Type.Number(),
        offsetWeights: HeaderTensorSchema,
        map: HeaderTensorSchema,
      }),
    ),
  },
  {
    title: 'probe file header',
    description:
      'A `.probe` file is the ASCII magic `CBPROBE1`, this header\'s byte length (uint32 LE), this JSON header, zero padding to a multiple of 4 bytes, then the float32 LE values of every array, where the header places them.',
  },
);

// The encoder's header type and the schema agree (a compile-time check, both ways).
const headerFits: Static<typeof ProbeHeaderSchema> = null as unknown as ProbeHeader;
const headerFitsBack: ProbeHeader = null as unknown as Static<typeof ProbeHeaderSchema>;
void headerFits;
void headerFitsBack;

// ---------------------------------------------------------------------------------------------------------
// The generated JSON Schemas

export const RUN_FORMAT_SCHEMA_FILES = {
  'schemas/run.schema.json': { id: 'run.schema.json', schema: RunInfoSchema },
  'schemas/metrics-event.schema.json': { id: 'metrics-event.schema.json', schema: MetricEventSchema },
  'schemas/checkpoint.schema.json': { id: 'checkpoint.schema.json', schema: CheckpointManifestSchema },
  'schemas/probe-header.schema.json': { id: 'probe-header.schema.json', schema: ProbeHeaderSchema },
} as const;

/** A schema as a draft-07 JSON Schema file's text (TypeBox's symbol keys dropped). */
export function renderRunFormatSchema(file: keyof typeof RUN_FORMAT_SCHEMA_FILES): string {
  const { id, schema } = RUN_FORMAT_SCHEMA_FILES[file];
  const json = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', $id: id, ...json }, null, 2)}\n`;
}
