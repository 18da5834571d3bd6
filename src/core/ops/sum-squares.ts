/**
 * Σ x² over many tensors (the global gradient norm's square): one fused kernel where a backend registers
 * `ConvbertSumSquares` (the blas addon does: one threaded pass, double accumulation), else a cast, square and sum per
 * tensor and one addN.
 */
import * as tf from '@tensorflow/tfjs';
import { kernelRegistered } from './traits';

export const SUM_SQUARES_KERNEL = 'ConvbertSumSquares';

/** A float32 scalar: Σ over `xs` of Σ x². Inputs go to the kernel as x0, x1, … */
export function sumSquares(xs: tf.Tensor[]): tf.Scalar {
  if (xs.length === 0) return tf.scalar(0, 'float32');
  if (kernelRegistered(SUM_SQUARES_KERNEL) && xs.every((x) => x.dtype === 'float32')) {
    const inputs = Object.fromEntries(xs.map((x, i) => [`x${i}`, x]));
    return tf.engine().runKernel(SUM_SQUARES_KERNEL, inputs, {}) as tf.Scalar;
  }
  return tf.tidy(() => tf.addN(xs.map((g) => tf.sum(tf.square(g.toFloat())))) as tf.Scalar);
}
