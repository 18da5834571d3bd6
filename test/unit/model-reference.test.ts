/**
 * One GroupBERT layer (pre-norm: conv → GFFN → attention → GFFN) against a plain, loop-based float64
 * implementation written from groupbert.md §1–4, on small sizes with padding in the batch: same and causal conv
 * padding, GLU on and off, and a post-norm BERT layer for the other residual form. The reference reads the
 * model's own variables by name and indexes the grouped kernels by the formulas of §2–3 (contiguous groups).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Dropout, buildModel, encoderLayer, modulePrefixes, type ForwardContext, type Model } from '../../src/core/model';
import { resolveSpec, type ConvModule, type GffnModule, type ResolvedModule, type SpecFile } from '../../src/core/spec';

before(async () => {
  await tf.setBackend('cpu');
});

type Vec = number[];
/** [B][S] vectors. */
type Seq = Vec[][];

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf, Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

class Ref {
  constructor(
    private readonly model: Model,
    private readonly eps: number,
  ) {}

  w(name: string): Float32Array {
    const v = this.model.variables.get(name);
    assert.ok(v, `the model has ${name}`);
    return v.dataSync() as Float32Array;
  }

  has(name: string): boolean {
    return this.model.variables.has(name);
  }

  ln(x: Vec, prefix: string): Vec {
    const g = this.w(`${prefix}/gamma`);
    const b = this.w(`${prefix}/beta`);
    const mean = x.reduce((a, v) => a + v, 0) / x.length;
    const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(variance + this.eps)) * g[i]! + b[i]!);
  }

  /** x·W + b for W [in, out] row-major. */
  dense(x: Vec, prefix: string): Vec {
    const W = this.w(`${prefix}/kernel`);
    const out = x.length === 0 ? 0 : W.length / x.length;
    const b = this.has(`${prefix}/bias`) ? this.w(`${prefix}/bias`) : undefined;
    return Array.from({ length: out }, (_, o) => {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < x.length; i++) s += x[i]! * W[i * out + o]!;
      return s;
    });
  }

  /** §2: GLU → mask → grouped conv (cross-correlation, zero padding) (+ bias) → LN → swish → projection. */
  conv(u: Seq, mask: number[][], p: string, m: ConvModule): Seq {
    const Bn = u.length;
    const Sn = u[0]!.length;
    const H = u[0]![0]!.length;
    const v: Seq = u.map((row, b) =>
      row.map((x, t) => {
        const val = m.glu ? this.dense(x, `${p}/glu_value`).map((a, c) => a * sigmoid(this.dense(x, `${p}/glu_gate`)[c]!)) : x;
        return val.map((a) => a * mask[b]![t]!);
      }),
    );
    const K = this.w(`${p}/grouped/kernel`); // [G, k·g, g]: K[g][j·g + i][o mod g]
    const k = m.kernelSize;
    const g = m.channelsPerGroup;
    const before = m.padding === 'causal' ? k - 1 : Math.floor((k - 1) / 2);
    const bias = m.bias ? this.w(`${p}/grouped/bias`) : undefined;
    return Array.from({ length: Bn }, (_, b) =>
      Array.from({ length: Sn }, (_, t) => {
        const c = Array.from({ length: H }, (_, o) => {
          const grp = Math.floor(o / g);
          let s = bias ? bias[o]! : 0;
          for (let j = 0; j < k; j++) {
            const tt = t + j - before;
            if (tt < 0 || tt >= Sn) continue;
            for (let i = 0; i < g; i++) s += K[(grp * k * g + j * g + i) * g + (o % g)]! * v[b]![tt]![grp * g + i]!;
          }
          return s;
        });
        const n = m.norm ? this.ln(c, `${p}/inner_norm`) : c;
        return this.dense(
          n.map((a) => a * sigmoid(a)),
          `${p}/output`,
        );
      }),
    );
  }

  /** §3: dense up + GELU → grouped down-projection in G contiguous blocks (+ bias) → mixer. */
  gffn(u: Seq, p: string, m: GffnModule): Seq {
    const W2 = this.w(`${p}/down/kernel`); // [G, I/G, H/G]
    const b2 = this.w(`${p}/down/bias`);
    const G = m.groups;
    const I = m.intermediateSize;
    return u.map((row) =>
      row.map((x) => {
        const h = this.dense(x, `${p}/up`).map(gelu);
        const H = x.length;
        const z = Array.from({ length: H }, (_, o) => {
          const grp = Math.floor(o / (H / G));
          const oo = o % (H / G);
          let s = b2[o]!;
          for (let i = 0; i < I / G; i++) s += h[grp * (I / G) + i]! * W2[(grp * (I / G) + i) * (H / G) + oo]!;
          return s;
        });
        return m.mixer && G > 1 ? this.dense(z, `${p}/mixer`) : z;
      }),
    );
  }

  ffn(u: Seq, p: string): Seq {
    return u.map((row) => row.map((x) => this.dense(this.dense(x, `${p}/up`).map(gelu), `${p}/down`)));
  }

  /** §4: per head softmax(q·kᵀ/√d − 10000·(1 − mask_key))·v, then the output projection. */
  attention(u: Seq, mask: number[][], p: string, heads: number): Seq {
    return u.map((row, b) => {
      const q = row.map((x) => this.dense(x, `${p}/query`));
      const k = row.map((x) => this.dense(x, `${p}/key`));
      const v = row.map((x) => this.dense(x, `${p}/value`));
      const H = row[0]!.length;
      const d = H / heads;
      return row.map((_, t) => {
        const ctx = new Array<number>(H).fill(0);
        for (let h = 0; h < heads; h++) {
          const scores = row.map((__, s) => {
            let dot = 0;
            for (let i = 0; i < d; i++) dot += q[t]![h * d + i]! * k[s]![h * d + i]!;
            return dot / Math.sqrt(d) - 10000 * (1 - mask[b]![s]!);
          });
          const max = Math.max(...scores);
          const e = scores.map((x) => Math.exp(x - max));
          const z = e.reduce((a, x) => a + x, 0);
          for (let s = 0; s < row.length; s++) for (let i = 0; i < d; i++) ctx[h * d + i]! += (e[s]! / z) * v[s]![h * d + i]!;
        }
        return this.dense(ctx, `${p}/output`);
      });
    });
  }

  module(u: Seq, mask: number[][], p: string, m: ResolvedModule): Seq {
    switch (m.type) {
      case 'conv':
        return this.conv(u, mask, p, m);
      case 'gffn':
        return this.gffn(u, p, m);
      case 'ffn':
        return this.ffn(u, p);
      case 'attention':
        return this.attention(u, mask, p, m.heads);
    }
  }

  /** §1: x ← x + module(LN(x)) (pre-norm), or x ← LN(x + module(x)) (post-norm). */
  layer(x: Seq, mask: number[][], index: number, pre: boolean): Seq {
    const layer = this.model.spec.layers[index]!;
    const prefixes = modulePrefixes(layer, this.model.spec.numLayers);
    layer.modules.forEach((m, i) => {
      const p = prefixes[i]!;
      if (pre) {
        const y = this.module(
          x.map((r) => r.map((v) => this.ln(v, `${p}/norm`))),
          mask,
          p,
          m,
        );
        x = x.map((r, b) => r.map((v, t) => v.map((a, c) => a + y[b]![t]![c]!)));
      } else {
        const y = this.module(x, mask, p, m);
        x = x.map((r, b) => r.map((v, t) => this.ln(v.map((a, c) => a + y[b]![t]![c]!), `${p}/norm`)));
      }
    });
    return x;
  }
}

