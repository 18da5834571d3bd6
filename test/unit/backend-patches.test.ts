/**
 * The wasm kernel patches give exactly the stock kernels' results (Slice, SplitV, Unpack over ranks 1–5, Concat, Pack and Reverse,
 * contiguous and strided blocks, float32/int32/bool, empty pieces; Transpose, Sum over leading axes, GatherV2 on axis 0), UnsortedSegmentSum and OneHot match the cpu
 * backend, and apply/remove are idempotent.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  applyWasmKernelPatches,
  loadBackend,
  removeWasmKernelPatches,
  wasmKernelPatchesApplied,
} from '../../src/engines/tfjs/backends';
import { copyBlock } from '../../src/engines/tfjs/backends/wasm/wasm-patches';
import { randn } from '../../src/core/ops';

type Result = { shape: number[]; dtype: string; values: number[] };

function snapshot(ts: tf.Tensor | tf.Tensor[]): Result[] {
  return (Array.isArray(ts) ? ts : [ts]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
}

function ramp(shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32'): tf.Tensor {
  const n = tf.util.sizeFromShape(shape);
  const vals = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i * 7) % 3 === 0 : dtype === 'int32' ? i * 3 - 50 : i * 0.5 - 3));
  return tf.tensor(vals as number[], shape, dtype);
}

/** The battery run with stock and with patched kernels. */
function battery(): Result[] {
  return tf.tidy(() => {
    const out: Result[] = [];
    const push = (t: tf.Tensor | tf.Tensor[]) => out.push(...snapshot(t));
    // Slice: ranks 1–5, contiguous (leading-axis) and strided blocks.
    push(tf.slice(ramp([10]), [3], [4]));
    push(tf.slice(ramp([6, 5]), [1, 0], [3, 5]));
    push(tf.slice(ramp([6, 5]), [1, 2], [4, 2]));
    push(tf.slice(ramp([4, 5, 6]), [1, 1, 2], [2, 3, 3]));
    push(tf.slice(ramp([4, 5, 6]), [0, 2, 0], [4, 2, 6]));
    push(tf.slice(ramp([3, 4, 5, 6]), [1, 0, 2, 1], [2, 4, 2, 4]));
    push(tf.slice(ramp([2, 3, 4, 5, 6]), [1, 1, 0, 2, 3], [1, 2, 4, 2, 2]));
    push(tf.slice(ramp([2, 3, 4, 5, 6], 'int32'), [0, 1, 1, 0, 0], [2, 1, 2, 5, 6]));
    push(tf.slice(ramp([5, 6], 'bool'), [2, 1], [2, 3]));
    push(tf.slice(ramp([5, 6]), [2, 1], [0, 3]));
    push(tf.slice(ramp([5, 6]), [1, 1], [-1, -1]));
    // SplitV: equal and explicit sizes, every axis, with a -1 size.
    push(tf.split(ramp([4, 6, 8]), 2, 0));
    push(tf.split(ramp([4, 6, 8]), 3, 1));
    push(tf.split(ramp([4, 6, 8]), [1, 4, 3], 2));
    push(tf.split(ramp([4, 6, 8], 'int32'), [2, -1], -1));
    // Unpack: every axis, negative axis, bool.
    push(tf.unstack(ramp([3, 4, 5])));
    // Transpose: tiled 2-D, stacked 2-D, leading-axes swap; other perms and dtypes.
    push(tf.transpose(ramp([70, 45])));
    push(tf.transpose(ramp([33, 40], 'int32')));
    push(tf.transpose(ramp([3, 37, 5]), [0, 2, 1]));
    push(tf.transpose(ramp([4, 3, 5]), [1, 0, 2]));
    push(tf.transpose(ramp([2, 3, 4]), [2, 0, 1]));
    // Sum over leading axes (keepDims too); other axes and int32 go to the stock kernel.
    push(tf.sum(ramp([40, 7]), 0));
    push(tf.sum(ramp([3, 5, 7]), [0, 1]));
    push(tf.sum(ramp([3, 5, 7]), [1, 0], true));
    push(tf.sum(ramp([3, 5, 7]), 1));
    push(tf.sum(ramp([3, 5], 'int32'), 0));
    // GatherV2 on axis 0 (any index shape) and on axis 1 (stock).
    push(tf.gather(ramp([6, 4]), tf.tensor2d([5, 0, 5, 2], [2, 2], 'int32')));
    push(tf.gather(ramp([6, 4, 3], 'int32'), tf.tensor1d([1, 1, 3], 'int32')));
    push(tf.gather(ramp([6, 4]), tf.tensor1d([3, 0], 'int32'), 1));
    // Identity (clone) of float32, int32 and bool.
    push([tf.clone(ramp([3, 4])), tf.clone(ramp([5], 'int32')), tf.clone(ramp([2, 2], 'bool'))]);
    // Concat and Pack along every axis, mixed widths, an empty piece, int32 and bool.
    push(tf.concat([ramp([3, 4, 5]), ramp([3, 2, 5])], 1));
    push(tf.concat([ramp([6, 4]), ramp([6, 7]), ramp([6, 1]), ramp([6, 0])], 1));
    push(tf.concat([ramp([2, 3]), ramp([5, 3])], 0));
    push(tf.concat([ramp([2, 3, 4], 'int32'), ramp([2, 3, 6], 'int32')], -1));
    push(tf.concat([ramp([2, 5], 'bool'), ramp([2, 3], 'bool')], 1));
    push(tf.stack([ramp([4, 6]), ramp([4, 6]), ramp([4, 6])], 0));
    push(tf.stack([ramp([4, 6]), ramp([4, 6]), ramp([4, 6])], 1));
    push(tf.stack([ramp([4, 6], 'int32'), ramp([4, 6], 'int32')], 2));
    push(tf.stack([ramp([3], 'bool'), ramp([3], 'bool')], 1));
    // Reverse along one non-last axis (patched) and along the last / several axes (stock).
    push(tf.reverse(ramp([2, 7, 3, 4]), 1));
    push(tf.reverse(ramp([5, 3]), 0));
    push(tf.reverse(ramp([4, 6], 'int32'), 0));
    push(tf.reverse(ramp([3, 5]), 1));
    push(tf.reverse(ramp([3, 4, 5]), [0, 2]));
    // Slices that need the outer-axis loop (two strided axes) and whole-vector runs.
    push(tf.slice(ramp([4, 6, 8, 12]), [1, 2, 0, 4], [2, 3, 8, 8]));
    push(tf.slice(ramp([3, 16, 32]), [0, 4, 8], [3, 8, 16]));
    push(tf.unstack(ramp([3, 4, 5]), 1));
    push(tf.unstack(ramp([3, 4, 5]), -1));
    push(tf.unstack(ramp([3, 4], 'bool'), 1));
    return out;
  });
}

