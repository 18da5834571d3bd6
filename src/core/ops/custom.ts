/**
 * Small typed helpers shared by the ops: a typed `tf.customGrad`, and matMuls with a transposed operand that stay
 * on the fast path of the active backend.
 */
import * as tf from '@tensorflow/tfjs';
import { backendTraits } from './traits';

export type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
export type CustomForward<I extends tf.Tensor[]> = (
  inputs: I,
  save: (tensors: tf.Tensor[]) => void,
) => { value: tf.Tensor; gradFunc: GradFunc };

/**
 * `tf.customGrad` with typed inputs. Tensors needed by `gradFunc` must go through `save` (inputs included):
 * everything else made in the forward pass is disposed when it ends, and everything `gradFunc` makes except the
 * gradients it returns is disposed when it returns. `gradFunc` returns one gradient per input, float32 and of the
 * input's shape (use `zerosFor` for integer or constant inputs).
 */
export function customOp<I extends tf.Tensor[]>(forward: CustomForward<I>): (...inputs: I) => tf.Tensor {
  type Fn = Parameters<typeof tf.customGrad>[0];
  const op = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const { value, gradFunc } = forward(args as unknown as I, save);
    // TF.js runs a custom gradient outside any tidy scope: its temporaries (transposes, im2col rebuilds, per-head
    // pieces…) would stay allocated until the whole backward pass ends. Only the gradients leave this scope.
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => gradFunc(dy, saved)) };
  }) as Fn);
  return (...inputs: I) => op(...inputs);
}

/** A float32 zero gradient for an input that takes none (ids, masks, labels). */
export function zerosFor(t: tf.Tensor): tf.Tensor {
  return tf.zeros(t.shape, 'float32');
}

/**
 * XNNPACK in the wasm backend only handles a plain 2-D `A·B`; any transpose flag (every stock matMul gradient)
 * drops to a scalar loop at ~1–3 GFLOP/s. Backends that declare `explicitTransposes` (wasm) get the transposed operand
 * materialised with `tf.transpose` instead; the others take the flags natively.
 */
export function explicitTransposes(): boolean {
  return backendTraits().explicitTransposes;
}

/**
 * aᵀ·b for a [K, M], b [K, N] → [M, N]. On wasm one operand is transposed explicitly, chosen by shape: XNNPACK's
 * GEMM runs faster with the longer side of the result as its rows, so for N > M the product is (bᵀ·a)ᵀ. Measured
 * on 2 threads (K = 1024 tokens): M = 256, N = 1024 (an FFN up-projection's weight gradient) 17.3 ms as aᵀ·b,
 * 13.9 ms as (bᵀ·a)ᵀ; N = 768: 12.5 vs 10.1 ms; the other way round, M = 1024, N = 256: 13.3 vs 15.6 ms, and a
 * conv weight gradient M = 112, N = 16: 0.34 vs 0.74 ms.
 */
export function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTransposes()) return tf.matMul(a, b, true, false);
  if (b.shape[1] > a.shape[1]) return tf.transpose(tf.matMul(tf.transpose(b), a) as tf.Tensor2D);
  return tf.matMul(tf.transpose(a), b);
}

/** a·bᵀ for a [M, K], b [N, K] → [M, N]. */
export function matMulNT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTransposes()) return tf.matMul(a, b, false, true);
  const [M, K] = a.shape;
  const N = b.shape[0];
  return N * K <= M * K + M * N ? tf.matMul(a, tf.transpose(b)) : tf.transpose(tf.matMul(b, tf.transpose(a)) as tf.Tensor2D);
}

export function lastDim(t: tf.Tensor): number {
  return t.shape[t.shape.length - 1]!;
}

/**
 * e^z for z ≤ 0 (softmax numerators, the Gaussian density). On wasm it is computed as σ(z)/σ(−z), which is e^z
 * exactly: the Exp kernel there is a scalar loop (8.4 ms per 1M elements) while Sigmoid is XNNPACK's vectorised,
 * threaded one (two of them and a division: 3.6 ms). They agree within 1e-6 relative (4e-7 over the GELU's
 * range); results below float32's smallest normal (z < −87.3) flush to 0. tf.exp where the backend's Exp is
 * not declared slow (`BackendTraits.exp`).
 */
export function expNonPositive(z: tf.Tensor): tf.Tensor {
  if (backendTraits().exp !== 'slow') return tf.exp(z);
  return tf.div(tf.sigmoid(z), tf.sigmoid(tf.neg(z)));
}
