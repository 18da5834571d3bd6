/**
 * Layer normalisation over the last axis with a hand-written backward pass. The tape keeps x (alive anyway),
 * γ, and the per-row mean and 1/σ; the stock formulation (tf.moments + elementwise ops) keeps ~6 full-size
 * intermediates per call, and memory is what limits batch size on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsAvailable } from './traits';
import { customOp } from './custom';

/** One fused pass each way on wasm with the SIMD kernels (rows whose length is a multiple of 4). */
function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, save: (t: tf.Tensor[]) => void) {
  const [y, mean, rstd] = tf.engine().runKernel(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
  save([x, gamma, mean!, rstd!]);
  return {
    value: y!,
    gradFunc: (dy: tf.Tensor, [x, gamma, mean, rstd]: tf.Tensor[]) =>
      tf.engine().runKernel(FUSED_KERNELS.layerNormGrad, { dy, x: x!, gamma: gamma!, mean: mean!, rstd: rstd! }) as tf.Tensor[],
  };
}

function makeLayerNorm(eps: number) {
  return customOp<[tf.Tensor, tf.Tensor1D, tf.Tensor1D]>(([x, gamma, beta], save) => {
    if (gamma.shape[0] % 4 === 0 && fusedKernelsAvailable(x.size)) return fusedLayerNorm(x, gamma, beta, eps, save);
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    save([x, gamma, mean, rstd]);
    return {
      value: tf.add(tf.mul(tf.mul(xc, rstd), gamma), beta),
      gradFunc: (dy, [x, gamma, mean, rstd]) => {
        const xhat = tf.mul(tf.sub(x!, mean!), rstd!);
        const g = tf.mul(dy, gamma!);
        // dx = (g − mean(g) − x̂·mean(g·x̂)) / σ
        const dx = tf.mul(
          rstd!,
          tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))),
        );
        const lead = Array.from({ length: x!.rank - 1 }, (_, i) => i);
        return [dx, tf.sum(tf.mul(dy, xhat), lead), tf.sum(dy, lead)];
      },
    };
  });
}

const ops = new Map<number, ReturnType<typeof makeLayerNorm>>();

/** (x − mean) / √(var + eps) · γ + β over the last axis. x [..., H], γ and β [H]. GroupBERT uses eps = 1e-3. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-3): tf.Tensor {
  const H = x.shape[x.rank - 1];
  if (gamma.shape[0] !== H || beta.shape[0] !== H || gamma.rank !== 1 || beta.rank !== 1) {
    throw new Error(`layerNorm: γ [${gamma.shape}] and β [${beta.shape}] must be [${H}] for x [${x.shape}]`);
  }
  let op = ops.get(eps);
  if (!op) ops.set(eps, (op = makeLayerNorm(eps)));
  return op(x, gamma, beta);
}
