/**
 * Grouped dense and grouped 1-D convolution, both with contiguous channel groups (GroupBERT §2–3, §10.4: group g
 * reads input channels [g·in/G, (g+1)·in/G) and writes output channels [g·out/G, (g+1)·out/G); no interleaving).
 *
 * Both are written with hand-written backward passes, their products in one of two formulations chosen by the
 * backend's traits (core/ops/traits.ts `batchedMatMul`): 'slow' (wasm) per-group plain 2-D matMuls, which keeps every
 * matMul on XNNPACK; 'fast' (a GPU, cpu) one batched matMul over the groups, the groups moved to the front by one
 * transpose; and where the backend multiplies matrices where they lie (core/ops/strided.ts: blas), one strided
 * product over the groups as they lie in the [N, G·n] tensors, without the transposes. Neither needs conv kernels (wasm has no Conv2DBackpropFilter), and the tape keeps only
 * the op's inputs (the conv's im2col buffer is rebuilt in the backward pass unless `saveIm2col` asks to keep it).
 */
import * as tf from '@tensorflow/tfjs';
import { backendTraits, FUSED_KERNELS, fusedKernelsAvailable, kernelRegistered } from './traits';
import { customOp, lastDim, matMulNT, matMulTN } from './custom';
import { dense } from './dense';
import { packed, stridedMatMul, stridedMatMulAvailable, type MatrixLayout } from './strided';

// ---------------------------------------------------------------------------------------------------------------
// Grouped dense

/** [N, G·n] → [G, N, n]: the groups to the front (one transpose of neighbouring axes). */
function groupsFirst(x: tf.Tensor, G: number): tf.Tensor3D {
  const n = lastDim(x) / G;
  return tf.transpose(x.reshape([-1, G, n]), [1, 0, 2]) as tf.Tensor3D;
}

/** [G, N, n] → [N, G·n]. */
function groupsLast(y: tf.Tensor3D): tf.Tensor2D {
  const [G, N, n] = y.shape;
  return tf.transpose(y, [1, 0, 2]).reshape([N, G * n]) as tf.Tensor2D;
}

/** One batched product over the groups: x [G, N, ki] · w [G, ki, ko]. */
const batchedGroupedDenseOp = customOp<[tf.Tensor, tf.Tensor3D]>(([x, w], save) => {
  const G = w.shape[0];
  const xShape = x.shape;
  const xg = groupsFirst(x, G);
  save([w, xg]);
  return {
    value: groupsLast(tf.matMul(xg, w)).reshape([...xShape.slice(0, -1), G * w.shape[2]]),
    gradFunc: (dy, [w, xg]) => {
      const dyg = groupsFirst(dy, G);
      const dx = groupsLast(tf.matMul(dyg, w as tf.Tensor3D, false, true)).reshape(xShape);
      const dw = tf.matMul(xg as tf.Tensor3D, dyg, true, false);
      return [dx, dw];
    },
  };
});

/** The channel groups of an [N, G·n] tensor as a batch of G [N, n] matrices where they lie. */
const groupCols = (G: number, n: number): MatrixLayout => ({ s1: n, s2: 0, ld: G * n });

/**
 * Where the backend multiplies matrices where they lie (blas): the groups are read in place (no transposes of x or
 * dy), and each group's result written where it belongs in the [N, G·n] output, unless its rows would lie a multiple
 * of 4 KiB apart: then the cache's 4K aliasing makes the product slower than writing it packed and moving it once
 * (the GFFN's input gradient, rows 1024 floats apart: 2.4 ms in place, 1.0 + 0.2 ms packed and moved; measured on
 * blas, GroupBERT-Mini shapes).
 */
const aliased = (rowFloats: number) => (4 * rowFloats) % 4096 === 0;

/** x's groups times w's, written into [N, G·n] in place or packed and moved (see above). */
function groupProduct(a: tf.Tensor, w: tf.Tensor3D, la: MatrixLayout, N: number, n: number, k: number, transposeB: boolean, G: number): tf.Tensor2D {
  const attrs = { b1: G, b2: 1, alpha: 1, m: N, n, k, transposeA: false, transposeB, a: la, b: transposeB ? packed(n, k) : packed(k, n) };
  if (!aliased(G * n)) return stridedMatMul(a, w, { ...attrs, c: groupCols(G, n), shape: [N, G * n] }) as tf.Tensor2D;
  return groupsLast(stridedMatMul(a, w, { ...attrs, c: packed(N, n), shape: [G, N, n] }) as tf.Tensor3D);
}

