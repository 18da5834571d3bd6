/**
 * TF.js's BatchMatMul on the wasm backend, replaced by sgemm on the same heap: the operands are read and the product
 * written where TF.js keeps them (byte offsets into the wasm memory), in every transpose combination and batched,
 * with a batch of one broadcast. What sgemm does not cover (other dtypes, batch broadcasting beyond one side) goes to
 * the stock kernel. Installed while the `blas` backend is the one loaded; removed when plain wasm is asked for.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset } from '../wasm/simd';
import type { BlasAddon } from './addon';
import { heap } from './heap';

let installed: { stock: tf.KernelConfig } | undefined;
/** Products sgemm computed (and the stock kernel's share): what the tests check to know which one ran. */
const calls = { blas: 0, stock: 0 };
const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

export function installBlasMatMul(addon: BlasAddon): void {
  if (installed) return;
  const stock = tf.getKernel('BatchMatMul', 'wasm');
  if (!stock) throw new Error('the wasm backend has no BatchMatMul kernel to replace');
  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as BackendWasm;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || (batchA !== batchB && batchA !== 1 && batchB !== 1)) {
      calls.stock++;
      return stock.kernelFunc(args);
    }
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) {
      calls.stock++;
      return stock.kernelFunc(args); // its message says what does not match
    }
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const batch = Math.max(batchA, batchB);
    calls.blas++;
    addon.sgemm(heap(backend), heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), batch, m, n, k, transposeA, transposeB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...stock, kernelFunc });
  installed = { stock };
}

/** Puts TF.js's own BatchMatMul back (plain wasm asked for in this process). */
export function removeBlasMatMul(): void {
  if (!installed) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(installed.stock);
  installed = undefined;
}

export function blasMatMulInstalled(): boolean {
  return installed !== undefined;
}

/** How many products went to sgemm and how many to the stock kernel, so far in this process. */
export function blasMatMulCalls(): { blas: number; stock: number } {
  return { ...calls };
}
