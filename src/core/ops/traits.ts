/**
 * What the ops need to know about the active TF.js backend, as traits instead of backend names. A backend declares
 * its traits when it loads (src/engines/tfjs/backends/<name>/load.ts calls `setBackendTraits`); the ops read them
 * for whatever backend TF.js has active at the call (`tf.getBackend()`), so switching backends in a process keeps
 * working. A backend nobody declared traits for gets `DEFAULT_TRAITS`: stock TF.js ops, no fused kernels.
 *
 * Also here, because the ops call them: the names of our fused kernels (registered by the backends that have them)
 * and the check whether they can run.
 */
import * as tf from '@tensorflow/tfjs';

export interface BackendTraits {
  /** Our fused kernels (`FUSED_KERNELS`) are registered for this backend. */
  fusedKernels: boolean;
  /** Transposed matMul operands are slow (a scalar loop): materialise them with `tf.transpose` instead. */
  explicitTransposes: boolean;
  /** Batched (3-D) matMuls run fast, or fall back to a slow path (then ops use per-slice 2-D matMuls). */
  batchedMatMul: 'fast' | 'slow';
  /** The Exp kernel: 'slow' (a scalar loop) makes ops compute e^z for z ≤ 0 from two sigmoids instead. */
  exp: 'fast' | 'slow';
  /**
   * `dataSync` works (false: the backend reads the device only asynchronously, e.g. webgpu in Node, where
   * `dataSync` throws). Training then keeps every decision on the device and reads once per step with `await data()`.
   */
  syncReads: boolean;
}

/** Stock TF.js ops everywhere: what a backend that declared nothing gets. */
export const DEFAULT_TRAITS: Readonly<BackendTraits> = Object.freeze({ fusedKernels: false, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: true });

interface Declared {
  traits: BackendTraits;
  /** Whether the fused kernels can run now (e.g. the SIMD kernels may be switched off). */
  fusedReady?: () => boolean;
}

const declared = new Map<string, Declared>();

/**
 * Declare the traits of the TF.js backend registered as `tfBackendName` (e.g. 'wasm', 'cpu', 'tensorflow').
 * `fusedReady` is asked on each use when `traits.fusedKernels` is set.
 */
export function setBackendTraits(tfBackendName: string, traits: BackendTraits, fusedReady?: () => boolean): void {
  declared.set(tfBackendName, { traits: { ...traits }, ...(fusedReady ? { fusedReady } : {}) });
}

function active(): Declared | undefined {
  return declared.get(tf.getBackend());
}

/**
 * Whether the active backend registered a kernel of ours by this name (the fused kernels a backend may offer beyond
 * `FUSED_KERNELS`: the blas addon's keep mask, strided products, direct convolution, activations, Σx²); the ops keep
 * their stock composition where it did not.
 */
export function kernelRegistered(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** The traits of the backend TF.js has active now. */
export function backendTraits(): Readonly<BackendTraits> {
  return active()?.traits ?? DEFAULT_TRAITS;
}

/** Names of the fused kernels (ordinary TF.js kernels, `tf.engine().runKernel(name, inputs, attrs)`). */
export const FUSED_KERNELS = {
  gelu: 'ConvbertGelu',
  geluGrad: 'ConvbertGeluGrad',
  layerNorm: 'ConvbertLayerNorm',
  layerNormGrad: 'ConvbertLayerNormGrad',
  im2col: 'ConvbertIm2col',
  adamw: 'ConvbertAdamW',
} as const;

/** One AdamW update of a variable (the `adamw` fused kernel): inputs w, g, m, v; outputs w', m', v'. */
export interface AdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Bias corrections 1 − βᵗ (1 when off). */
  c1: number;
  c2: number;
  /** Weight decay λ for this variable (0 for the excluded ones). */
  decay: number;
  /** Gradient scale (clipping). */
  scale: number;
}

/**
 * Whether the fused kernels can run on the active backend for tensors of `elements` floats (their SIMD loops take
 * whole vectors of 4).
 */
export function fusedKernelsAvailable(elements = 0): boolean {
  if (elements % 4 !== 0) return false;
  const a = active();
  if (!a?.traits.fusedKernels) return false;
  return a.fusedReady ? a.fusedReady() : true;
}
