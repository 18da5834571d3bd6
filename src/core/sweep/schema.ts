/**
 * The single source of truth for the `*.sweep.json` format (docs/sweeps.md "The file"): the TypeScript types, the
 * runtime validator (the spec's machinery in core/validate compiles `sweepSchemaJson()`), and the JSON Schema shipped
 * to VS Code (`schemas/sweep.schema.json`, written by `scripts/generate-schema.ts`, checked by
 * test/unit/schema-drift.test.ts).
 *
 * An inline spec (`runs[].spec`, `grid.base`) is a spec file whose `version` may be left out: the schema refers to
 * the spec's own schema (`definitions.spec`), so the editor completes and checks it as it does a `*.convbert.json`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { schemaJson } from '../spec/artifacts';
import { TrainingSchema, type SpecFile } from '../spec/schema';

export const SWEEP_VERSION = 1;
export const SWEEP_SCHEMA_ID = 'https://convbert-studio.dev/schemas/sweep.schema.json';
export const SWEEP_SCHEMA_PATH = 'schemas/sweep.schema.json';

function doc(markdownDescription: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const plain = markdownDescription.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/[`*]/g, '');
  return { description: plain, markdownDescription, ...extra };
}

/** Every ablation, with what it does (applied to the run's resolved spec; GroupBERT-family runs only). */
export const ABLATIONS = {
  'no-conv': '`no-conv`: drop every conv module.',
  'dense-ffn': '`dense-ffn`: every GFFN with groups 1: a dense down-projection, and no mixer (a mixer runs only with groups > 1).',
  'depthwise-conv': '`depthwise-conv`: every conv with 1 channel per group.',
  'kernel-3': '`kernel-3`: every conv with kernel size 3.',
  'kernel-15': '`kernel-15`: every conv with kernel size 15.',
  'one-gffn': '`one-gffn`: keep only the first GFFN of each layer.',
} as const;
export type AblationName = keyof typeof ABLATIONS;
export const ABLATION_NAMES = Object.keys(ABLATIONS) as AblationName[];

/** The training settings of a run a sweep decides itself, so `shared` may not set them. */
export const SWEEP_DECIDED_TRAINING = ['steps', 'flopBudget', 'seed'] as const;

/** Names of runs: letters, digits, "." and "-" (they become directory names in run ids). */
export const RUN_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9.-]*$';
export const SWEEP_NAME_PATTERN = '^[a-z0-9][a-z0-9-]*$';

const SPEC_REF = { $ref: '#/definitions/spec' };

/** An inline spec: a spec file (`version` optional), checked by the spec's own schema. */
export type InlineSpec = Omit<SpecFile, 'version'> & { version?: 1 };

const SpecRefSchema = Type.Unsafe<InlineSpec>({
  ...SPEC_REF,
  ...doc('An inline spec: what a `*.convbert.json` holds (`version` may be left out), e.g. `{ "extends": "groupbert-mini" }`. Relative paths in it are relative to the sweep file.'),
});

const Seeds = Type.Array(Type.Integer({ minimum: 0, maximum: 4_294_967_295, description: 'A seed.' }), {
  minItems: 1,
  maxItems: 1000,
  uniqueItems: true,
  ...doc('Seeds to train, one run each (`training.seed`): the same seed gives the same run.'),
  errorMessage: 'Expected a list of different whole-number seeds, e.g. [1, 2, 3].',
});

