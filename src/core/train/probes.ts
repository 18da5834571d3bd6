/**
 * Probes: what the model's token mixers do on one fixed sample sentence, taken at every evaluation so the
 * dashboard can show attention and convolution side by side as training goes.
 *
 * For a sample of T tokens (the real ones first; any padding after them is masked like in training):
 * - attention, per attention module and head: the probabilities P[t, s] (T×T, rows sum to 1, padded keys ≈ 0),
 *   and the mean attention distance Σ_s P[t, s]·|t − s| averaged over the real query positions t;
 * - convolution, per conv module, derived from its grouped kernel W [groups, k·g, g] alone (the GLU and the
 *   projections around it are not part of it):
 *   - the weight per relative offset d = tap − (taps before the centre): w(d) = mean |W| over every group, input
 *     and output channel of that tap (raw, not normalised). 'same' padding has offsets −⌊(k−1)/2⌋ … ⌈(k−1)/2⌉,
 *     'causal' −(k−1) … 0;
 *   - the effective mixing map M[t, s] = w(s − t) on the band |s − t| within the offsets, 0 where s is outside
 *     the sequence or a padded position (the module zeroes those before the conv), each row then divided by its
 *     sum so it reads like an attention row: the share of position t's mixing that comes from position s;
 *   - its mean distance, as for attention.
 *
 * Stored compactly, one `.probe` file per probe. The encoding and the probe types live in `./probe-format.ts`, which
 * does not import TF.js so the extension host can read probes too (re-exported here); the files' names and place in
 * a run directory are the run format's (src/run-format/probes.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../model/build';
import { modulePrefixes } from '../model/params';
import { convPadding } from '../ops';
import type { ConvModule } from '../spec/resolve';
import type { AttentionMapProbe, ConvMapProbe, ModelProbe } from './probe-format';

export {
  PROBE_FORMAT,
  PROBE_VERSION,
  decodeProbe,
  encodeProbe,
  probeHeader,
  type AttentionMapProbe,
  type ConvMapProbe,
  type HeaderTensor,
  type ModelProbe,
  type ProbeHeader,
} from './probe-format';

export interface ProbeSample {
  /** Token ids (with [CLS] … [SEP]), padding included. */
  ids: ArrayLike<number>;
  tokens: string[];
  /** Real tokens at the front (default: all). */
  realLength?: number;
  /** Segment ids (default 0). */
  tokenTypeIds?: ArrayLike<number>;
}

/** Σ_s P[t, s]·|t − s| averaged over the real rows t < n of a [T, T] block at `offset`. */
export function meanDistance(p: Float32Array, offset: number, T: number, n: number): number {
  if (n === 0) return 0;
  let total = 0;
  for (let t = 0; t < n; t++) {
    const row = offset + t * T;
    for (let s = 0; s < T; s++) total += p[row + s]! * Math.abs(t - s);
  }
  return total / n;
}

/** The conv module's offsets, weights per offset and row-normalised T×T map (see the file comment). */
export function convMixing(kernel: Float32Array, kernelShape: readonly number[], m: Pick<ConvModule, 'kernelSize' | 'padding'>, T: number, realLength: number) {
  const [G, KCg, Cout] = kernelShape as [number, number, number];
  const K = m.kernelSize;
  const Cg = KCg / K;
  const [before] = convPadding(K, m.padding);
  const offsets = Array.from({ length: K }, (_, k) => k - before);
  const offsetWeights = new Float32Array(K);
  for (let g = 0; g < G; g++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      const base = (g * KCg + k * Cg) * Cout;
      for (let j = 0; j < Cg * Cout; j++) s += Math.abs(kernel[base + j]!);
      offsetWeights[k] = offsetWeights[k]! + s;
    }
  }
  for (let k = 0; k < K; k++) offsetWeights[k] = offsetWeights[k]! / (G * Cg * Cout);
  const map = new Float32Array(T * T);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const s = t + offsets[k]!;
      if (s < 0 || s >= realLength) continue;
      map[t * T + s] = offsetWeights[k]!;
      sum += offsetWeights[k]!;
    }
    if (sum > 0) for (let s = 0; s < T; s++) map[t * T + s] = map[t * T + s]! / sum;
  }
  return { offsets, offsetWeights, map, meanDistance: meanDistance(map, 0, T, realLength) };
}

