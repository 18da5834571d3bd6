/**
 * Every parameter of a model, by name, shape and initialiser: one table (`parameterShapes`) that the variable
 * builder, the modules and the tests read, so the names, the shapes and the cost model's parameter counts cannot
 * drift apart. Nothing here allocates a tensor until `createVariables`.
 *
 * Names say where a weight lives (design.md): `embeddings/word`, `layer03/conv/glu_gate/kernel`,
 * `layer03/gffn1/down/kernel`, `layer03/attention/query/kernel`, `layer03/attention/norm/gamma`,
 * `final_norm/gamma`, `mlm/transform/kernel`, `mlm/bias`, `pooler/kernel`, `nsp/kernel`. The module part is the
 * cost model's module name (`layer03/gffn2` when a kind repeats in a layer), so per-module figures line up.
 *
 * Initialisation (groupbert.md §10.8, Graphcore's TF1 reference):
 * - dense kernels and embedding tables: truncated normal, σ = `initializerRange`, redrawn outside ±2σ;
 * - biases 0, except the grouped down-projection bias of a GFFN (truncated normal, as in the reference);
 * - LayerNorm γ = 1, β = 0;
 * - the grouped conv kernel: Glorot-uniform with fans of the reference [k, g, H] shape, fan_in = k·g,
 *   fan_out = k·H, i.e. U(±√(6 / (k·g + k·H))).
 * Every parameter draws from its own generator, seeded by (seed, name): the values do not depend on the order
 * parameters are created in, or on which other parameters exist.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedLayer, ResolvedModel, ResolvedModule } from '../spec/resolve';
import { Rng, truncatedNormalArray, uniformArray } from '../rng';

export type Initializer =
  | { kind: 'truncatedNormal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'glorotUniform'; fanIn: number; fanOut: number };

export interface ParamSpec {
  /** `layer03/conv/glu_gate/kernel`. */
  name: string;
  shape: number[];
  init: Initializer;
  /** The cost model's module the parameter belongs to: `embeddings`, `layer03/conv`, `final_norm`, `mlm_head`, `pooler`, `nsp_head`. */
  module: string;
}

/** Thrown for a model spec the model cannot be built from (sizes that do not divide, no loss head). */
export class ModelSpecError extends Error {
  override readonly name = 'ModelSpecError';
}

/** `layer03` (at least two digits, more for ≥ 100 layers: the cost model's layer prefix). */
export function layerName(index: number, numLayers: number): string {
  const digits = Math.max(2, String(numLayers - 1).length);
  return `layer${String(index).padStart(digits, '0')}`;
}

/** Module names within a layer, as the cost model names them: `conv`, `gffn1`, `attention`, `gffn2`. */
export function moduleNames(modules: readonly ResolvedModule[]): string[] {
  const total = { attention: 0, conv: 0, gffn: 0, ffn: 0 };
  for (const m of modules) total[m.type]++;
  const seen = { attention: 0, conv: 0, gffn: 0, ffn: 0 };
  return modules.map((m) => {
    const n = ++seen[m.type];
    return total[m.type] > 1 ? `${m.type}${n}` : m.type;
  });
}

/** The prefixes (`layer03/gffn1`) of every module of a layer, in order. */
export function modulePrefixes(layer: ResolvedLayer, numLayers: number): string[] {
  const l = layerName(layer.index, numLayers);
  return moduleNames(layer.modules).map((n) => `${l}/${n}`);
}

/** Whether a GFFN has its H×H mixer (only when asked for and the down-projection is really grouped). */
export function gffnHasMixer(m: { groups: number; mixer: boolean }): boolean {
  return m.mixer && m.groups > 1;
}

function need(ok: boolean, message: string): void {
  if (!ok) throw new ModelSpecError(message);
}