const stridedGroupedDenseOp = customOp<[tf.Tensor, tf.Tensor3D]>(([x, w], save) => {
  const [G, ki, ko] = w.shape;
  const xShape = x.shape;
  const N = x.size / (G * ki);
  save([w, x]);
  return {
    value: groupProduct(x, w, groupCols(G, ki), N, ko, ki, false, G).reshape([...xShape.slice(0, -1), G * ko]),
    gradFunc: (dy, [w, x]) => {
      const dx = groupProduct(dy, w as tf.Tensor3D, groupCols(G, ko), N, ki, ko, true, G).reshape(xShape);
      const dw = stridedMatMul(x!, dy, { b1: G, b2: 1, alpha: 1, m: ki, n: ko, k: N, transposeA: true, transposeB: false, a: groupCols(G, ki), b: groupCols(G, ko), c: packed(ki, ko), shape: [G, ki, ko] });
      return [dx, dw];
    },
  };
});

const groupedDenseOp = customOp<[tf.Tensor, tf.Tensor3D]>(([x, w], save) => {
  const [G, ki, ko] = w.shape;
  const xShape = x.shape;
  const xs = tf.split(x.reshape([-1, G * ki]), G, 1) as tf.Tensor2D[];
  // The column blocks, not x, go on the tape: the weight gradients need each block transposed, and transposing
  // the blocks costs what transposing x does, without splitting xᵀ into row blocks afterwards.
  save([w, ...xs]);
  const ws = tf.unstack(w) as tf.Tensor2D[];
  const value = tf.concat(xs.map((xi, g) => tf.matMul(xi, ws[g]!)), 1).reshape([...xShape.slice(0, -1), G * ko]);
  return {
    value,
    gradFunc: (dy, [w, ...xs]) => {
      const dys = tf.split(dy.reshape([-1, G * ko]), G, 1) as tf.Tensor2D[];
      const ws = tf.unstack(w!) as tf.Tensor2D[];
      const dx = tf.concat(dys.map((d, g) => matMulNT(d, ws[g]!)), 1).reshape(xShape);
      const dw = tf.stack(xs.map((xi, g) => matMulTN(xi as tf.Tensor2D, dys[g]!)));
      return [dx, dw];
    },
  };
});

/**
 * Grouped dense: x [..., G·in_g] · blockdiag(kernel[0], …, kernel[G−1]) (+ bias) → [..., G·out_g].
 * kernel [G, in_g, out_g]; bias [G·out_g]. G = 1 is a plain `dense`.
 */