/**
 * Runs the model (inference, no dropout) on the sample and collects the probes. Reads with `await data()` (every
 * backend, webgpu in Node included), all reads started at once.
 */
export async function computeProbes(model: Model, sample: ProbeSample, step: number): Promise<ModelProbe> {
  const T = sample.ids.length;
  const n = sample.realLength ?? T;
  if (sample.tokens.length !== T) throw new Error(`probe sample: ${sample.tokens.length} tokens for ${T} ids`);
  if (T > model.spec.maxPositions) throw new Error(`probe sample: ${T} tokens exceed maxPositions ${model.spec.maxPositions}`);

  const maps = tf.tidy(() => {
    const out = model.forward(
      {
        inputIds: tf.tensor2d(Int32Array.from(sample.ids), [1, T], 'int32'),
        tokenTypeIds: tf.tensor2d(sample.tokenTypeIds ? Int32Array.from(sample.tokenTypeIds) : new Int32Array(T), [1, T], 'int32'),
        attentionMask: tf.tensor2d(Int32Array.from({ length: T }, (_, i) => (i < n ? 1 : 0)), [1, T], 'int32'),
      },
      { training: false, probes: true },
    );
    return (out.probes?.attention ?? []).map((a) => ({ layer: a.layer, module: a.module, probs: a.probs }));
  });
  const convModules = model.spec.layers.flatMap((layer) => {
    const prefixes = modulePrefixes(layer, model.spec.numLayers);
    return layer.modules.flatMap((m, i) => (m.type === 'conv' ? [{ layer: layer.index, prefix: prefixes[i]!, m }] : []));
  });
  let probsRead: Float32Array[];
  let kernelsRead: Float32Array[];
  try {
    [probsRead, kernelsRead] = await Promise.all([
      Promise.all(maps.map(async (a) => Float32Array.from(await a.probs.data()))),
      Promise.all(convModules.map(async (c) => Float32Array.from(await model.variables.get(`${c.prefix}/grouped/kernel`)!.data()))),
    ]);
  } finally {
    for (const a of maps) a.probs.dispose();
  }
  const attention: AttentionMapProbe[] = maps.map((a, i) => {
    const heads = a.probs.shape[1];
    const probs = probsRead[i]!;
    return { layer: a.layer, module: a.module, heads, probs, meanDistance: Array.from({ length: heads }, (_, h) => meanDistance(probs, h * T * T, T, n)) };
  });
  const conv: ConvMapProbe[] = convModules.map(({ layer, prefix, m }, i) => {
    const kernel = model.variables.get(`${prefix}/grouped/kernel`)!;
    const mixing = convMixing(kernelsRead[i]!, kernel.shape, m, T, n);
    return { layer, module: prefix.slice(prefix.indexOf('/') + 1), kernelSize: m.kernelSize, padding: m.padding, ...mixing };
  });
  return { step, tokens: [...sample.tokens], length: T, realLength: n, attention, conv };
}

/** A few numbers for the `probes` message: mean distances overall and per layer. */
export function probeSummary(probe: ModelProbe): Record<string, number> {
  const out: Record<string, number> = { tokens: probe.realLength };
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  if (probe.attention.length) out.attentionMeanDistance = mean(probe.attention.flatMap((a) => a.meanDistance));
  if (probe.conv.length) out.convMeanDistance = mean(probe.conv.map((c) => c.meanDistance));
  for (const a of probe.attention) out[`attentionMeanDistance/layer${String(a.layer).padStart(2, '0')}/${a.module}`] = mean(a.meanDistance);
  return out;
}
