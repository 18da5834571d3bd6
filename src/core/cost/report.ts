/**
 * `computeCost`: the full breakdown of a resolved spec, module by module, layer by layer, with totals and a
 * training-memory estimate. Pure arithmetic over the spec: no allocation beyond the report itself.
 */
import type { ResolvedModule, ResolvedSpec } from '../spec/resolve';
import { BYTES_PER_FLOAT, FLOP_CONVENTION, OPTIMIZER_STATES } from './conventions';
import {
  attentionCost,
  convCost,
  embeddingsCost,
  ffnCost,
  finalNormCost,
  gffnCost,
  makeContext,
  mlmHeadCost,
  nspHeadCost,
  poolerCost,
  type CostContext,
} from './modules';
import type { CostOptions, CostReport, LayerCost, ModuleCost } from './types';

function checkCount(value: number, what: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${what} must be a whole number ≥ ${min}, got ${String(value)}.`);
  return value;
}

function layerModuleCost(c: CostContext, m: ResolvedModule, name: string): ModuleCost {
  switch (m.type) {
    case 'attention':
      return attentionCost(c, m, name);
    case 'conv':
      return convCost(c, m, name);
    case 'gffn':
      return gffnCost(c, m, name);
    case 'ffn':
      return ffnCost(c, m, name);
  }
}

/** How often each kind occurs in a layer, so repeated kinds get numbered names (`gffn1`, `gffn2`). */
function kindCount(modules: readonly ResolvedModule[], type: ResolvedModule['type']): number {
  let n = 0;
  for (const m of modules) if (m.type === type) n++;
  return n;
}

function layerCost(c: CostContext, modules: readonly ResolvedModule[], index: number, prefix: string): LayerCost {
  const out: ModuleCost[] = new Array<ModuleCost>(modules.length);
  let params = 0;
  let fm = 0;
  let fe = 0;
  let bm = 0;
  let be = 0;
  let act = 0;
  const seen = { attention: 0, conv: 0, gffn: 0, ffn: 0 };
  for (let i = 0; i < modules.length; i++) {
    const m = modules[i]!;
    const occurrence = ++seen[m.type];
    const name = kindCount(modules, m.type) > 1 ? `${prefix}${m.type}${occurrence}` : `${prefix}${m.type}`;
    const cost = layerModuleCost(c, m, name);
    cost.layer = index;
    cost.moduleIndex = i;
    out[i] = cost;
    params += cost.params;
    fm += cost.forward.matmul;
    fe += cost.forward.elementwise;
    bm += cost.backward.matmul;
    be += cost.backward.elementwise;
    act += cost.activationBytes;
  }
  return { index, params, forward: { matmul: fm, elementwise: fe }, backward: { matmul: bm, elementwise: be }, activationBytes: act, modules: out };
}

/**
 * Parameters, FLOPs and memory of `spec` at sequence length S and batch size B (defaults: `spec.training`).
 * FLOPs are per step of B sequences, per `FLOP_CONVENTION`. Throws `RangeError` for options that are not
 * whole numbers (S, B ≥ 1; masked ≥ 0); the masked positions are capped at S. Specs that fail semantic
 * validation (sizes that do not divide) still get an answer: the real-valued formulas.
 */
export function computeCost(spec: ResolvedSpec, options: Partial<CostOptions> = {}): CostReport {
  const model = spec.model;
  const seq = checkCount(options.sequenceLength ?? spec.training.sequenceLength, 'sequenceLength', 1);
  const batch = checkCount(options.batchSize ?? spec.training.batchSize, 'batchSize', 1);
  const masked = Math.min(checkCount(options.maskedPerSequence ?? spec.training.maxPredictions, 'maskedPerSequence', 0), seq);
  const c = makeContext(model, seq, batch, masked);

  const embeddings = embeddingsCost(c, model);
  const digits = Math.max(2, String(model.layers.length - 1).length);
  const layers: LayerCost[] = new Array<LayerCost>(model.layers.length);
  let encoderParams = 0;
  let encoderMatmul = 0;
  let fm = embeddings.forward.matmul;
  let fe = embeddings.forward.elementwise;
  let bm = embeddings.backward.matmul;
  let be = embeddings.backward.elementwise;
  let act = embeddings.activationBytes;
  for (let l = 0; l < model.layers.length; l++) {
    const layer = layerCost(c, model.layers[l]!.modules, l, `layer${String(l).padStart(digits, '0')}/`);
    layers[l] = layer;
    encoderParams += layer.params;
    encoderMatmul += layer.forward.matmul;
    fm += layer.forward.matmul;
    fe += layer.forward.elementwise;
    bm += layer.backward.matmul;
    be += layer.backward.elementwise;
    act += layer.activationBytes;
  }

  const heads: ModuleCost[] = [];
  if (model.normPlacement === 'pre') heads.push(finalNormCost(c));
  if (model.heads.mlm) heads.push(mlmHeadCost(c));
  if (model.heads.pooler) heads.push(poolerCost(c));
  if (model.heads.nsp) heads.push(nspHeadCost(c));
  let params = embeddings.params + encoderParams;
  for (const h of heads) {
    params += h.params;
    fm += h.forward.matmul;
    fe += h.forward.elementwise;
    bm += h.backward.matmul;
    be += h.backward.elementwise;
    act += h.activationBytes;
  }

  const training = fm + fe + bm + be;
  const weightsBytes = BYTES_PER_FLOAT * params;
  const gradientBytes = BYTES_PER_FLOAT * params;
  const optimizerBytes = OPTIMIZER_STATES * BYTES_PER_FLOAT * params;
  return {
    convention: FLOP_CONVENTION,
    sequenceLength: seq,
    batchSize: batch,
    maskedPerSequence: masked,
    tokensPerStep: c.tokens,
    embeddings,
    layers,
    heads,
    totals: {
      params,
      encoderParams,
      forward: { matmul: fm, elementwise: fe },
      backward: { matmul: bm, elementwise: be },
      trainingFlopsPerStep: training,
      trainingFlopsPerToken: training / c.tokens,
      encoderForwardMatmulFlopsPerToken: encoderMatmul / c.tokens,
    },
    memory: {
      weightsBytes,
      gradientBytes,
      optimizerBytes,
      activationBytes: act,
      totalBytes: weightsBytes + gradientBytes + optimizerBytes + act,
    },
  };
}
