/** Data for the dashboard tests: loss histories, real cost reports, and probes with known structure. */
import { mulberry32 as rng } from '../../src/core/rng';
import { computeCost } from '../../src/core/cost';
import { resolveSpec } from '../../src/core/spec/resolve';
import type { CostEntry, MetricPoint, ProbeLayer, ProbeMessage, RunSeries } from '../../src/protocol/webview';

export { rng };

/** A noisy decaying training loss at steps 1…n, validation every `evalEvery` steps. */
export function lossPoints(n: number, seed: number, { evalEvery = 100, floor = 2, scale = 8, tau = 400 } = {}): MetricPoint[] {
  const r = rng(seed);
  const points: MetricPoint[] = [];
  for (let step = 1; step <= n; step++) {
    const clean = floor + scale * Math.exp(-step / tau);
    const p: MetricPoint = { step, loss: clean + (r() - 0.5) * 0.8, lr: 1e-4 * Math.min(1, step / 100) };
    if (step % evalEvery === 0) p.valLoss = clean + 0.15 + (r() - 0.5) * 0.1;
    points.push(p);
  }
  return points;
}

export function run(id: string, name: string, points: MetricPoint[], extra: Partial<RunSeries> = {}): RunSeries {
  return { id, name, state: 'running', backend: 'wasm', points, probeSteps: [], ...extra };
}

/** GroupBERT-Mini with the conv module only in the lower half (layers 2–3 have two GFFNs and attention). */
export function costEntries(): { groupbert: CostEntry; bert: CostEntry } {
  const groupbert = computeCost(
    resolveSpec({
      version: 1,
      name: 'groupbert-mini-conv-lower',
      extends: 'groupbert-mini',
      model: { layerOverrides: [{ layers: '2-3', modules: [{ type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] }] },
    }),
  );
  const bert = computeCost(resolveSpec({ version: 1, name: 'bert-mini', extends: 'bert-mini' }));
  return { groupbert: { label: 'groupbert-mini-conv-lower', report: groupbert }, bert: { label: 'bert-mini', report: bert } };
}

export const TOKENS = ['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', 'because', 'it', 'was', 'warm', '.', '[SEP]'];

/** Conv kernel magnitude per relative offset −3…+3. */
export const KERNEL = [0.1, 0.35, 0.7, 1, 0.6, 0.3, 0.12];
export const KERNEL_HALF = 3;

export interface ProbeFixture {
  message: Omit<ProbeMessage, 'v'>;
  /** Per layer, per head, the n × n probabilities of the real tokens as plain arrays. */
  attention: number[][][];
  /** The n × n conv map of the real tokens (the same for every conv layer). */
  convMap: number[];
}

/**
 * Probes for `layers` layers of `heads` heads over `TOKENS` (plus `pad` "[PAD]" tokens, which get no attention
 * and no conv weight), as the host makes them from a `core/train/probes` `ModelProbe`: attention rows are
 * softmaxes of seeded scores (head 0 prefers the previous token); layers < `convLayers` have a conv module whose
 * map is `KERNEL` on the band |s − t| ≤ 3, each row normalised to sum 1 (as `convMixing` derives it). The step
 * shifts the scores, so steps differ.
 */
export function probe(runId: string, step: number, { layers = 4, heads = 4, convLayers = 2, pad = 0 } = {}): ProbeFixture {
  const n = TOKENS.length;
  const tokens = [...TOKENS, ...new Array<string>(pad).fill('[PAD]')];
  const t = tokens.length;
  const r = rng(step * 7919 + 17);
  const out: ProbeLayer[] = [];
  const real: number[][][] = [];
  const map = new Float32Array(t * t);
  for (let i = 0; i < t; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) if (Math.abs(j - i) <= KERNEL_HALF) sum += KERNEL[j - i + KERNEL_HALF]!;
    for (let j = 0; j < n; j++) if (Math.abs(j - i) <= KERNEL_HALF) map[i * t + j] = KERNEL[j - i + KERNEL_HALF]! / sum;
  }
  let convDistance = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) convDistance += map[i * t + j]! * Math.abs(i - j);
  for (let l = 0; l < layers; l++) {
    const probs = new Float32Array(heads * t * t);
    const perHead: number[][] = [];
    const meanDistance: number[] = [];
    for (let h = 0; h < heads; h++) {
      let distance = 0;
      for (let q = 0; q < t; q++) {
        const scores = Array.from({ length: n }, (_, k) => (h === 0 && k === q - 1 ? 4 : 0) + r() * (1 + l));
        const mx = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - mx));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let k = 0; k < n; k++) {
          probs[(h * t + q) * t + k] = ex[k]! / sum;
          if (q < n) distance += (ex[k]! / sum) * Math.abs(q - k);
        }
      }
      meanDistance.push(distance / n);
      const block: number[] = [];
      for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) block.push(probs[(h * t + q) * t + k]!);
      perHead.push(block);
    }
    real.push(perHead);
    const layer: ProbeLayer = { layer: l, attention: { heads, probs }, meanDistance };
    if (l < convLayers) layer.conv = { mixing: map.slice(), kernel: new Float32Array(KERNEL), kernelStart: -KERNEL_HALF, meanDistance: convDistance / n };
    out.push(layer);
  }
  const convMap: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) convMap.push(map[i * t + j]!);
  return { message: { type: 'probe', runId, step, tokens, ...(pad > 0 ? { realLength: n } : {}), layers: out }, attention: real, convMap };
}
