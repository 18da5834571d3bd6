/**
 * Dropout from a counter-based keep mask (core/rng.ts's `fillKeepMask`): the same mask from a seed on every backend,
 * so runs agree across backends and a resumed run draws what an uninterrupted one would. A backend may register the
 * `ConvbertKeepMask` kernel to draw it natively (the blas addon does, on the wasm heap, multi-threaded); elsewhere
 * it is drawn here, in JavaScript, and uploaded.
 */
import * as tf from '@tensorflow/tfjs';
import { fillKeepMask, keepThreshold } from '../rng';
import { kernelRegistered } from './traits';

export const KEEP_MASK_KERNEL = 'ConvbertKeepMask';

/** The attributes of the `ConvbertKeepMask` kernel (no inputs; a float32 tensor of `shape` out). */
export interface KeepMaskAttrs {
  shape: number[];
  /** uint32 */
  seed: number;
  /** Kept below this, out of 2³² (2³² keeps all). */
  threshold: number;
  /** The kept elements' value, float32 1/keep. */
  scale: number;
}

/** The scaled keep mask (0 or 1/(1 − rate)) of `shape` for a uint32 seed. */
export function keepMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const keep = 1 - rate;
  if (!(keep > 0 && keep <= 1)) throw new RangeError(`a dropout rate is in [0, 1), not ${rate}`);
  const attrs: KeepMaskAttrs = { shape: [...shape], seed: seed >>> 0, threshold: keepThreshold(keep), scale: Math.fround(1 / keep) };
  if (kernelRegistered(KEEP_MASK_KERNEL)) {
    return tf.engine().runKernel(KEEP_MASK_KERNEL, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return tf.tensor(fillKeepMask(new Float32Array(tf.util.sizeFromShape(shape)), attrs.seed, attrs.threshold, attrs.scale), shape, 'float32');
}

/** x · keepMask(x.shape): inverted dropout (the gradient is dy times the same mask). Identity at rate 0. */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate > 0)) return x;
  return tf.tidy(() => tf.mul(x, keepMask(x.shape, rate, seed)));
}
