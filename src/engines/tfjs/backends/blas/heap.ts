/**
 * A byte view of the wasm backend's whole memory, for the native kernels: they take it and byte offsets of tensors
 * in it. Refreshed when the memory grows (its buffer is then a new one).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmMemory } from '../wasm/simd';

const views = new WeakMap<object, Uint8Array>();

export function heap(backend: BackendWasm): Uint8Array {
  const memory = wasmMemory(backend);
  if (!memory) throw new Error('the wasm backend\'s memory cannot be reached');
  let v = views.get(backend);
  if (!v || v.buffer !== memory.buffer) views.set(backend, (v = new Uint8Array(memory.buffer)));
  return v;
}
