/**
 * The single source of truth for the `*.convbert.json` format.
 *
 * From this one definition derive: the TypeScript types (`Static<…>` below), the runtime validator
 * (ajv compiles this object in `validate.ts`), the JSON Schema shipped to VS Code
 * (`schemas/convbert.schema.json`, written by `scripts/generate-schema.ts`) and the reference page
 * (`docs/spec-reference.md`). `test/unit/schema-drift.test.ts` fails when a generated file drifts.
 *
 * Every property carries a `markdownDescription` (what it does, what it trades, the paper's value), so the
 * editor's hovers and completions explain themselves.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PRESET_NAMES, PRESET_SUMMARIES } from './preset-names';
import { ENGINE_BACKENDS, ENGINE_DESCRIPTIONS } from './backends.generated';

export const SPEC_VERSION = 1;
export const SCHEMA_ID = 'https://convbert-studio.dev/schemas/convbert.schema.json';

const PAPER = '[GroupBERT, Chelombiev et al. 2021](https://arxiv.org/abs/2106.05822)';

/** Options every documented property gets: a markdown description, plus whatever else is passed. */
function doc(markdownDescription: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const plain = markdownDescription.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/[`*]/g, '');
  return { description: plain, markdownDescription, ...extra };
}

function int(min: number, max: number, description: string, extra: Record<string, unknown> = {}) {
  return Type.Integer({
    minimum: min,
    maximum: max,
    ...doc(description, extra),
    errorMessage: `Expected a whole number between ${min} and ${max}.`,
  });
}

function num(min: number, max: number, description: string, extra: Record<string, unknown> = {}) {
  return Type.Number({
    minimum: min,
    maximum: max,
    ...doc(description, extra),
    errorMessage: `Expected a number between ${min} and ${max}.`,
  });
}

function bool(description: string, extra: Record<string, unknown> = {}) {
  return Type.Boolean({ ...doc(description, extra), errorMessage: 'Expected true or false.' });
}

/** A string enum whose every value is described, for completion lists and hovers. */
function choice<T extends string>(values: Record<T, string>, description: string, extra: Record<string, unknown> = {}) {
  const keys = Object.keys(values) as T[];
  return Type.Unsafe<T>({
    type: 'string',
    enum: keys,
    enumDescriptions: keys.map((k) => values[k].replace(/[`*]/g, '')),
    markdownEnumDescriptions: keys.map((k) => values[k]),
    ...doc(description, extra),
    errorMessage: `Expected one of: ${keys.map((k) => `"${k}"`).join(', ')}.`,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Layer modules

export const MODULE_KINDS = ['attention', 'conv', 'gffn', 'ffn'] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];

const kindConst = <K extends ModuleKind>(kind: K, description: string) =>
  // One message for every kind: the editor shows the first branch's message when `type` matches none.
  Type.Literal(kind, doc(description, { errorMessage: 'Unknown module type: use "attention", "conv", "gffn" or "ffn".' }));

export const AttentionModuleSchema = Type.Object(
  {
    type: kindConst('attention', 'Multi-head scaled dot-product self-attention: global token mixing.'),
    heads: Type.Optional(
      int(1, 256, 'Attention heads in this module. Defaults to `model.numHeads`. The hidden size must be divisible by it; head size = hidden / heads (64 in BERT and GroupBERT).'),
    ),
    qkvBias: Type.Optional(
      bool('Bias on the query, key and value projections (+3·hidden parameters). On in BERT and in the GroupBERT LAMB configs; the key bias has no effect after softmax.', { default: true }),
    ),
    projectionBias: Type.Optional(bool('Bias on the attention output projection. On in BERT and every GroupBERT config.', { default: true })),
  },
  {
    additionalProperties: false,
    ...doc(`**Attention module**: Q/K/V projections (3·H²), scores and context (4·S·H FLOPs per token), output projection (H²). Cost grows with sequence length; ${PAPER} keeps it and lets the conv module take the local mixing.`),
    defaultSnippets: [{ label: 'attention module', body: { type: 'attention' } }],
  },
);