/** Throws `ModelSpecError` unless every size divides as the modules need. */
export function checkModelSpec(model: ResolvedModel): void {
  const H = model.hiddenSize;
  need(Number.isInteger(H) && H > 0, `hiddenSize must be a positive whole number, got ${H}`);
  need(model.heads.mlm || model.heads.nsp, 'the model has neither an MLM nor an NSP head: there is nothing to train');
  need(model.layers.length === model.numLayers, `the spec lists ${model.layers.length} layers for numLayers ${model.numLayers}`);
  for (const layer of model.layers) {
    const prefixes = modulePrefixes(layer, model.numLayers);
    layer.modules.forEach((m, i) => {
      const where = prefixes[i]!;
      switch (m.type) {
        case 'attention':
          need(H % m.heads === 0, `${where}: hidden size ${H} is not divisible by ${m.heads} heads`);
          break;
        case 'conv':
          need(H % m.channelsPerGroup === 0, `${where}: hidden size ${H} is not divisible by channelsPerGroup ${m.channelsPerGroup}`);
          need(m.kernelSize >= 1, `${where}: kernelSize must be ≥ 1`);
          break;
        case 'gffn':
          need(m.intermediateSize % m.groups === 0, `${where}: intermediate size ${m.intermediateSize} is not divisible by ${m.groups} groups`);
          need(H % m.groups === 0, `${where}: hidden size ${H} is not divisible by ${m.groups} groups`);
          break;
        case 'ffn':
          break;
      }
    });
  }
}

/** The parameters of one layer module, its own LayerNorm (pre or post) included. */
export function moduleParameterShapes(prefix: string, m: ResolvedModule, model: ResolvedModel): ParamSpec[] {
  const H = model.hiddenSize;
  const normal: Initializer = { kind: 'truncatedNormal', std: model.initializerRange };
  const zeros: Initializer = { kind: 'zeros' };
  const out: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: Initializer) => out.push({ name: `${prefix}/${name}`, shape, init, module: prefix });
  const denseLayer = (name: string, fanIn: number, fanOut: number, bias: boolean, biasInit: Initializer = zeros) => {
    add(`${name}/kernel`, [fanIn, fanOut], normal);
    if (bias) add(`${name}/bias`, [fanOut], biasInit);
  };
  switch (m.type) {
    case 'attention':
      for (const p of ['query', 'key', 'value']) denseLayer(p, H, H, m.qkvBias);
      denseLayer('output', H, H, m.projectionBias);
      break;
    case 'conv': {
      const k = m.kernelSize;
      const g = m.channelsPerGroup;
      if (m.glu) {
        denseLayer('glu_value', H, H, true);
        denseLayer('glu_gate', H, H, true);
      }
      // im2col layout of core/ops' groupedConv1d: [groups, k·g, g].
      add('grouped/kernel', [H / g, k * g, g], { kind: 'glorotUniform', fanIn: k * g, fanOut: k * H });
      if (m.bias) add('grouped/bias', [H], zeros);
      if (m.norm) {
        add('inner_norm/gamma', [H], { kind: 'ones' });
        add('inner_norm/beta', [H], zeros);
      }
      denseLayer('output', H, H, true);
      break;
    }
    case 'gffn': {
      const I = m.intermediateSize;
      const G = m.groups;
      denseLayer('up', H, I, true);
      add('down/kernel', [G, I / G, H / G], normal);
      add('down/bias', [H], normal); // the reference's quirk: trunc-normal, not zeros
      if (gffnHasMixer(m)) denseLayer('mixer', H, H, true);
      break;
    }
    case 'ffn':
      denseLayer('up', H, m.intermediateSize, true);
      denseLayer('down', m.intermediateSize, H, true);
      break;
  }
  add('norm/gamma', [H], { kind: 'ones' });
  add('norm/beta', [H], zeros);
  return out;
}