const [B, S, H] = [2, 7, 16];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0, 0],
];

function compare(label: string, spec: SpecFile): void {
  const resolved = resolveSpec(spec);
  // Larger weights than the default 0.02, so every op moves the result well above float32 rounding.
  const model = buildModel(resolved, { seed: 21 });
  try {
    const x0: Seq = Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, t) => Array.from({ length: H }, (_, c) => Math.sin(1 + b * 7 + t * 3.1 + c * 0.37) * 1.5)));
    const ref = new Ref(model, resolved.model.layerNormEps);
    const want = ref.layer(x0, MASK, 0, resolved.model.normPlacement === 'pre');
    const got = tf.tidy(() => {
      const ctx: ForwardContext = {
        model: resolved.model,
        params: model.params,
        training: false,
        dropout: new Dropout(false, 0),
        tokenMask: tf.tensor2d(MASK.flat(), [B, S]),
      };
      return encoderLayer(ctx, resolved.model.layers[0]!, tf.tensor3d(x0.flat(2), [B, S, H])).arraySync();
    });
    let maxErr = 0;
    let maxVal = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S; t++) {
        for (let c = 0; c < H; c++) {
          maxErr = Math.max(maxErr, Math.abs(got[b]![t]![c]! - want[b]![t]![c]!));
          maxVal = Math.max(maxVal, Math.abs(want[b]![t]![c]!));
        }
      }
    }
    assert.ok(maxErr < 1e-4 * Math.max(1, maxVal), `${label}: max |model − reference| = ${maxErr.toExponential(2)} (values up to ${maxVal.toFixed(2)})`);
  } finally {
    model.dispose();
  }
}

function groupbert(conv: Record<string, unknown>, extra: SpecFile['model'] = {}): SpecFile {
  return {
    version: 1,
    extends: 'groupbert-tiny',
    model: {
      vocabSize: 30,
      maxPositions: 8,
      hiddenSize: H,
      numHeads: 2,
      numLayers: 1,
      intermediateSize: 32,
      initializerRange: 0.3,
      layer: { modules: [{ type: 'conv', kernelSize: 3, channelsPerGroup: 4, ...conv }, { type: 'gffn', groups: 2 }, { type: 'attention' }, { type: 'gffn', groups: 4, mixer: false }] },
      ...extra,
    },
  } as SpecFile;
}

describe('one layer = the loop-based reference', () => {
  it('GroupBERT layer, conv with GLU, bias, inner norm, same padding', () => {
    compare('GroupBERT', groupbert({}));
  });

  it('GroupBERT layer, causal conv, kernel 4, without GLU, bias or inner norm', () => {
    compare('GroupBERT causal', groupbert({ kernelSize: 4, channelsPerGroup: 8, padding: 'causal', glu: false, bias: false, norm: false }));
  });

  it('GroupBERT layer, even kernel with same padding (one more tap after than before)', () => {
    compare('GroupBERT k4 same', groupbert({ kernelSize: 4, channelsPerGroup: 2 }));
  });

  it('post-norm BERT layer', () => {
    compare('BERT', { version: 1, extends: 'bert-tiny', model: { vocabSize: 30, maxPositions: 8, hiddenSize: H, numHeads: 4, numLayers: 1, intermediateSize: 32, initializerRange: 0.3, layerNormEps: 1e-3 } } as SpecFile);
  });
});