export const ConvModuleSchema = Type.Object(
  {
    type: kindConst('conv', 'Grouped 1-D convolution module: local token mixing.'),
    kernelSize: Type.Optional(
      int(1, 129, 'Tokens the convolution sees at once (receptive field per layer). GroupBERT uses **7**. Must be odd with `"same"` padding. FLOPs and parameters grow linearly with it.', { default: 7 }),
    ),
    channelsPerGroup: Type.Optional(
      int(1, 8192, 'Channels in each convolution group (contiguous blocks). GroupBERT uses **16** (48 groups at hidden 768); 1 is depthwise, hidden is a dense convolution. The hidden size must be divisible by it. Parameters: kernelSize·channelsPerGroup·hidden.', { default: 16 }),
    ),
    glu: Type.Optional(
      bool('Gated linear unit before the convolution: two hidden×hidden projections, values ⊙ sigmoid(gates) (2·H² parameters). On in GroupBERT.', { default: true }),
    ),
    norm: Type.Optional(bool('LayerNorm after the convolution, before the swish (GroupBERT uses LayerNorm where Conformer uses BatchNorm).', { default: true })),
    bias: Type.Optional(
      bool('Bias on the grouped convolution itself (+hidden parameters). On in the PyTorch port and the released GroupBERT-Base checkpoint; off in Graphcore\'s TF reference.', { default: true }),
    ),
    padding: Type.Optional(
      choice(
        { same: '`same`: centred window, (k−1)/2 tokens each side; needs an odd kernel.', causal: '`causal`: each token sees itself and the k−1 tokens before it.' },
        'How the sequence is padded for the convolution. GroupBERT uses `"same"`.',
        { default: 'same' },
      ),
    ),
  },
  {
    additionalProperties: false,
    ...doc(`**Convolution module** (${PAPER} §2): GLU → zero padded positions → grouped 1-D conv → LayerNorm → swish → output projection. Learns local interactions so attention can focus on global ones, for about 6·H² FLOPs per token.`),
    defaultSnippets: [{ label: 'conv module (GroupBERT)', body: { type: 'conv', kernelSize: 7, channelsPerGroup: 16 } }],
  },
);

export const GffnModuleSchema = Type.Object(
  {
    type: kindConst('gffn', 'Grouped feed-forward network.'),
    groups: Type.Optional(
      int(1, 64, 'Groups of the down-projection (contiguous blocks of the intermediate). GroupBERT uses **4**: the down-projection has I·H/G weights instead of I·H. Both the intermediate and the hidden size must be divisible by it.', { default: 4 }),
    ),
    mixer: Type.Optional(
      bool('Dense hidden×hidden output projection after the grouped down-projection, to mix across groups (there is no channel shuffle). On in GroupBERT when groups > 1.', { default: true }),
    ),
    intermediateSize: Type.Optional(int(1, 1_000_000, 'Width of the up-projection. Defaults to `model.intermediateSize` (4·hidden in the paper).')),
  },
  {
    additionalProperties: false,
    ...doc(`**Grouped FFN** (${PAPER} §3): dense up-projection + GELU → grouped down-projection → dense mixer. With G=4 and I=4H it has 6·H² weights instead of BERT's 8·H², a 25% cut per FFN.`),
    defaultSnippets: [{ label: 'gffn module (GroupBERT)', body: { type: 'gffn', groups: 4 } }],
  },
);

export const FfnModuleSchema = Type.Object(
  {
    type: kindConst('ffn', 'Dense feed-forward network (BERT).'),
    intermediateSize: Type.Optional(int(1, 1_000_000, 'Width of the up-projection. Defaults to `model.intermediateSize` (4·hidden in BERT).')),
  },
  {
    additionalProperties: false,
    ...doc('**Dense FFN** (BERT): hidden→intermediate + activation → hidden. 2·H·I weights, 4·H·I FLOPs per token.'),
    defaultSnippets: [{ label: 'ffn module (BERT)', body: { type: 'ffn' } }],
  },
);