before(async () => {
  await loadBackend('wasm', { threads: 1 });
});

describe('wasm kernel patches', () => {
  it('Slice, SplitV and Unpack give exactly the stock results', () => {
    removeWasmKernelPatches();
    assert.deepEqual(wasmKernelPatchesApplied(), []);
    const stock = battery();
    assert.equal(applyWasmKernelPatches().length, 12);
    const patched = battery();
    assert.equal(patched.length, stock.length);
    patched.forEach((p, i) => assert.deepEqual(p, stock[i], `case ${i}`));
  });

  it('and the same results as the cpu backend', async () => {
    const onWasm = battery();
    await tf.setBackend('cpu');
    const onCpu = battery();
    await tf.setBackend('wasm');
    onWasm.forEach((w, i) => assert.deepEqual(w, onCpu[i], `case ${i}`));
  });

  it('survive wasm memory growth between allocation and copy (a large unstack)', () => {
    const x = randn([48, 64, 96], 1);
    const pieces = tf.unstack(x, 1);
    const big = tf.zeros([64 * 1024 * 1024 / 4]); // 64 MB, likely to grow the heap after the pieces exist
    const again = tf.unstack(x, 1);
    const xv = x.arraySync() as number[][][];
    for (const j of [0, 17, 63]) {
      const a = again[j]!.arraySync() as number[][];
      const p = pieces[j]!.arraySync() as number[][];
      assert.deepEqual(a, p);
      assert.deepEqual(a[5], xv[5]![j]);
    }
    tf.dispose([x, big, ...pieces, ...again]);
  });

  it('UnsortedSegmentSum (missing from stock wasm) matches the cpu backend; tf.gather now has a gradient on wasm', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = ramp([6, 3]);
        const xi = ramp([2, 3, 2], 'int32');
        const s1 = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 4, 0, 2], 'int32'), 5);
        const s2 = tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1], 'int32'), 3);
        const table = ramp([5, 4]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([4, 1, 4, 4], 'int32')), ramp([4, 4]))))(table);
        return snapshot([s1, s2, g]);
      });
    const onWasm = run();
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    // The cpu kernel returns float32 for int32 input; this one keeps the input dtype, as TensorFlow does.
    assert.equal(onWasm[1]!.dtype, 'int32');
    assert.equal(onCpu[1]!.dtype, 'float32');
    onCpu[1]!.dtype = 'int32';
    assert.deepEqual(onWasm, onCpu);
  });

  it('OneHot honours a float32 dtype (the stock wasm kernel writes int32 bits)', () => {
    const ids = tf.tensor1d([2, 0, 5, -1], 'int32');
    assert.deepEqual(Array.from(tf.oneHot(ids, 4, 1, 0, 'float32').dataSync()), [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(tf.oneHot(ids, 3, 5, -1, 'float32').dataSync()), [-1, -1, 5, 5, -1, -1, -1, -1, -1, -1, -1, -1]);
    assert.deepEqual(Array.from(tf.oneHot(ids, 3).dataSync()), [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    removeWasmKernelPatches();
    try {
      const stock = tf.oneHot(ids, 4, 1, 0, 'float32').dataSync();
      assert.ok(stock[2]! > 0 && stock[2]! < 1e-40, 'the stock kernel bug this patch works around');
      assert.throws(() => tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids.slice([0], [2]))))(ramp([6, 2])), /UnsortedSegmentSum/);
    } finally {
      applyWasmKernelPatches();
    }
  });

  it('a clone shares its buffer and outlives the original', () => {
    const x = ramp([64, 32]);
    const before = tf.engine().backend.numDataIds();
    const c = tf.clone(x);
    assert.equal(tf.engine().backend.numDataIds(), before, 'no new buffer');
    const want = Array.from(x.dataSync());
    x.dispose();
    assert.deepEqual(Array.from(c.dataSync()), want);
    const y = tf.add(c, 1); // the buffer is still valid for kernels
    assert.equal(y.dataSync()[3], want[3]! + 1);
    tf.dispose([c, y]);
  });

  it('Reverse of a bool tensor matches the cpu backend (the stock wasm kernel reads bools as 4-byte values)', async () => {
    const run = () => tf.tidy(() => Array.from(tf.reverse(ramp([3, 5], 'bool'), 0).dataSync()));
    const onWasm = run();
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    assert.deepEqual(onWasm, onCpu);
    assert.deepEqual(onCpu.slice(0, 5), [0, 0, 1, 0, 0]); // the last row of the ramp: (i·7) mod 3 = 0 for i = 10…14
  });

  it('apply and remove are idempotent', () => {
    assert.deepEqual(applyWasmKernelPatches(), []);
    removeWasmKernelPatches();
    removeWasmKernelPatches();
    assert.equal(tf.getKernel('UnsortedSegmentSum', 'wasm'), undefined);
    assert.ok(tf.getKernel('Slice', 'wasm'));
    assert.equal(applyWasmKernelPatches().length, 12);
    assert.equal(wasmKernelPatchesApplied().length, 12);
  });

  it('copyBlock handles scalars, full tensors and merged trailing runs', () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i);
    const dst = new Float32Array(24);
    copyBlock(src, [2, 3, 4], [0, 0, 0], [2, 3, 4], dst);
    assert.deepEqual(dst, src);
    const d2 = new Float32Array(8);
    copyBlock(src, [2, 3, 4], [0, 1, 0], [2, 1, 4], d2);
    assert.deepEqual(Array.from(d2), [4, 5, 6, 7, 16, 17, 18, 19]);
    const d3 = new Float32Array(1);
    copyBlock(Float32Array.of(42), [], [], [], d3);
    assert.equal(d3[0], 42);
  });
});