/** Every parameter of the model, in a fixed order: embeddings, layers, final norm, MLM head, pooler, NSP. */
export function parameterShapes(model: ResolvedModel): ParamSpec[] {
  checkModelSpec(model);
  const H = model.hiddenSize;
  const normal: Initializer = { kind: 'truncatedNormal', std: model.initializerRange };
  const out: ParamSpec[] = [];
  const add = (module: string, name: string, shape: number[], init: Initializer) => out.push({ name, shape, init, module });
  const norm = (module: string, prefix: string) => {
    add(module, `${prefix}/gamma`, [H], { kind: 'ones' });
    add(module, `${prefix}/beta`, [H], { kind: 'zeros' });
  };

  add('embeddings', 'embeddings/word', [model.vocabSize, H], normal);
  add('embeddings', 'embeddings/position', [model.maxPositions, H], normal);
  if (model.tokenTypes > 0) add('embeddings', 'embeddings/token_type', [model.tokenTypes, H], normal);
  norm('embeddings', 'embeddings/norm');

  for (const layer of model.layers) {
    const prefixes = modulePrefixes(layer, model.numLayers);
    layer.modules.forEach((m, i) => out.push(...moduleParameterShapes(prefixes[i]!, m, model)));
  }

  if (model.normPlacement === 'pre') norm('final_norm', 'final_norm');
  if (model.heads.mlm) {
    add('mlm_head', 'mlm/transform/kernel', [H, H], normal);
    add('mlm_head', 'mlm/transform/bias', [H], { kind: 'zeros' });
    norm('mlm_head', 'mlm/transform/norm');
    add('mlm_head', 'mlm/bias', [model.vocabSize], { kind: 'zeros' }); // the decoder itself is the word table
  }
  if (model.heads.pooler) {
    add('pooler', 'pooler/kernel', [H, H], normal);
    add('pooler', 'pooler/bias', [H], { kind: 'zeros' });
  }
  if (model.heads.nsp) {
    add('nsp_head', 'nsp/kernel', [H, 2], normal);
    add('nsp_head', 'nsp/bias', [2], { kind: 'zeros' });
  }
  return out;
}

export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Σ of the parameter sizes. */
export function countParameters(shapes: readonly ParamSpec[]): number {
  let n = 0;
  for (const p of shapes) n += sizeOfShape(p.shape);
  return n;
}

/** FNV-1a of a name: the per-parameter stream of the initialisation generator. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The initial values of one parameter (host array), from (seed, name). */
export function initialValues(p: ParamSpec, seed: number): Float32Array {
  const n = sizeOfShape(p.shape);
  switch (p.init.kind) {
    case 'zeros':
      return new Float32Array(n);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'truncatedNormal':
      return truncatedNormalArray(Rng.fromSeed(seed, nameHash(p.name)), n, p.init.std, 2);
    case 'glorotUniform': {
      const limit = Math.sqrt(6 / (p.init.fanIn + p.init.fanOut));
      return uniformArray(Rng.fromSeed(seed, nameHash(p.name)), n, -limit, limit);
    }
  }
}

let modelCounter = 0;

/**
 * Creates the variables of `shapes` (trainable float32) with their initial values, keyed by parameter name.
 * TF.js variable names must be unique in the process, so the engine names get a per-model prefix (`m3/…`).
 */
export function createVariables(shapes: readonly ParamSpec[], seed: number): Map<string, tf.Variable> {
  const prefix = `m${++modelCounter}`;
  const out = new Map<string, tf.Variable>();
  try {
    for (const p of shapes) {
      const v = tf.tidy(() => tf.variable(tf.tensor(initialValues(p, seed), p.shape, 'float32'), true, `${prefix}/${p.name}`));
      out.set(p.name, v);
    }
  } catch (e) {
    for (const v of out.values()) v.dispose();
    throw e;
  }
  return out;
}

/** Read access to parameters by name, whatever holds them (variables, or plain tensors in the gradient tests). */
export interface Params {
  get(name: string): tf.Tensor;
  has(name: string): boolean;
}

export function paramsOf(source: ReadonlyMap<string, tf.Tensor>): Params {
  return {
    get(name) {
      const t = source.get(name);
      if (!t) throw new Error(`model: no parameter "${name}"`);
      return t;
    },
    has: (name) => source.has(name),
  };
}
