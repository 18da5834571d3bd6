/**
 * Finite-difference gradient checking for ops with hand-written gradients (used by the op tests, and meant for
 * the model's tests too), plus a seeded normal generator so checks are reproducible.
 *
 * Method: the scalar L(x) = Σ f(x) ⊙ R with a fixed random projection R, summed in float64 on the JS side.
 * For each input checked, the analytic gradient from `tf.grads` is compared with central differences
 * (L(x + h·u) − L(x − h·u)) / 2h, both along random directions u (which catches any wrong component with high
 * probability) and along single coordinates (which localises one). Float32 forward passes limit the accuracy to
 * about 1e-4 relative with h ≈ 1e-2 on O(1) inputs, far inside the usual 1e-2 tolerance. Errors are relative to
 * the larger of the two values, floored at a tenth of ‖g‖ for directions and a hundredth of max|g| for
 * coordinates, so components that are nearly zero are not judged on float32 noise alone.
 */
import { mulberry32 as seededRandom } from '../rng';
import * as tf from '@tensorflow/tfjs';

export { seededRandom };

/** n standard normal samples (Box–Muller) from `rand`. */
export function normals(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A float32 tensor of N(0, scale²) values from a seed. */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(normals(tf.util.sizeFromShape(shape), seededRandom(seed), scale), shape, 'float32');
}

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-2). */
  h?: number;
  /** Random directions per input (default 3). */
  directions?: number;
  /** Single coordinates per input (default 4). */
  coordinates?: number;
  /** Indices of the inputs to check (default: every float32 input). */
  wrt?: number[];
  seed?: number;
}

export interface GradCheckEntry {
  input: number;
  /** 'direction' (random u) or 'coordinate' (index `index`). */
  kind: 'direction' | 'coordinate';
  index?: number;
  analytic: number;
  numeric: number;
  relError: number;
}

export interface GradCheckResult {
  entries: GradCheckEntry[];
  maxRelError: number;
  /** The entry with the largest error. */
  worst: GradCheckEntry;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Check the gradients of `f` at `inputs` (which are not modified or disposed). Runs on the active backend.
 */
export function gradCheck(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  opts: GradCheckOptions = {},
): GradCheckResult {
  const h = opts.h ?? 1e-2;
  const rand = seededRandom(opts.seed ?? 1234);
  const wrt = opts.wrt ?? inputs.map((t, i) => (t.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
  const yShape = tf.tidy(() => f(...inputs).shape);
  const R = normals(tf.util.sizeFromShape(yShape), rand);
  const Rt = tf.tensor(R, yShape);

  const lossAt = (xs: tf.Tensor[]): number => {
    const y = tf.tidy(() => f(...xs));
    const v = y.dataSync();
    y.dispose();
    return dot(v, R);
  };

  const analytic = tf.tidy(() => {
    const g = tf.grads((...ws: tf.Tensor[]) => {
      const xs = inputs.map((orig, j) => (wrt.includes(j) ? ws[wrt.indexOf(j)]! : orig));
      return tf.sum(tf.mul(f(...xs), Rt));
    });
    return g(wrt.map((i) => inputs[i]!)).map((t) => Float32Array.from(t.dataSync()));
  });

  const entries: GradCheckEntry[] = [];
  for (const [k, i] of wrt.entries()) {
    const x = inputs[i]!;
    const xv = x.dataSync() as Float32Array;
    const gi = analytic[k]!;
    const gScale = gi.reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 0);
    const along = (u: Float32Array): number => {
      const plus = tf.tensor(xv.map((v, j) => v + h * u[j]!), x.shape, 'float32');
      const minus = tf.tensor(xv.map((v, j) => v - h * u[j]!), x.shape, 'float32');
      const replaced = (t: tf.Tensor) => inputs.map((orig, j) => (j === i ? t : orig));
      const num = (lossAt(replaced(plus)) - lossAt(replaced(minus))) / (2 * h);
      plus.dispose();
      minus.dispose();
      return num;
    };
    const gNorm = Math.sqrt(dot(gi, gi));
    for (let d = 0; d < (opts.directions ?? 3); d++) {
      const u = normals(xv.length, rand);
      const a = dot(gi, u);
      const n = along(u);
      // ⟨g, u⟩ has standard deviation ‖g‖ for u ~ N(0, I); a direction that happens to be nearly orthogonal to g
      // is judged against a tenth of that rather than against its own tiny value (float32 noise would dominate).
      const denom = Math.max(Math.abs(a), Math.abs(n), 0.1 * gNorm, 1e-6);
      entries.push({ input: i, kind: 'direction', analytic: a, numeric: n, relError: Math.abs(a - n) / denom });
    }
    for (let c = 0; c < Math.min(opts.coordinates ?? 4, xv.length); c++) {
      const j = Math.floor(rand() * xv.length);
      const u = new Float32Array(xv.length);
      u[j] = 1;
      const a = gi[j]!;
      const n = along(u);
      // Near-zero components are judged against the gradient's scale, not their own.
      const denom = Math.max(Math.abs(a), Math.abs(n), 1e-2 * gScale, 1e-6);
      entries.push({ input: i, kind: 'coordinate', index: j, analytic: a, numeric: n, relError: Math.abs(a - n) / denom });
    }
  }
  Rt.dispose();
  const worst = entries.reduce((w, e) => (e.relError > w.relError ? e : w), entries[0]!);
  return { entries, maxRelError: worst?.relError ?? 0, worst };
}
