/**
 * The `blas` backend's native matrix products (native/blas.c through src/engines/tfjs/backends/blas/matmul.ts, installed by kernels.ts) against
 * the cpu backend's reference kernel: every transpose combination, batched and broadcast, odd, tiny, empty and large
 * shapes; every op's values and gradients (the same cases as cpu vs wasm); the addon's own bounds checks. Skipped with
 * the reason printed where the addon could not be built (no compiler or no BLAS: the install says which).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBackend, describeBackend } from '../../src/engines/tfjs/backends';
import { loadBlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { blasKernelCalls, blasKernelsInstalled, blasMatMulCalls } from '../../src/engines/tfjs/backends/blas/kernels';
import { STRIDED_MATMUL_KERNEL } from '../../src/core/ops/strided';
import { DIRECT_CONV_KERNELS } from '../../src/core/ops/grouped';
import { randn } from '../../src/core/ops';
import { compareGroup, OP_GROUPS } from './op-agreement';

let skip: string | false = false;

before(async () => {
  try {
    const report = await loadBackend('blas', { strict: true, threads: 2 });
    assert.equal(report.name, 'blas');
    assert.match(describeBackend(report), /^blas \((OpenBLAS|Accelerate)/);
    assert.ok(blasKernelsInstalled());
  } catch (err) {
    skip = `no native BLAS addon here: ${(err as Error).message}`;
    console.log(`# skipped: ${skip}`);
  }
});

async function values(backend: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

function assertClose(got: Float32Array, want: Float32Array, what: string, tol = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(diff <= tol * Math.max(scale, 1e-6), `${what}: differs by ${(diff / Math.max(scale, 1e-6)).toExponential(2)} relative`);
}

describe('blas: sgemm on the wasm heap = the cpu backend', () => {
  const shapes: [string, number[], number[], boolean, boolean][] = [];
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    // [m, k] · [k, n] in every orientation, odd and tiny sizes, a large one, batched, broadcast either side, rank 4.
    const A = (b: number[], m: number, k: number) => [...b, ...(ta ? [k, m] : [m, k])];
    const B = (b: number[], k: number, n: number) => [...b, ...(tb ? [n, k] : [k, n])];
    const tag = `${ta ? 'Aᵀ' : 'A'}·${tb ? 'Bᵀ' : 'B'}`;
    shapes.push([`${tag} 1×1×1`, A([], 1, 1), B([], 1, 1), ta, tb]);
    shapes.push([`${tag} 7×13×5`, A([], 7, 13), B([], 13, 5), ta, tb]);
    shapes.push([`${tag} 300×257×129`, A([], 300, 257), B([], 257, 129), ta, tb]);
    shapes.push([`${tag} batched 6 × 9×11×3`, A([6], 9, 11), B([6], 11, 3), ta, tb]);
    shapes.push([`${tag} broadcast A`, A([1], 9, 11), B([4], 11, 3), ta, tb]);
    shapes.push([`${tag} broadcast B (2-D)`, A([5], 9, 11), B([], 11, 3), ta, tb]);
    shapes.push([`${tag} rank 4 [2, 3]`, A([2, 3], 16, 8), B([2, 3], 8, 16), ta, tb]);
  }
  for (const [name, sa, sb, ta, tb] of shapes) {
    it(name, async (t) => {
      if (skip) return t.skip(skip);
      const f = () => tf.matMul(randn(sa, 1), randn(sb, 2), ta, tb);
      const want = await values('cpu', f);
      const before = blasMatMulCalls();
      const got = await values('wasm', f);
      assert.equal(blasMatMulCalls().blas, before.blas + 1, 'sgemm computed it');
      assert.equal(blasMatMulCalls().stock, before.stock, 'not the stock kernel');
      assertClose(got, want, name);
    });
  }

  it('empty products: m = 0 gives an empty result, k = 0 gives zeros', async (t) => {
    if (skip) return t.skip(skip);
    await tf.setBackend('wasm');
    const empty = tf.matMul(tf.zeros([0, 4]), tf.ones([4, 3]));
    assert.deepEqual(empty.shape, [0, 3]);
    // A k = 0 product over a heap region that held ones before: the result must be zeros, not what was there.
    const junk = tf.fill([5, 3], 7);
    junk.dispose();
    const zeros = tf.matMul(tf.ones([5, 0]), tf.ones([0, 3]));
    assert.deepEqual(Array.from(await zeros.data()), new Array(15).fill(0));
    tf.dispose([empty, zeros]);
  });

  it('the addon refuses what would read or write outside the heap', async (t) => {
    if (skip) return t.skip(skip);
    const found = await loadBlasAddon();
    assert.ok(found.ok);
    const heap = new Uint8Array(1024);
    assert.throws(() => found.addon.sgemm(heap, 0, 0, 1020, 1, 2, 2, 2, false, false, 0, 0), /outside the heap/);
    assert.throws(() => found.addon.sgemm(heap, 0, 2000, 0, 1, 2, 2, 2, false, false, 0, 0), /outside the heap/);
    assert.throws(() => found.addon.sgemm(heap, 2, 0, 0, 1, 2, 2, 2, false, false, 0, 0), /multiples of 4/);
    assert.throws(() => found.addon.sgemm(heap, 0, 0, 0, -1, 2, 2, 2, false, false, 0, 0), /whole numbers/);
    // In bounds: [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]].
    const f = new Float32Array(heap.buffer);
    f.set([1, 2, 3, 4, 5, 6, 7, 8]);
    found.addon.sgemm(heap, 0, 16, 32, 1, 2, 2, 2, false, false, 0, 0);
    assert.deepEqual(Array.from(f.subarray(8, 12)), [19, 22, 43, 50]);
  });
});

describe('blas: every op\'s values and gradients = the cpu backend', () => {
  for (const group of OP_GROUPS) {
    it(group.title, async (t) => {
      if (skip) return t.skip(skip);
      // products run natively: TF.js's BatchMatMul on sgemm, the strided products the attention and grouped ops make
      // on blas, or the direct grouped convolution
      const native = (name: string) => blasKernelCalls()[name]?.native ?? 0;
      const products = () => blasMatMulCalls().blas + native(STRIDED_MATMUL_KERNEL) + native(DIRECT_CONV_KERNELS.forward);
      const before = products();
      await compareGroup('wasm', group);
      if (/matMul|dense|attention|grouped/i.test(group.title)) assert.ok(products() > before, 'the products ran natively');
    });
  }
});
