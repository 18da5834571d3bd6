/**
 * The wasm SIMD kernels of kernels.wat, instantiated against the TF.js wasm module's own memory: a kernel reads and
 * writes tensors in place by their heap offsets, with no copies in or out. One instance per backend (the memory is
 * per backend); `undefined` where the memory cannot be reached or the module does not instantiate, and callers
 * then keep to the stock kernels.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type * as tf from '@tensorflow/tfjs';
import { KERNELS_WASM } from './kernels.generated';

/** The exports of kernels.wat. Pointers are byte offsets into the wasm heap; counts are elements. */
export interface SimdKernels {
  gelu(x: number, y: number, cdf: number, n: number): void;
  gelu_grad(dy: number, x: number, cdf: number, dx: number, n: number): void;
  layernorm(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, h: number, eps: number): void;
  layernorm_grad(dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, rows: number, h: number): void;
  transpose(src: number, dst: number, batch: number, rows: number, cols: number): void;
  swap_leading(src: number, dst: number, a: number, b: number, n: number): void;
  /** swap_leading over a batch of [a, b, n] blocks in one call (the native kernels have it; this module does not). */
  swap_leading_batch?(src: number, dst: number, batch: number, a: number, b: number, n: number): void;
  /** Strides and run in bytes. */
  copy_rows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, run: number): void;
  im2col(x: number, dst: number, B: number, T: number, C: number, g: number, Cg: number, K: number, before: number): void;
  sum_rows(src: number, dst: number, rows: number, cols: number): void;
  adamw(
    w: number, g: number, m: number, v: number, w2: number, m2: number, v2: number, n: number,
    lr: number, beta1: number, beta2: number, eps: number, c1: number, c2: number, decay: number, scale: number,
  ): void;
}

/** The parts of the WebAssembly JS API used here (the core compiles without the DOM lib, which declares them). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: abstract new (...args: never[]) => WasmMemory;
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}).WebAssembly;

let enabled = true;
const instances = new WeakMap<object, SimdKernels | null>();

/**
 * Turn the SIMD kernels off (or back on) for this process: the ops and the patched kernels then take the stock
 * path. For A/B benchmarks and for tests that compare the two.
 */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

export function simdKernelsEnabled(): boolean {
  return enabled;
}

/** The module's memory: exported by the single-threaded build, created in JS (and shared) by the threaded one. */
export function wasmMemory(backend: BackendWasm): WasmMemory | undefined {
  const m = backend.wasm as unknown as { wasmMemory?: WasmMemory; asm?: { memory?: WasmMemory }; wasmExports?: { memory?: WasmMemory } };
  return m.wasmMemory ?? m.asm?.memory ?? m.wasmExports?.memory;
}

function instantiate(backend: BackendWasm): SimdKernels | null {
  const memory = wasmMemory(backend);
  if (!(memory instanceof WA.Memory)) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const bytes = Buffer.from(shared ? KERNELS_WASM.shared : KERNELS_WASM.plain, 'base64');
    return new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    return null; // no SIMD in this runtime, or a memory the module cannot import: the stock kernels stay
  }
}

/**
 * Native kernels in place of this module's (the `blas` backend's addon: the same functions on the same heap,
 * multi-threaded), or undefined for this module's own again.
 */
let provider: ((backend: BackendWasm) => SimdKernels | undefined) | undefined;
export function setSimdKernelProvider(p: ((backend: BackendWasm) => SimdKernels | undefined) | undefined): void {
  provider = p;
}

/** The kernels for this backend, or undefined (disabled, or not available here). */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  if (!enabled) return undefined;
  const native = provider?.(backend);
  if (native) return native;
  let k = instances.get(backend);
  if (k === undefined) instances.set(backend, (k = instantiate(backend)));
  return k ?? undefined;
}

/** A tensor's byte offset in the wasm heap. */
export function heapOffset(backend: BackendWasm, t: tf.TensorInfo): number {
  return (backend.dataIdMap.get(t.dataId) as unknown as { memoryOffset: number }).memoryOffset;
}
