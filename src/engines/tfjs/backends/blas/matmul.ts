/**
 * TF.js's BatchMatMul on the wasm backend as sgemm on the same heap: the operands are read and the product written
 * where TF.js keeps them (byte offsets into the wasm memory), in every transpose combination and batched, with a
 * batch of one broadcast. What sgemm does not cover (other dtypes, batch broadcasting beyond one side) goes to the
 * stock kernel. ./kernels.ts installs it with the other native kernels while `blas` is the loaded backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset } from '../wasm/simd';
import type { BlasAddon } from './addon';
import { heap } from './heap';

type KernelFunc = tf.KernelConfig['kernelFunc'];

const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

/** The BatchMatMul kernel on sgemm; `count` records whether a call went native or to `stock`. */
export function batchMatMulKernel(addon: BlasAddon, stock: KernelFunc, count: (native: boolean) => void): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as BackendWasm;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || (batchA !== batchB && batchA !== 1 && batchB !== 1)) {
      count(false);
      return stock(args);
    }
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) {
      count(false);
      return stock(args); // its message says what does not match
    }
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const batch = Math.max(batchA, batchB);
    count(true);
    addon.sgemm(heap(backend), heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), batch, m, n, k, transposeA, transposeB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
    return out;
  };
}
