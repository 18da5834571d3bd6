/**
 * Resolution turns a schema-valid spec file into a complete `ResolvedSpec`: the preset named by `extends` is
 * merged under the file (objects merge, arrays replace), defaults fill the rest, and the layer template and
 * overrides expand into one module list per layer. Every module remembers where in the file it came from,
 * so semantic diagnostics can point at it.
 */
import { isPresetName } from './preset-names';
import { PRESETS } from './presets';
import type { BackendName, EngineChoice, ModuleSpec, Precision, SpecFile } from './schema';

export type JsonPath = (string | number)[];

export interface AttentionModule {
  type: 'attention';
  heads: number;
  qkvBias: boolean;
  projectionBias: boolean;
}
export interface ConvModule {
  type: 'conv';
  kernelSize: number;
  channelsPerGroup: number;
  glu: boolean;
  norm: boolean;
  bias: boolean;
  padding: 'same' | 'causal';
}
export interface GffnModule {
  type: 'gffn';
  groups: number;
  mixer: boolean;
  intermediateSize: number;
}
export interface FfnModule {
  type: 'ffn';
  intermediateSize: number;
}
export type ResolvedModule = AttentionModule | ConvModule | GffnModule | FfnModule;

export interface ResolvedLayer {
  index: number;
  modules: ResolvedModule[];
  /** Where each module is written in the file (`undefined` when it comes from the preset). */
  sources: (JsonPath | undefined)[];
}

export interface ResolvedModel {
  vocabSize: number;
  maxPositions: number;
  tokenTypes: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  normPlacement: 'pre' | 'post';
  hiddenDropout: number;
  attentionDropout: number;
  activation: 'gelu' | 'gelu_tanh' | 'relu' | 'swish';
  initializerRange: number;
  heads: { mlm: boolean; nsp: boolean; pooler: boolean };
  layers: ResolvedLayer[];
}

export interface ResolvedTraining {
  corpus: 'bundled' | string[];
  tokenizer: { vocabSize: number; vocabFile?: string; lowercase: boolean };
  sequenceLength: number;
  batchSize: number;
  gradientAccumulation: number;
  steps: number;
  flopBudget?: number;
  optimizer: { type: 'adamw' | 'lamb'; beta1: number; beta2: number; epsilon: number; biasCorrection: boolean };
  learningRate: {
    peak: number;
    final: number;
    warmupSteps: number;
    warmupPower: number;
    decay: 'linear' | 'polynomial' | 'cosine' | 'constant';
    decayPower: number;
  };
  weightDecay: number;
  gradientClipNorm: number;
  maskRate: number;
  maxPredictions: number;
  seed: number;
  validationFraction: number;
  evalInterval: number;
  evalBatches: number;
  checkpointInterval: number;
  engine: EngineChoice;
  backend: BackendName;
  precision: Precision;
  compile: boolean;
  memoryBudgetMiB: number;
}

export interface ResolvedSpec {
  version: 1;
  name: string;
  description?: string;
  extends?: string;
  model: ResolvedModel;
  training: ResolvedTraining;
}

const BERT_TEMPLATE: ModuleSpec[] = [{ type: 'attention' }, { type: 'ffn' }];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else (arrays included) in `over` replaces what is in `base`. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = deepMerge(out[key], value);
  return out as T;
}