export function groupedDense(x: tf.Tensor, kernel: tf.Tensor3D, bias?: tf.Tensor1D): tf.Tensor {
  if (kernel.rank !== 3) throw new Error(`groupedDense: kernel must be [G, in/G, out/G], got [${kernel.shape}]`);
  const [G, ki, ko] = kernel.shape;
  if (lastDim(x) !== G * ki) {
    throw new Error(`groupedDense: x [${x.shape}] has ${lastDim(x)} channels; kernel [${kernel.shape}] needs ${G * ki}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== G * ko)) {
    throw new Error(`groupedDense: bias must be [${G * ko}], got [${bias.shape}]`);
  }
  if (G === 1) return dense(x, kernel.reshape([ki, ko]) as tf.Tensor2D, bias);
  const y = (backendTraits().batchedMatMul === 'fast' ? (stridedMatMulAvailable() ? stridedGroupedDenseOp : batchedGroupedDenseOp) : groupedDenseOp)(x, kernel);
  return bias ? tf.add(y, bias) : y;
}

// ---------------------------------------------------------------------------------------------------------------
// Grouped 1-D convolution

export type ConvPadding = 'same' | 'causal';

export interface GroupedConv1dOptions {
  /** Taps along the sequence axis. */
  kernelSize: number;
  /** Input channels per group (GroupBERT: 16). Groups G = C / channelsPerGroup. */
  channelsPerGroup: number;
  /**
   * 'same': output length T, zero padding ⌊(k−1)/2⌋ before and the rest after (TF "SAME": an even kernel pads
   * one more after). 'causal': k−1 zeros before, so output t sees inputs t−k+1 … t only.
   */
  padding: ConvPadding;
  /**
   * Keep the im2col buffer (K× the input) on the tape for the weight gradient instead of rebuilding it in the
   * backward pass: ~15 % faster fwd+bwd on wasm, at K·|x| more memory per call until the backward pass.
   * Default false (memory is what limits batch size on wasm).
   */
  saveIm2col?: boolean;
}

/** Zero padding (before, after) along the sequence axis. */
export function convPadding(kernelSize: number, padding: ConvPadding): [number, number] {
  if (padding === 'causal') return [kernelSize - 1, 0];
  const before = Math.floor((kernelSize - 1) / 2);
  return [before, kernelSize - 1 - before];
}

/**
 * im2col per group: x [B, T, C] → [G, B·T, K·Cg] whose row (g, b·T + t) holds, for taps k = 0…K−1 in order, the
 * Cg channels of group g at input position t + k − before (zero outside [0, T)).
 */
function im2colGrouped(x: tf.Tensor3D, K: number, before: number, after: number, G: number): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const Cg = C / G;
  const xp = before || after ? tf.pad(x, [[0, 0], [before, after], [0, 0]]) : x;
  // Taps stacked next to the channels: [B, T, K, C]. Regrouping the channels needs a transpose; viewed as
  // [B·T·K, G, Cg] → [G, B·T·K, Cg] it is a 3-D one (copying 16-float runs in JS instead is far slower, and so is
  // one tf.gather of all rows on wasm).
  const taps = K === 1 ? xp : tf.stack(Array.from({ length: K }, (_, k) => tf.slice(xp, [0, k, 0], [B, T, C])), 2);
  if (G === 1) return taps.reshape([1, B * T, K * C]);
  return tf.transpose(taps.reshape([B * T * K, G, Cg]), [1, 0, 2]).reshape([G, B * T, K * Cg]);
}

/** The per-group matrices of a [G, rows, cols] tensor (a free reshape when G = 1). */
function perGroup(t: tf.Tensor3D): tf.Tensor2D[] {
  return t.shape[0] === 1 ? [t.reshape([t.shape[1], t.shape[2]])] : (tf.unstack(t) as tf.Tensor2D[]);
}

/**
 * The im2col matrices of the groups: stacked [G, B·T, K·Cg] where batched products are fast (one product over the
 * groups), else G separate [B·T, K·Cg] (one product each); either way without a stack or unstack copy.
 */
type Cols = tf.Tensor3D | tf.Tensor2D[];
const stacked = (cols: Cols): tf.Tensor3D => (Array.isArray(cols) ? (tf.stack(cols) as tf.Tensor3D) : cols);
const separate = (cols: Cols): tf.Tensor2D[] => (Array.isArray(cols) ? cols : perGroup(cols));
const batchedGroups = (G: number) => backendTraits().batchedMatMul === 'fast' && G > 1;

/**
 * im2col per group (see `Cols`): G matrices from one fused kernel on wasm with the SIMD kernels (per-group products);
 * stacked where batched products are fast (cpu, webgpu; blas takes the direct convolution and no im2col at all).
 */
function im2colGroups(x: tf.Tensor3D, K: number, before: number, after: number, G: number): Cols {
  const stack = batchedGroups(G);
  if (!stack && fusedKernelsAvailable()) {
    const cols = tf.engine().runKernel(FUSED_KERNELS.im2col, { x }, { kernelSize: K, before, groups: G });
    return (Array.isArray(cols) ? cols : [cols]) as tf.Tensor2D[];
  }
  const all = im2colGrouped(x, K, before, after, G);
  return stack ? all : perGroup(all);
}

/** Per-group [B·T, n] matrices → [B, T, G·n], the inverse of `groupsOf`. */
function fromGroups(ys: tf.Tensor2D[], B: number, T: number): tf.Tensor3D {
  const n = ys[0]!.shape[1];
  return (ys.length === 1 ? ys[0]! : tf.concat(ys, 1)).reshape([B, T, ys.length * n]);
}

/** [B, T, G·n] → G matrices [B·T, n]. */
function groupsOf(y: tf.Tensor, G: number): tf.Tensor2D[] {
  const [B, T, C] = y.shape as [number, number, number];
  const y2 = y.reshape([B * T, C]) as tf.Tensor2D;
  return G === 1 ? [y2] : (tf.split(y2, G, 1) as tf.Tensor2D[]);
}

/** The forward computation from the im2col matrices [G, B·T, K·Cin_g]. W [G, K·Cin_g, Cout_g]. */
function convFromCols(cols: Cols, W: tf.Tensor3D, B: number, T: number): tf.Tensor3D {
  if (batchedGroups(W.shape[0])) {
    // One batched product over the groups: [G, B·T, K·Cg] · [G, K·Cg, Cout_g].
    return groupsLast(tf.matMul(stacked(cols), W)).reshape([B, T, W.shape[0] * W.shape[2]]) as tf.Tensor3D;
  }
  const ws = tf.unstack(W) as tf.Tensor2D[];
  return fromGroups(
    separate(cols).map((c, g) => tf.matMul(c, ws[g]!)),
    B,
    T,
  );
}

function convForward(x: tf.Tensor3D, W: tf.Tensor3D, K: number, before: number, after: number): tf.Tensor3D {
  return convFromCols(im2colGroups(x, K, before, after, W.shape[0]), W, x.shape[0], x.shape[1]);
}

/**
 * The kernel of the input gradient: dx = conv(dy, flip(W)) with the paddings swapped, where flip reverses the
 * taps and swaps the in/out channel roles: [G, K·Cin_g, Cout_g] → [G, K·Cout_g, Cin_g].
 */
function flipKernel(W: tf.Tensor3D, K: number): tf.Tensor3D {
  const [G, KCin, Cout] = W.shape;
  const Cin = KCin / K;
  return tf.reverse(W.reshape([G, K, Cin, Cout]), 1).transpose([0, 1, 3, 2]).reshape([G, K * Cout, Cin]);
}

/**
 * The direct grouped convolution (no im2col buffer, no group transposes) where a backend registers it (the blas
 * addon: native/conv.c): `ConvbertGroupedConv1d` x [B, T, G·Ci], w [G, K·Ci, Co] → [B, T, G·Co] (attrs kernelSize,
 * before), and `ConvbertGroupedConv1dFilter` x, dy → dw [G, K·Ci, Co] (attrs kernelSize, before, groups).
 */
export const DIRECT_CONV_KERNELS = { forward: 'ConvbertGroupedConv1d', filter: 'ConvbertGroupedConv1dFilter' } as const;

function directConvAvailable(): boolean {
  return kernelRegistered(DIRECT_CONV_KERNELS.forward) && kernelRegistered(DIRECT_CONV_KERNELS.filter);
}

function makeDirectConvOp(K: number, before: number, after: number) {
  return customOp<[tf.Tensor3D, tf.Tensor3D]>(([x, W], save) => {
    save([x, W]);
    return {
      value: tf.engine().runKernel(DIRECT_CONV_KERNELS.forward, { x, w: W }, { kernelSize: K, before }) as tf.Tensor3D,
      gradFunc: (dy, [x, W]) => {
        const dx = tf.engine().runKernel(DIRECT_CONV_KERNELS.forward, { x: dy, w: flipKernel(W as tf.Tensor3D, K) }, { kernelSize: K, before: after }) as tf.Tensor;
        const dW = tf.engine().runKernel(DIRECT_CONV_KERNELS.filter, { x: x!, dy }, { kernelSize: K, before, groups: W!.shape[0] }) as tf.Tensor;
        return [dx, dW];
      },
    };
  });
}

function makeConvOp(K: number, before: number, after: number, saveIm2col: boolean) {
  return customOp<[tf.Tensor3D, tf.Tensor3D]>(([x, W], save) => {
    const G = W.shape[0];
    const cols = im2colGroups(x, K, before, after, G);
    // Without saveIm2col only x (alive anyway) and W stay on the tape.
    save(saveIm2col ? [x, W, ...(Array.isArray(cols) ? cols : [cols])] : [x, W]);
    return {
      value: convFromCols(cols, W, x.shape[0], x.shape[1]),
      gradFunc: (dy, [x, W, ...saved]) => {
        const dx = convForward(dy as tf.Tensor3D, flipKernel(W as tf.Tensor3D, K), K, after, before);
        const cs: Cols = saved.length === 0 ? im2colGroups(x as tf.Tensor3D, K, before, after, G) : saved.length === 1 && saved[0]!.rank === 3 ? (saved[0] as tf.Tensor3D) : (saved as tf.Tensor2D[]);
        let dW: tf.Tensor;
        if (batchedGroups(G)) {
          dW = tf.matMul(stacked(cs), groupsFirst(dy, G), true, false);
        } else {
          const dys = groupsOf(dy, G);
          dW = tf.stack(separate(cs).map((c, g) => matMulTN(c, dys[g]!)));
        }
        return [dx, dW];
      },
    };
  });
}

const convOps = new Map<string, ReturnType<typeof makeConvOp>>();

/**
 * Grouped 1-D convolution along the sequence axis (cross-correlation, stride 1, no bias), contiguous groups.
 *
 * x [B, T, C]; kernel [G, K·Cg, Cout_g] in **im2col layout**: `kernel[g, k·Cg + i, o]` is the weight from input
 * channel `g·Cg + i` at tap k to output channel `g·Cout_g + o`, so
 *   y[b, t, g·Cout_g + o] = Σ_k Σ_i kernel[g, k·Cg + i, o] · x[b, t + k − before, g·Cg + i].
 * Convert from the reference layouts with `convKernelFromReference` ([K, Cg, C], TF/GroupBERT) or
 * `convKernelFromTorch` ([C, Cg, K], PyTorch Conv1d). Returns [B, T, G·Cout_g].
 */
export function groupedConv1d(x: tf.Tensor3D, kernel: tf.Tensor3D, opts: GroupedConv1dOptions): tf.Tensor3D {
  const { kernelSize: K, channelsPerGroup: Cg, padding } = opts;
  if (x.rank !== 3) throw new Error(`groupedConv1d: x must be [B, T, C], got [${x.shape}]`);
  if (kernel.rank !== 3) throw new Error(`groupedConv1d: kernel must be [G, K·Cg, Cout_g], got [${kernel.shape}]`);
  if (!Number.isInteger(K) || K < 1) throw new Error(`groupedConv1d: kernelSize must be a positive integer, got ${K}`);
  const C = x.shape[2];
  if (!Number.isInteger(Cg) || Cg < 1 || C % Cg !== 0) {
    throw new Error(`groupedConv1d: ${C} channels cannot be split into groups of ${Cg}`);
  }
  const G = C / Cg;
  if (kernel.shape[0] !== G || kernel.shape[1] !== K * Cg) {
    throw new Error(`groupedConv1d: kernel [${kernel.shape}] does not match G=${G}, K=${K}, Cg=${Cg} (want [${G}, ${K * Cg}, ·])`);
  }
  const [before, after] = convPadding(K, padding);
  const saveIm2col = opts.saveIm2col === true;
  const direct = directConvAvailable();
  const key = `${K}:${before}:${after}:${direct ? 'direct' : saveIm2col}`;
  let op = convOps.get(key);
  if (!op) convOps.set(key, (op = direct ? makeDirectConvOp(K, before, after) : makeConvOp(K, before, after, saveIm2col)));
  return op(x, kernel) as tf.Tensor3D;
}

/**
 * Reference (TF1 GroupBERT) layout [K, Cg, C] — `ref[k, i, o]` connects input channel ⌊o/Cg⌋·Cg + i at tap k to
 * output o — to this module's layout [G, K·Cg, Cg]. Assumes as many output as input channels per group.
 */
export function convKernelFromReference(ref: tf.Tensor3D): tf.Tensor3D {
  const [K, Cg, C] = ref.shape;
  if (C % Cg !== 0) throw new Error(`convKernelFromReference: ${C} output channels are not a multiple of ${Cg}`);
  const G = C / Cg;
  return tf.tidy(() => ref.reshape([K, Cg, G, Cg]).transpose([2, 0, 1, 3]).reshape([G, K * Cg, Cg]));
}

/** The inverse of `convKernelFromReference`: [G, K·Cg, Cg] → [K, Cg, G·Cg]. */
export function convKernelToReference(kernel: tf.Tensor3D, kernelSize: number): tf.Tensor3D {
  const [G, KCg, Cout] = kernel.shape;
  const Cg = KCg / kernelSize;
  return tf.tidy(() => kernel.reshape([G, kernelSize, Cg, Cout]).transpose([1, 2, 0, 3]).reshape([kernelSize, Cg, G * Cout]));
}

/** PyTorch `Conv1d(groups=G)` weight [C_out, Cg, K] → [G, K·Cg, C_out/G]. */
export function convKernelFromTorch(weight: tf.Tensor3D, groups: number): tf.Tensor3D {
  const [Cout, Cg, K] = weight.shape;
  const CoutG = Cout / groups;
  return tf.tidy(() => weight.reshape([groups, CoutG, Cg, K]).transpose([0, 3, 2, 1]).reshape([groups, K * Cg, CoutG]));
}