const Ablation = Type.Unsafe<AblationName>({
  type: 'string',
  enum: ABLATION_NAMES,
  enumDescriptions: ABLATION_NAMES.map((a) => ABLATIONS[a].replace(/[`*]/g, '')),
  markdownEnumDescriptions: ABLATION_NAMES.map((a) => ABLATIONS[a]),
  ...doc('A change to the run\'s resolved spec, GroupBERT-family runs only (a run with a conv or a GFFN module).'),
  errorMessage: `Expected one of: ${ABLATION_NAMES.map((a) => `"${a}"`).join(', ')}.`,
});

export const SweepRunSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: RUN_NAME_PATTERN,
      ...doc('The run\'s name in the report; its runs are `<sweep name>--<name>-s<seed>`.'),
      patternErrorMessage: 'Use letters, digits, "." and "-", starting with a letter or digit.',
    }),
    description: Type.Optional(Type.String(doc('Free text: what this run tries.'))),
    spec: Type.Union([Type.String({ minLength: 1, ...doc('A spec file, relative to the sweep file.') }), SpecRefSchema], {
      ...doc('The run\'s spec: a `*.convbert.json` file (relative to the sweep file) or an inline spec.'),
      errorMessage: 'Expected a spec file path or an inline spec object like { "extends": "groupbert-mini" }.',
    }),
    seeds: Type.Optional(Seeds),
    ablation: Type.Optional(Ablation),
  },
  {
    additionalProperties: false,
    ...doc('One run of the sweep (one per seed): a spec, trained to the sweep\'s FLOP budget with the `shared` settings.'),
    defaultSnippets: [
      { label: 'run from a spec file', body: { name: '${1:bert-mini}', spec: '${2:specs/bert-mini.convbert.json}' } },
      { label: 'run with an inline spec', body: { name: '${1:groupbert-mini}', spec: { extends: '${2:groupbert-mini}' } } },
    ],
  },
);

export const SweepGridSchema = Type.Object(
  {
    base: SpecRefSchema,
    axes: Type.Record(
      Type.String(),
      Type.Array(Type.Union([Type.Number(), Type.String(), Type.Boolean()]), { minItems: 1, maxItems: 1000, description: 'The values this setting takes.' }),
      {
        minProperties: 1,
        ...doc('Spec settings by dotted path (`model.numLayers`, `training.learningRate.peak`) and the values each takes; every combination is a run.'),
      },
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        ...doc('The runs\' names, with `{path}` replaced by that axis\'s value, e.g. `gb-L{model.numLayers}-H{model.hiddenSize}`. Default: `grid` then each value, joined by "-".'),
      }),
    ),
    seeds: Type.Optional(Seeds),
    ablation: Type.Optional(Ablation),
  },
  {
    additionalProperties: false,
    ...doc('One base spec × overrides: every combination of the axes\' values is a run, added to `runs`.'),
    defaultSnippets: [
      {
        label: 'grid over depth and width',
        body: { base: { extends: 'groupbert-mini' }, axes: { 'model.numLayers': [2, 4], 'model.hiddenSize': [128, 256] }, name: 'gb-L{model.numLayers}-H{model.hiddenSize}' },
      },
    ],
  },
);

export const SharedSchema = Type.Omit(TrainingSchema, [...SWEEP_DECIDED_TRAINING], {
  additionalProperties: false,
  ...doc('Training settings every run gets, over its spec\'s `training` (objects merge, lists replace). The sweep decides `steps`, `flopBudget` and `seed` itself. Relative paths are relative to the sweep file.'),
});

export const SweepFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String(doc('The JSON Schema of this file, for editors other than VS Code.'))),
    version: Type.Literal(SWEEP_VERSION, doc('Sweep format version. Always `1` for now.', { errorMessage: 'Expected 1: the only sweep format version so far.' })),
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: SWEEP_NAME_PATTERN,
      ...doc('Names the sweep\'s folder (`.convbert/sweeps/<name>/`) and prefixes its run ids.'),
      patternErrorMessage: 'Use lower-case letters, digits and "-", starting with a letter or digit.',
    }),
    description: Type.Optional(Type.String(doc('Free text: what this sweep asks.'))),
    flopBudget: Type.Number({
      minimum: 1,
      maximum: 1e30,
      ...doc('Training FLOPs of every run (forward + backward, by the cost model), e.g. `2e14`: each run trains ceil(budget / its FLOPs per step) steps.'),
      errorMessage: 'Expected a number of FLOPs between 1 and 1e30, e.g. 2e14.',
    }),
    shared: Type.Optional(SharedSchema),
    warmupFraction: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        ...doc('Warmup as a share of each run\'s steps: warmupSteps = round(fraction × steps). Default: each spec\'s `learningRate.warmupSteps`.'),
        errorMessage: 'Expected a number between 0 and 1.',
      }),
    ),
    seeds: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 4_294_967_295, description: 'A seed.' }), {
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
      ...doc('Seeds of every run that does not list its own.', { default: [1] }),
      errorMessage: 'Expected a list of different whole-number seeds, e.g. [1, 2, 3].',
    })),
    runs: Type.Optional(Type.Array(SweepRunSchema, { maxItems: 1000, ...doc('The runs: each a spec (file or inline), with its own seeds and ablation.') })),
    grid: Type.Optional(SweepGridSchema),
    parallel: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 1024, description: 'Runs at once.' }), Type.Literal('auto', { description: 'As many as the cores and memory allow.' })], {
        ...doc('Runs trained at once: a number, or `"auto"` (cores and memory decide).', { default: 'auto' }),
        errorMessage: 'Expected a whole number of runs at once (1 or more) or "auto".',
      }),
    ),
  },
  {
    $id: SWEEP_SCHEMA_ID,
    title: 'ConvBERT Studio sweep',
    additionalProperties: false,
    defaultSnippets: [
      {
        label: 'sweep: GroupBERT vs BERT',
        body: {
          version: 1,
          name: '${1:groupbert-vs-bert}',
          flopBudget: 1e14,
          shared: { corpus: 'bundled', sequenceLength: 128, batchSize: 8 },
          warmupFraction: 0.1,
          seeds: [1],
          runs: [
            { name: 'bert-mini', spec: { extends: 'bert-mini' } },
            { name: 'groupbert-mini', spec: { extends: 'groupbert-mini' } },
          ],
        },
      },
    ],
    allowComments: true,
    allowTrailingCommas: true,
    ...doc('A sweep: specs trained to the same training-FLOP budget with shared data and schedule settings, compared in one report (docs/sweeps.md).'),
  },
);

export type SweepFile = Static<typeof SweepFileSchema>;
export type SweepRun = Static<typeof SweepRunSchema>;
export type SweepGrid = Static<typeof SweepGridSchema>;
export type SharedTraining = Static<typeof SharedSchema>;

/** The spec's schema as an inline spec: `version` optional, no `$id`, `$schema` or file snippets. */
function inlineSpecSchema(): Record<string, unknown> {
  const { $id: _id, $schema: _schema, defaultSnippets: _snippets, title: _title, ...rest } = schemaJson();
  const required = ((rest.required as string[] | undefined) ?? []).filter((r) => r !== 'version');
  const out: Record<string, unknown> = { ...rest };
  if (required.length > 0) out.required = required;
  else delete out.required;
  return out;
}

let cached: Record<string, unknown> | undefined;

/** The sweep schema as plain JSON (TypeBox's symbol keys dropped), draft-07 as VS Code and ajv both read it. */
export function sweepSchemaJson(): Record<string, unknown> {
  if (!cached) {
    const json = JSON.parse(JSON.stringify(SweepFileSchema)) as Record<string, unknown>;
    cached = { $schema: 'http://json-schema.org/draft-07/schema#', ...json, definitions: { spec: inlineSpecSchema() } };
  }
  return cached;
}

export function renderSweepSchemaFile(): string {
  return `${JSON.stringify(sweepSchemaJson(), null, 2)}\n`;
}