/** Parses a layer selection (`[0, 2]` or `"0-3,8"`) into sorted unique indices; `undefined` if malformed. */
export function parseLayerSelection(selection: number[] | string): number[] | undefined {
  if (Array.isArray(selection)) return [...new Set(selection)].sort((a, b) => a - b);
  const out = new Set<number>();
  for (const part of selection.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 1_000_000) return undefined;
    for (let i = from; i <= to; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

function resolveModule(m: ModuleSpec, model: { numHeads: number; intermediateSize: number }): ResolvedModule {
  switch (m.type) {
    case 'attention':
      return { type: 'attention', heads: m.heads ?? model.numHeads, qkvBias: m.qkvBias ?? true, projectionBias: m.projectionBias ?? true };
    case 'conv':
      return {
        type: 'conv',
        kernelSize: m.kernelSize ?? 7,
        channelsPerGroup: m.channelsPerGroup ?? 16,
        glu: m.glu ?? true,
        norm: m.norm ?? true,
        bias: m.bias ?? true,
        padding: m.padding ?? 'same',
      };
    case 'gffn':
      return { type: 'gffn', groups: m.groups ?? 4, mixer: m.mixer ?? true, intermediateSize: m.intermediateSize ?? model.intermediateSize };
    case 'ffn':
      return { type: 'ffn', intermediateSize: m.intermediateSize ?? model.intermediateSize };
  }
}

/**
 * Resolves a spec file that has passed the schema. It does not throw on schema-valid input; semantic problems
 * (sizes that do not divide, overrides past the last layer…) are left for `validate` to report.
 */
export function resolveSpec(file: SpecFile): ResolvedSpec {
  const preset = isPresetName(file.extends) ? PRESETS[file.extends] : undefined;
  const merged: SpecFile = preset ? deepMerge(preset, file) : file;
  const m = merged.model ?? {};
  const t = merged.training ?? {};

  const hiddenSize = m.hiddenSize ?? 768;
  const numHeads = m.numHeads ?? 12;
  const intermediateSize = m.intermediateSize ?? 4 * hiddenSize;
  const numLayers = m.numLayers ?? 12;
  const sizes = { numHeads, intermediateSize };

  // Modules written in this file carry their path; those inherited from the preset carry none.
  const templateFromFile = file.model?.layer?.modules !== undefined;
  const template = (merged.model?.layer?.modules ?? BERT_TEMPLATE).map((spec, i) => ({
    module: resolveModule(spec, sizes),
    source: templateFromFile ? (['model', 'layer', 'modules', i] as JsonPath) : undefined,
  }));
  const perLayer = Array.from({ length: numLayers }, () => template);
  const overridesFromFile = file.model?.layerOverrides !== undefined;
  (merged.model?.layerOverrides ?? []).forEach((override, o) => {
    const indices = parseLayerSelection(override.layers) ?? [];
    const modules = override.modules.map((spec, i) => ({
      module: resolveModule(spec, sizes),
      source: overridesFromFile ? (['model', 'layerOverrides', o, 'modules', i] as JsonPath) : undefined,
    }));
    for (const index of indices) if (index < numLayers) perLayer[index] = modules;
  });

  const seq = t.sequenceLength ?? 128;
  const maskRate = t.maskRate ?? 0.15;
  const vocabSize = m.vocabSize ?? 30522;
  const lr = t.learningRate ?? {};
  const opt = t.optimizer ?? {};

  return {
    version: 1,
    name: merged.name ?? merged.extends ?? 'model',
    ...(merged.description !== undefined ? { description: merged.description } : {}),
    ...(file.extends !== undefined ? { extends: file.extends } : {}),
    model: {
      vocabSize,
      maxPositions: m.maxPositions ?? 512,
      tokenTypes: m.tokenTypes ?? 2,
      hiddenSize,
      numLayers,
      numHeads,
      intermediateSize,
      layerNormEps: m.layerNormEps ?? 1e-12,
      normPlacement: m.normPlacement ?? 'post',
      hiddenDropout: m.hiddenDropout ?? 0.1,
      attentionDropout: m.attentionDropout ?? 0.1,
      activation: m.activation ?? 'gelu',
      initializerRange: m.initializerRange ?? 0.02,
      heads: { mlm: m.heads?.mlm ?? true, nsp: m.heads?.nsp ?? true, pooler: m.heads?.pooler ?? true },
      layers: perLayer.map((entries, index) => ({
        index,
        modules: entries.map((e) => e.module),
        sources: entries.map((e) => e.source),
      })),
    },
    training: {
      corpus: t.corpus ?? 'bundled',
      tokenizer: {
        vocabSize: t.tokenizer?.vocabSize ?? vocabSize,
        ...(t.tokenizer?.vocabFile !== undefined ? { vocabFile: t.tokenizer.vocabFile } : {}),
        lowercase: t.tokenizer?.lowercase ?? true,
      },
      sequenceLength: seq,
      batchSize: t.batchSize ?? 16,
      gradientAccumulation: t.gradientAccumulation ?? 1,
      steps: t.steps ?? 1000,
      ...(t.flopBudget !== undefined ? { flopBudget: t.flopBudget } : {}),
      optimizer: {
        type: opt.type ?? 'adamw',
        beta1: opt.beta1 ?? 0.9,
        beta2: opt.beta2 ?? 0.999,
        epsilon: opt.epsilon ?? 1e-6,
        biasCorrection: opt.biasCorrection ?? true,
      },
      learningRate: {
        peak: lr.peak ?? 1e-3,
        final: lr.final ?? 1e-7,
        warmupSteps: lr.warmupSteps ?? 100,
        warmupPower: lr.warmupPower ?? 1,
        decay: lr.decay ?? 'linear',
        decayPower: lr.decayPower ?? 1,
      },
      weightDecay: t.weightDecay ?? 0.01,
      gradientClipNorm: t.gradientClipNorm ?? 1,
      maskRate,
      maxPredictions: t.maxPredictions ?? Math.ceil(maskRate * seq),
      seed: t.seed ?? 42,
      validationFraction: t.validationFraction ?? 0.02,
      evalInterval: t.evalInterval ?? 100,
      evalBatches: t.evalBatches ?? 4,
      checkpointInterval: t.checkpointInterval ?? 200,
      engine: t.engine ?? 'auto',
      backend: t.backend ?? 'auto',
      precision: t.precision ?? 'fp32',
      compile: t.compile ?? false,
      memoryBudgetMiB: t.memoryBudgetMiB ?? 4096,
    },
  };
}