const ModuleUnion = Type.Union([AttentionModuleSchema, ConvModuleSchema, GffnModuleSchema, FfnModuleSchema]);

/**
 * `oneOf` with a `discriminator` (rather than TypeBox's `anyOf`): ajv then checks only the branch that `type`
 * names, so a bad `kernelSize` yields one message, not one per module kind.
 */
export const ModuleSchema = Type.Unsafe<Static<typeof ModuleUnion>>({
  oneOf: ModuleUnion.anyOf,
  discriminator: { propertyName: 'type' },
  type: 'object',
  required: ['type'],
  ...doc('One module of a layer: `attention`, `conv`, `gffn` or `ffn`. Each runs as a residual branch with its own LayerNorm (before it with pre-norm, after the add with post-norm).'),
  errorMessage: 'A module is an object with "type": one of "attention", "conv", "gffn", "ffn".',
});

const ModuleList = Type.Array(ModuleSchema, {
  minItems: 1,
  maxItems: 16,
  ...doc('Modules in the order they run. BERT: `attention`, `ffn`. GroupBERT: `conv`, `gffn`, `attention`, `gffn`.'),
  defaultSnippets: [
    { label: 'BERT layer', body: [{ type: 'attention' }, { type: 'ffn' }] },
    { label: 'GroupBERT layer', body: [{ type: 'conv' }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] },
  ],
});

