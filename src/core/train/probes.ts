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
 * Stored compactly: one `.probe` file per probe — the ASCII magic `CBPROBE1`, the header's byte length
 * (uint32 LE), a JSON header (step, tokens, and per entry its metadata and where its floats are), zero padding
 * to a multiple of 4 bytes, then the float32 LE values of every T×T map and offset-weight vector.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../model/build';
import { modulePrefixes } from '../model/params';
import { convPadding } from '../ops';
import type { ConvModule } from '../spec/resolve';

export const PROBE_FORMAT = 'convbert-probe';
export const PROBE_VERSION = 1;
const MAGIC = 'CBPROBE1';

export interface AttentionMapProbe {
  layer: number;
  /** Module name in its layer: `attention` (`attention2`… when a layer has several). */
  module: string;
  heads: number;
  /** [heads, T, T], row-major: probs[(h·T + t)·T + s]. */
  probs: Float32Array;
  /** Per head. */
  meanDistance: number[];
}

export interface ConvMapProbe {
  layer: number;
  module: string;
  kernelSize: number;
  padding: ConvModule['padding'];
  /** Relative offset of each tap (s − t). */
  offsets: number[];
  /** Mean |kernel| per tap, in the order of `offsets`. */
  offsetWeights: Float32Array;
  /** [T, T], rows normalised to sum 1 (0 for rows with no weight). */
  map: Float32Array;
  meanDistance: number;
}

export interface ModelProbe {
  step: number;
  /** The sample's pieces, padding included (`[PAD]`). */
  tokens: string[];
  /** T: the side of every map. */
  length: number;
  /** Real (unpadded) tokens: the first `realLength` of the T. */
  realLength: number;
  attention: AttentionMapProbe[];
  conv: ConvMapProbe[];
}

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
function meanDistance(p: Float32Array, offset: number, T: number, n: number): number {
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

/** Runs the model (inference, no dropout) on the sample and collects the probes. */
export function computeProbes(model: Model, sample: ProbeSample, step: number): ModelProbe {
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
  const attention: AttentionMapProbe[] = maps.map((a) => {
    const heads = a.probs.shape[1];
    const probs = Float32Array.from(a.probs.dataSync());
    a.probs.dispose();
    return { layer: a.layer, module: a.module, heads, probs, meanDistance: Array.from({ length: heads }, (_, h) => meanDistance(probs, h * T * T, T, n)) };
  });

  const conv: ConvMapProbe[] = [];
  for (const layer of model.spec.layers) {
    const prefixes = modulePrefixes(layer, model.spec.numLayers);
    layer.modules.forEach((m, i) => {
      if (m.type !== 'conv') return;
      const kernel = model.variables.get(`${prefixes[i]}/grouped/kernel`)!;
      const mixing = convMixing(kernel.dataSync() as Float32Array, kernel.shape, m, T, n);
      conv.push({ layer: layer.index, module: prefixes[i]!.slice(prefixes[i]!.indexOf('/') + 1), kernelSize: m.kernelSize, padding: m.padding, ...mixing });
    });
  }
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

// ---------------------------------------------------------------------------------------------------------------
// File format

interface HeaderTensor {
  /** Offset in floats from the start of the data section. */
  offset: number;
  length: number;
  shape: number[];
}

interface ProbeHeader {
  format: typeof PROBE_FORMAT;
  version: number;
  step: number;
  tokens: string[];
  length: number;
  realLength: number;
  attention: (Omit<AttentionMapProbe, 'probs'> & { probs: HeaderTensor })[];
  conv: (Omit<ConvMapProbe, 'offsetWeights' | 'map'> & { offsetWeights: HeaderTensor; map: HeaderTensor })[];
}

/** The metadata of a probe without its arrays (what the `probes` JSON of the run keeps). */
export function probeHeader(probe: ModelProbe): ProbeHeader {
  let offset = 0;
  const place = (data: Float32Array, shape: number[]): HeaderTensor => {
    const t = { offset, length: data.length, shape };
    offset += data.length;
    return t;
  };
  const T = probe.length;
  return {
    format: PROBE_FORMAT,
    version: PROBE_VERSION,
    step: probe.step,
    tokens: probe.tokens,
    length: T,
    realLength: probe.realLength,
    attention: probe.attention.map((a) => ({ layer: a.layer, module: a.module, heads: a.heads, meanDistance: a.meanDistance, probs: place(a.probs, [a.heads, T, T]) })),
    conv: probe.conv.map((c) => ({
      layer: c.layer,
      module: c.module,
      kernelSize: c.kernelSize,
      padding: c.padding,
      offsets: c.offsets,
      meanDistance: c.meanDistance,
      offsetWeights: place(c.offsetWeights, [c.offsetWeights.length]),
      map: place(c.map, [T, T]),
    })),
  };
}

/** The file name of a step's probe: `step-000000100.probe`. */
export function probeFileName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.probe`;
}

/** Encodes a probe as the bytes of a `.probe` file. */
export function encodeProbe(probe: ModelProbe): Uint8Array {
  const header = probeHeader(probe);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((MAGIC.length + 4 + json.length) / 4) * 4;
  const arrays = [...probe.attention.map((a) => a.probs), ...probe.conv.flatMap((c) => [c.offsetWeights, c.map])];
  const floats = arrays.reduce((n, a) => n + a.length, 0);
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(MAGIC.length, json.length, true);
  bytes.set(json, MAGIC.length + 4);
  let at = start;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++, at += 4) view.setFloat32(at, a[i]!, true);
  }
  return bytes;
}

/** Decodes the bytes of a `.probe` file; throws on anything malformed. */
export function decodeProbe(bytes: Uint8Array): ModelProbe {
  const text = new TextDecoder();
  if (bytes.length < MAGIC.length + 4 || text.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new Error('not a ConvBERT probe file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + jsonLength > bytes.length) throw new Error('probe file: the header runs past the end (truncated?)');
  let header: ProbeHeader;
  try {
    header = JSON.parse(text.decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength))) as ProbeHeader;
  } catch {
    throw new Error('probe file: the header is not JSON');
  }
  if (header.format !== PROBE_FORMAT || header.version !== PROBE_VERSION) throw new Error(`probe file: format ${String(header.format)} v${String(header.version)} is not supported`);
  const start = Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
  const read = (t: HeaderTensor): Float32Array => {
    const from = start + 4 * t.offset;
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.length) || t.offset < 0 || from + 4 * t.length > bytes.length) throw new Error('probe file: an array lies outside the file (truncated?)');
    const out = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) out[i] = view.getFloat32(from + 4 * i, true);
    return out;
  };
  return {
    step: header.step,
    tokens: header.tokens,
    length: header.length,
    realLength: header.realLength,
    attention: header.attention.map((a) => ({ layer: a.layer, module: a.module, heads: a.heads, meanDistance: a.meanDistance, probs: read(a.probs) })),
    conv: header.conv.map((c) => ({
      layer: c.layer,
      module: c.module,
      kernelSize: c.kernelSize,
      padding: c.padding,
      offsets: c.offsets,
      meanDistance: c.meanDistance,
      offsetWeights: read(c.offsetWeights),
      map: read(c.map),
    })),
  };
}

/** Writes `dir/step-<step>.probe` (through a temporary file and a rename). Returns its path. */
export async function writeProbe(dir: string, probe: ModelProbe): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, probeFileName(probe.step));
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, encodeProbe(probe));
  await fsp.rename(tmp, file);
  return file;
}

export async function readProbe(file: string): Promise<ModelProbe> {
  return decodeProbe(new Uint8Array(await fsp.readFile(file)));
}
