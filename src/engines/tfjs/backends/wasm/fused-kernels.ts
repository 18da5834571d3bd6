/**
 * Fused kernels of our own for the wasm backend, on the SIMD module (./simd): erf-GELU and its gradient, layer normalisation forward and backward, the per-group im2col of the grouped convolution (one pass
 * instead of pad → K slices → stack → transpose → unstack), and the AdamW update (one pass over w, g, m, v instead
 * of ~12 kernels per variable). Each replaces 5–12 stock kernel calls (and their
 * full-size intermediates) with one pass; the stock Erf and Exp kernels are scalar loops besides.
 *
 * They are ordinary TF.js kernels (`tf.engine().runKernel(name, inputs, attrs)`), so scopes, disposal and
 * profiling treat them like any other. core/ops calls them through `fusedKernelsAvailable` (core/ops/traits.ts) and keeps the
 * stock composition wherever they are not (other backends, SIMD kernels off, sizes not a multiple of 4).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { FUSED_KERNELS, type AdamWAttrs } from '../../../../core/ops/traits';
import { heapOffset, simdKernels, type SimdKernels } from './simd';

export { FUSED_KERNELS, fusedKernelsAvailable, type AdamWAttrs } from '../../../../core/ops/traits';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

function setup(args: KernelArgs): { b: BackendWasm; k: SimdKernels; at: (t: tf.TensorInfo) => number } {
  const b = args.backend as BackendWasm;
  const k = simdKernels(b);
  if (!k) throw new Error(`${FUSED_KERNELS.gelu}…: the wasm SIMD kernels are not available (check fusedKernelsAvailable first)`);
  return { b, k, at: (t) => heapOffset(b, t) };
}

const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);

const kernels: Record<keyof typeof FUSED_KERNELS, KernelFunc> = {
  gelu: (args) => {
    const { b, k, at } = setup(args);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const y = b.makeOutput(x.shape, 'float32');
    const cdf = b.makeOutput(x.shape, 'float32');
    k.gelu(at(x), at(y), at(cdf), size(x));
    return [y, cdf];
  },
  geluGrad: (args) => {
    const { b, k, at } = setup(args);
    const { dy, x, cdf } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; cdf: tf.TensorInfo };
    const dx = b.makeOutput(x.shape, 'float32');
    k.gelu_grad(at(dy), at(x), at(cdf), at(dx), size(x));
    return dx;
  },
  layerNorm: (args) => {
    const { b, k, at } = setup(args);
    const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { eps } = args.attrs as unknown as { eps: number };
    const h = x.shape[x.shape.length - 1]!;
    const rowShape = [...x.shape.slice(0, -1), 1];
    const y = b.makeOutput(x.shape, 'float32');
    const mean = b.makeOutput(rowShape, 'float32');
    const rstd = b.makeOutput(rowShape, 'float32');
    k.layernorm(at(x), at(gamma), at(beta), at(y), at(mean), at(rstd), size(x) / h, h, eps);
    return [y, mean, rstd];
  },
  layerNormGrad: (args) => {
    const { b, k, at } = setup(args);
    const { dy, x, gamma, mean, rstd } = args.inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'rstd', tf.TensorInfo>;
    const h = x.shape[x.shape.length - 1]!;
    const dx = b.makeOutput(x.shape, 'float32');
    const dgamma = b.makeOutput([h], 'float32');
    const dbeta = b.makeOutput([h], 'float32');
    k.layernorm_grad(at(dy), at(x), at(gamma), at(mean), at(rstd), at(dx), at(dgamma), at(dbeta), size(x) / h, h);
    return [dx, dgamma, dbeta];
  },
  im2col: (args) => {
    const { b, k, at } = setup(args);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { kernelSize: K, before, groups: G } = args.attrs as unknown as { kernelSize: number; before: number; groups: number };
    const [B, T, C] = x.shape as [number, number, number];
    const Cg = C / G;
    const cols = Array.from({ length: G }, () => b.makeOutput([B * T, K * Cg], 'float32'));
    cols.forEach((c, g) => k.im2col(at(x), at(c), B, T, C, g, Cg, K, before));
    return cols;
  },
  adamw: (args) => {
    const { b, k, at } = setup(args);
    const { w, g, m, v } = args.inputs as Record<'w' | 'g' | 'm' | 'v', tf.TensorInfo>;
    const a = args.attrs as unknown as AdamWAttrs;
    const [w2, m2, v2] = [w, m, v].map((t) => b.makeOutput(t.shape, 'float32'));
    k.adamw(at(w), at(g), at(m), at(v), at(w2!), at(m2!), at(v2!), size(w), a.lr, a.beta1, a.beta2, a.epsilon, a.c1, a.c2, a.decay, a.scale);
    return [w2!, m2!, v2!];
  },
};

/** Register the fused kernels for 'wasm' (idempotent). */
export function registerFusedWasmKernels(): void {
  for (const [key, name] of Object.entries(FUSED_KERNELS) as [keyof typeof FUSED_KERNELS, string][]) {
    if (!tf.getKernel(name, 'wasm')) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernels[key] });
  }
}

/**
 * Whether the fused kernels can run on the active wasm backend now: registered, and the SIMD kernels on (tests
 * switch them off). The wasm backend declares this as its `fusedReady` (core/ops/traits.ts).
 */
export function wasmFusedKernelsReady(): boolean {
  if (!tf.getKernel(FUSED_KERNELS.gelu, 'wasm')) return false;
  return simdKernels(tf.backend() as BackendWasm) !== undefined;
}