export const LayerTemplateSchema = Type.Object(
  { modules: ModuleList },
  {
    additionalProperties: false,
    ...doc('The default layer: every layer uses these modules unless `layerOverrides` says otherwise.'),
    defaultSnippets: [
      { label: 'BERT layer', body: { modules: [{ type: 'attention' }, { type: 'ffn' }] } },
      { label: 'GroupBERT layer', body: { modules: [{ type: 'conv' }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } },
    ],
  },
);

export const LAYER_RANGE_PATTERN = '^\\s*\\d+(\\s*-\\s*\\d+)?(\\s*,\\s*\\d+(\\s*-\\s*\\d+)?)*\\s*$';

export const LayerOverrideSchema = Type.Object(
  {
    layers: Type.Union(
      [
        Type.Array(Type.Integer({ minimum: 0, maximum: 1023 }), { minItems: 1, maxItems: 1024, description: 'Zero-based layer indices.' }),
        Type.String({ pattern: LAYER_RANGE_PATTERN, description: 'Zero-based ranges, e.g. "0-3" or "0,2,8-11".' }),
      ],
      {
        ...doc('Which layers (zero-based) take these modules: a list like `[0, 1]` or ranges like `"0-3"` / `"0,2,8-11"`.'),
        errorMessage: 'Expected zero-based layer indices: a list like [0, 1] or ranges like "0-3" or "0,2,8-11".',
        patternErrorMessage: 'Expected ranges like "0-3" or "0,2,8-11" (zero-based).',
      },
    ),
    modules: ModuleList,
  },
  {
    additionalProperties: false,
    ...doc('Modules for some layers only, so structure can vary with depth (say, conv in the lower layers only). Later overrides win.'),
    defaultSnippets: [{ label: 'override some layers', body: { layers: '${1:0-3}', modules: [{ type: 'conv' }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } }],
  },
);

// ---------------------------------------------------------------------------------------------------------
// Model

export const HeadsSchema = Type.Object(
  {
    mlm: Type.Optional(
      bool('Masked-LM head: dense + activation + LayerNorm transform, then a decoder **tied to the word embedding** with a vocabulary bias. Needed for pretraining.', { default: true }),
    ),
    nsp: Type.Optional(bool('Next-sentence prediction head (2 classes on the pooled [CLS]). Needs the pooler. On in BERT and GroupBERT pretraining.', { default: true })),
    pooler: Type.Optional(bool('Pooler: tanh(dense(h[CLS])), hidden² + hidden parameters.', { default: true })),
  },
  { additionalProperties: false, ...doc('Heads of the pretraining model (HF `BertForPreTraining` layout).') },
);

export const ModelSchema = Type.Object(
  {
    vocabSize: Type.Optional(int(8, 1_000_000, 'Word-piece vocabulary size. BERT uses 30522. The word embedding (vocab·hidden) is usually the largest single tensor; the tokenizer is trained to this size.', { default: 30522 })),
    maxPositions: Type.Optional(int(1, 65_536, 'Learned absolute position embeddings: the longest sequence the model accepts. 512 in BERT and GroupBERT.', { default: 512 })),
    tokenTypes: Type.Optional(int(0, 64, 'Token-type (segment) embeddings. 2 for sentence pairs (NSP); 0 drops the table.', { default: 2 })),
    hiddenSize: Type.Optional(int(1, 65_536, 'Model width H. Parameters grow as H², FLOPs per token as H². Base: 768, Large: 1024.')),
    numLayers: Type.Optional(int(1, 1024, 'Number of layers L. Parameters and FLOPs grow linearly. Base: 12, Large: 24.')),
    numHeads: Type.Optional(int(1, 256, 'Default attention heads per attention module. Base: 12 (head size 64), Large: 16.')),
    intermediateSize: Type.Optional(int(1, 1_000_000, 'Default FFN / GFFN intermediate width I. Defaults to 4·hidden, as in BERT and GroupBERT.')),
    layerNormEps: Type.Optional(num(0, 1, 'LayerNorm ε. BERT 1e-12; GroupBERT\'s reference code 1e-3.', { default: 1e-12 })),
    normPlacement: Type.Optional(
      choice(
        {
          post: '`post`: BERT. LayerNorm after each residual add; no final LayerNorm.',
          pre: '`pre`: GroupBERT. LayerNorm at the start of each branch, the residual path stays un-normalised, plus a final LayerNorm. Trains stably at higher learning rates.',
        },
        'Where each module\'s LayerNorm sits.',
        { default: 'post' },
      ),
    ),
    hiddenDropout: Type.Optional(num(0, 1, 'Dropout on each module\'s output and on the embeddings. BERT 0.1; GroupBERT pretraining 0.0.', { default: 0.1 })),
    attentionDropout: Type.Optional(num(0, 1, 'Dropout on attention probabilities. BERT 0.1; GroupBERT pretraining 0.0.', { default: 0.1 })),
    activation: Type.Optional(
      choice(
        { gelu: '`gelu`: exact erf GELU (BERT, HF).', gelu_tanh: '`gelu_tanh`: tanh approximation of GELU, slightly cheaper.', relu: '`relu`: the original Transformer\'s.', swish: '`swish`: x·sigmoid(x) (SiLU).' },
        'Activation of the FFN up-projection and of the MLM transform.',
        { default: 'gelu' },
      ),
    ),
    initializerRange: Type.Optional(num(0, 10, 'σ of the truncated normal (at ±2σ) for dense and embedding weights. 0.02 in BERT and GroupBERT.', { default: 0.02 })),
    heads: Type.Optional(HeadsSchema),
    layer: Type.Optional(LayerTemplateSchema),
    layerOverrides: Type.Optional(
      Type.Array(LayerOverrideSchema, { maxItems: 1024, ...doc('Per-layer structure: modules for chosen layers, replacing `layer.modules` there.') }),
    ),
  },
  { additionalProperties: false, ...doc('The encoder architecture: sizes, normalisation, layer structure and pretraining heads.') },
);

// ---------------------------------------------------------------------------------------------------------
// Training

export const CorpusSchema = Type.Union(
  [
    Type.Literal('bundled', doc('The bundled corpus: State of the Union addresses 1790–2021 (public domain, 10.8 MB, 1.8 M words).')),
    Type.Array(Type.String({ minLength: 1, description: 'A path or glob, relative to the spec file.' }), {
      minItems: 1,
      ...doc('Plain-text files or globs, relative to the spec file. Documents are separated by blank lines.'),
    }),
  ],
  {
    ...doc('Training text: `"bundled"` or a list of text files / globs relative to the spec.', { default: 'bundled' }),
    errorMessage: 'Expected "bundled" or a list of file paths / globs.',
  },
);

export const TokenizerSchema = Type.Object(
  {
    vocabSize: Type.Optional(int(8, 1_000_000, 'WordPiece vocabulary to train on the corpus (cached by corpus hash). Defaults to `model.vocabSize`; may not exceed it.')),
    vocabFile: Type.Optional(Type.String({ minLength: 1, ...doc('A BERT `vocab.txt` (one word piece per line) to use instead of training one, relative to the spec.') })),
    lowercase: Type.Optional(bool('Lower-case and strip accents before tokenising (BERT "uncased").', { default: true })),
  },
  { additionalProperties: false, ...doc('The WordPiece tokenizer: trained on the corpus, or loaded from a vocab file.') },
);

export const OptimizerSchema = Type.Object(
  {
    type: Type.Optional(
      choice(
        {
          adamw: '`adamw`: Adam with decoupled weight decay. GroupBERT\'s per-size Adam recipe (lr 8e-4 at Base).',
          lamb: '`lamb`: layer-wise adaptive trust ratio ‖w‖/‖update‖ per tensor, for large batches. GroupBERT\'s LAMB recipe (lr 0.012 at batch 65k).',
        },
        'The optimizer. LayerNorm parameters and biases are excluded from weight decay (and from LAMB\'s trust ratio).',
        { default: 'adamw' },
      ),
    ),
    beta1: Type.Optional(num(0, 0.999999, 'First-moment decay β₁.', { default: 0.9 })),
    beta2: Type.Optional(num(0, 0.999999, 'Second-moment decay β₂.', { default: 0.999 })),
    epsilon: Type.Optional(num(0, 1, 'ε added to the root of the second moment. 1e-6 in the GroupBERT recipes.', { default: 1e-6 })),
    biasCorrection: Type.Optional(bool('Adam bias correction. Off in GroupBERT\'s AdamW recipe, on in its LAMB recipe.', { default: true })),
  },
  { additionalProperties: false, ...doc('Optimizer and its hyper-parameters.') },
);

export const ScheduleSchema = Type.Object(
  {
    peak: Type.Optional(num(0, 10, 'Peak learning rate, reached at the end of warmup.', { default: 1e-3 })),
    final: Type.Optional(num(0, 10, 'Learning rate at the last step (floor of the decay).', { default: 1e-7 })),
    warmupSteps: Type.Optional(int(0, 100_000_000, 'Steps of warmup from 0 to the peak.', { default: 100 })),
    warmupPower: Type.Optional(num(0, 4, 'Warmup shape lr = peak·(t/W)^p: 1 is linear (BERT), 0.5 square-root (GroupBERT LAMB).', { default: 1 })),
    decay: Type.Optional(
      choice(
        { linear: '`linear`: straight to `final` at the last step.', polynomial: '`polynomial`: (1 − progress)^power.', cosine: '`cosine`: half a cosine.', constant: '`constant`: stay at the peak.' },
        'Decay after warmup.',
        { default: 'linear' },
      ),
    ),
    decayPower: Type.Optional(num(0, 10, 'Power of the `polynomial` decay.', { default: 1 })),
  },
  { additionalProperties: false, ...doc('Learning-rate schedule: warmup, then decay.') },
);

/** Every backend name, in the order `auto` tries them (generated from the engine registry, src/engines). */
type EngineBackendName = (typeof ENGINE_BACKENDS)[number]['name'];

export const BACKEND_DESCRIPTIONS: Record<'auto' | EngineBackendName, string> = {
  auto: `\`auto\`: the fastest that loads: ${ENGINE_BACKENDS.map((b) => b.name).join(' → ')}.`,
  ...(Object.fromEntries(ENGINE_BACKENDS.map((b) => [b.name, b.description])) as Record<EngineBackendName, string>),
};
export type BackendName = keyof typeof BACKEND_DESCRIPTIONS;

type EngineName = (typeof ENGINE_DESCRIPTIONS)[number]['id'];
export const ENGINE_CHOICES: Record<'auto' | EngineName, string> = {
  auto: `\`auto\`: PyTorch when Python with PyTorch sees a GPU here (CUDA or Apple MPS), else ${ENGINE_DESCRIPTIONS[0].id}; a \`backend\` other than auto names its engine.`,
  ...(Object.fromEntries(ENGINE_DESCRIPTIONS.map((e) => [e.id, `\`${e.id}\`: ${e.description}`])) as Record<EngineName, string>),
};
export type EngineChoice = keyof typeof ENGINE_CHOICES;

export const PRECISIONS = {
  fp32: '`fp32`: float32 everywhere (the only precision of the TF.js engine).',
  tf32: '`tf32`: float32 weights, TensorFloat-32 matrix products on NVIDIA GPUs (torch engine).',
  bf16: '`bf16`: bfloat16 autocast with float32 master weights and optimizer (torch engine).',
} as const;
export type Precision = keyof typeof PRECISIONS;

/**
 * The most memory each backend can use for training, whatever the budget: the hard limit the fit check
 * (`core/cost/fit.ts`) holds the cost model's estimate against. `machine` means the machine's memory (known only
 * at run time), `unknown` that no figure can be stated here (a GPU's memory); `auto` is the limit of the backend
 * `auto` picks. Each backend declares its own (src/engines/tfjs/backends/<name>/index.ts; wasm: WebAssembly memory
 * is 32-bit, and TF.js's own code, stacks and allocator need some of it).
 */
export const BACKEND_MEMORY_LIMITS: Record<Exclude<BackendName, 'auto'>, { limit: number | 'machine' | 'unknown'; why: string }> = Object.fromEntries(
  ENGINE_BACKENDS.map((b) => [b.name, { limit: b.memory.limit, why: b.memory.why }]),
) as Record<EngineBackendName, { limit: number | 'machine' | 'unknown'; why: string }>;

export const TrainingSchema = Type.Object(
  {
    corpus: Type.Optional(CorpusSchema),
    tokenizer: Type.Optional(TokenizerSchema),
    sequenceLength: Type.Optional(int(8, 65_536, 'Tokens per training sequence S. Must not exceed `model.maxPositions`. Attention FLOPs grow with S per token. 128 in pretraining phase 1.', { default: 128 })),
    batchSize: Type.Optional(int(1, 1_000_000, 'Sequences per optimizer step (per micro-batch when accumulating).', { default: 16 })),
    gradientAccumulation: Type.Optional(int(1, 65_536, 'Micro-batches summed before each optimizer step: effective batch = batchSize × this, at the memory of one micro-batch.', { default: 1 })),
    steps: Type.Optional(int(1, 1_000_000_000, 'Optimizer steps to train. Ignored when `flopBudget` is set.', { default: 1000 })),
    flopBudget: Type.Optional(num(1, 1e30, 'Stop when the training FLOPs (from the cost model) reach this budget, e.g. `1e15`. Overrides `steps`. Compare architectures at equal compute.')),
    optimizer: Type.Optional(OptimizerSchema),
    learningRate: Type.Optional(ScheduleSchema),
    weightDecay: Type.Optional(num(0, 10, 'Decoupled weight decay (not on LayerNorm or biases). 0.01 in BERT and GroupBERT.', { default: 0.01 })),
    gradientClipNorm: Type.Optional(num(0, 1e6, 'Clip the global gradient norm to this; 0 turns clipping off.', { default: 1 })),
    maskRate: Type.Optional(num(0.01, 0.9, 'Share of tokens selected for masked-LM; of those 80% become [MASK], 10% a random token, 10% stay. 0.15 in BERT.', { default: 0.15 })),
    maxPredictions: Type.Optional(int(1, 65_536, 'Masked positions per sequence at most (20 at S=128 in BERT). Defaults to ceil(maskRate·S).')),
    seed: Type.Optional(int(0, 4_294_967_295, 'Seed for initialisation, data order, masking and dropout: the same seed gives the same run.', { default: 42 })),
    validationFraction: Type.Optional(num(0, 0.5, 'Share of documents held out for evaluation.', { default: 0.02 })),
    evalInterval: Type.Optional(int(1, 1_000_000_000, 'Steps between evaluations (validation loss, accuracy, attention/conv probes).', { default: 100 })),
    evalBatches: Type.Optional(int(1, 100_000, 'Validation batches per evaluation.', { default: 4 })),
    checkpointInterval: Type.Optional(int(1, 1_000_000_000, 'Steps between checkpoints (written atomically; resume continues the same trajectory).', { default: 200 })),
    engine: Type.Optional(choice(ENGINE_CHOICES, 'The engine that trains: TF.js (in Node, everywhere) or PyTorch (Python; CUDA, MPS or the CPU; torchrun for many processes).', { default: 'auto' })),
    backend: Type.Optional(choice(BACKEND_DESCRIPTIONS, "The engine's backend: a TF.js backend, or a PyTorch device.", { default: 'auto' })),
    precision: Type.Optional(choice(PRECISIONS, 'Numeric precision of training (the torch engine; TF.js trains in fp32).', { default: 'fp32' })),
    compile: Type.Optional(Type.Boolean(doc('Compile the model with `torch.compile` where the installed PyTorch has it (torch engine; ignored with a note elsewhere).', { default: false }))),
    memoryBudgetMiB: Type.Optional(int(16, 16_777_216, 'Warn when the estimated training memory (weights, gradients, optimizer state, activations) exceeds this. The wasm backend cannot address more than 4096 MiB.', { default: 4096 })),
  },
  { additionalProperties: false, ...doc('Masked-LM pretraining: data, optimisation, schedule, evaluation and backend.') },
);

// ---------------------------------------------------------------------------------------------------------
// The file

export const SpecFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String(doc('The JSON Schema of this file, for editors other than VS Code.'))),
    version: Type.Literal(SPEC_VERSION, doc('Spec format version. Always `1` for now.', { errorMessage: 'Expected 1: the only spec format version so far.' })),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
        ...doc('A short name for the model, used in run names and charts.'),
        patternErrorMessage: 'Use letters, digits, ".", "_" and "-", starting with a letter or digit.',
      }),
    ),
    description: Type.Optional(Type.String(doc('Free text: what this variant tries.'))),
    extends: Type.Optional(
      Type.Unsafe<string>({
        type: 'string',
        enum: [...PRESET_NAMES],
        enumDescriptions: PRESET_NAMES.map((n) => PRESET_SUMMARIES[n]),
        ...doc('Start from a preset and override only what differs. Objects merge; arrays (module lists) replace.'),
        errorMessage: `Unknown preset. Presets: ${PRESET_NAMES.join(', ')}.`,
      }),
    ),
    model: Type.Optional(ModelSchema),
    training: Type.Optional(TrainingSchema),
  },
  {
    $id: SCHEMA_ID,
    title: 'ConvBERT Studio architecture spec',
    additionalProperties: false,
    // Without a preset to start from, the three sizes that have no sensible default must be given.
    if: { not: { required: ['extends'] } },
    then: {
      required: ['model'],
      properties: { model: { required: ['hiddenSize', 'numLayers', 'numHeads'] } },
    },
    defaultSnippets: PRESET_NAMES.map((preset) => ({
      label: `preset: ${preset}`,
      description: PRESET_SUMMARIES[preset],
      body: { version: 1, name: '${1:my-' + preset + '}', extends: preset },
    })),
    allowComments: true,
    allowTrailingCommas: true,
    ...doc(`A BERT-style encoder: BERT or ${PAPER}, its pretraining heads and how to train it.`),
  },
);

export type SpecFile = Static<typeof SpecFileSchema>;
export type ModelSection = Static<typeof ModelSchema>;
export type TrainingSection = Static<typeof TrainingSchema>;
export type ModuleSpec = Static<typeof ModuleSchema>;
export type AttentionModuleSpec = Static<typeof AttentionModuleSchema>;
export type ConvModuleSpec = Static<typeof ConvModuleSchema>;
export type GffnModuleSpec = Static<typeof GffnModuleSchema>;
export type FfnModuleSpec = Static<typeof FfnModuleSchema>;

export type AnySchema = TSchema;
