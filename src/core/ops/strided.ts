/**
 * Products of matrices where they lie inside bigger tensors: a head of a [B, T, H·dh] projection, a channel group of
 * an [N, G·n] activation. One kernel call multiplies a whole batch of them and writes each result where it belongs
 * in the output (e.g. straight into [B, T, H·dh] or [N, G·n]), so attention's head split and merge and the grouped
 * ops' group moves need no transposes. A backend that has the kernel registers `ConvbertStridedMatMul` (the blas
 * addon: strided sgemm on the wasm heap); the ops check `stridedMatMulAvailable()` and keep their transposing
 * formulation elsewhere.
 */
import * as tf from '@tensorflow/tfjs';
import { kernelRegistered } from './traits';

export const STRIDED_MATMUL_KERNEL = 'ConvbertStridedMatMul';

/** Where matrix (i, j) of a b1 × b2 batch lies in a tensor: it starts i·s1 + j·s2 elements in, its rows ld apart. */
export interface MatrixLayout {
  s1: number;
  s2: number;
  ld: number;
}

export interface StridedMatMulAttrs {
  b1: number;
  b2: number;
  /** op(A) is m×k, op(B) k×n, C m×n. */
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  /** C = alpha · op(A) · op(B). */
  alpha: number;
  a: MatrixLayout;
  b: MatrixLayout;
  c: MatrixLayout;
  /** The output tensor's shape; the C matrices fill it exactly. */
  shape: number[];
}

export function stridedMatMulAvailable(): boolean {
  return kernelRegistered(STRIDED_MATMUL_KERNEL);
}

/** A contiguous batch of [rows, cols] matrices (b2 of them per step of the first index). */
export function packed(rows: number, cols: number, b2 = 1): MatrixLayout {
  return { s1: b2 * rows * cols, s2: rows * cols, ld: cols };
}

/**
 * The batch of products. Inputs go to the kernel with a third, empty one whose shape [b1·b2, m, n, k, 0] carries the
 * product's size, so that counting executed FLOPs from a profile (core/ops/flop-counter.ts) sees it.
 */
export function stridedMatMul(a: tf.Tensor, b: tf.Tensor, attrs: StridedMatMulAttrs): tf.Tensor {
  const { b1, b2, m, n, k, shape } = attrs;
  if (b1 * b2 * m * n !== tf.util.sizeFromShape(shape)) {
    throw new Error(`stridedMatMul: ${b1}×${b2} products of ${m}×${n} do not fill an output of shape [${shape}]`);
  }
  const dims = tf.tensor(new Float32Array(0), [b1 * b2, m, n, k, 0], 'float32');
  try {
    return tf.engine().runKernel(STRIDED_MATMUL_KERNEL, { a, b, dims }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  } finally {
    dims.dispose();
  }
}
