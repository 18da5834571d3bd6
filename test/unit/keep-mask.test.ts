/**
 * Dropout's counter-based keep mask (core/rng.ts's fillKeepMask, keepThreshold, lowbias32; core/ops/dropout.ts's
 * keepMask and dropout): the hash against a BigInt reference, the mask's statistics (kept fraction, neighbour
 * correlation, agreement between neighbouring seeds), and the same mask on every backend: the JS path on cpu, the
 * native kernel (ConvbertKeepMask, native/random.c) on blas, bit for bit. The blas cases are skipped with the reason
 * printed where the addon cannot be built.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { fillKeepMask, keepThreshold, lowbias32 } from '../../src/core/rng';
import { dropout, keepMask, KEEP_MASK_KERNEL } from '../../src/core/ops/dropout';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { blasKernelCalls } from '../../src/engines/tfjs/backends/blas/kernels';

const M32 = (1n << 32n) - 1n;
/** lowbias32 written independently, in BigInt arithmetic mod 2³². */
function lowbias32Ref(v: number): number {
  let x = BigInt(v >>> 0);
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & M32;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & M32;
  x ^= x >> 16n;
  return Number(x);
}

/** The mask rule of rng.ts's doc comment, through the BigInt hash. */
function keepRef(seed: number, i: number, threshold: number): boolean {
  const k1 = lowbias32Ref((seed ^ 0x9e3779b9) >>> 0);
  const k2 = lowbias32Ref((k1 + 0x632be5ab) % 2 ** 32);
  return lowbias32Ref((lowbias32Ref((i ^ k1) >>> 0) + k2) % 2 ** 32) < threshold;
}

const N = 1 << 20;

describe('lowbias32, keepThreshold, fillKeepMask', () => {
  it('lowbias32 = a BigInt reference on known inputs', () => {
    for (const x of [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 0x9e3779b9, 12345678, 0xdeadbeef]) assert.equal(lowbias32(x), lowbias32Ref(x), `lowbias32(${x})`);
    assert.equal(lowbias32(0), 0); // 0 is a fixed point of the xor-shift-multiply rounds
    assert.notEqual(lowbias32(1), 1);
    for (let i = 0; i < 1000; i++) {
      const x = (Math.imul(i, 0x9e3779b1) ^ (i << 7)) >>> 0;
      assert.equal(lowbias32(x), lowbias32Ref(x), `lowbias32(${x})`);
    }
  });

  it('the mask follows its documented rule (checked through the BigInt hash)', () => {
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const threshold = keepThreshold(0.7);
      const mask = fillKeepMask(new Float32Array(257), seed, threshold, 2);
      for (let i = 0; i < mask.length; i++) assert.equal(mask[i], keepRef(seed, i, threshold) ? 2 : 0, `seed ${seed} element ${i}`);
    }
  });

  it('keepThreshold: keep · 2³², rates outside [0, 1] rejected', () => {
    assert.equal(keepThreshold(1), 2 ** 32);
    assert.equal(keepThreshold(0), 0);
    assert.equal(keepThreshold(0.5), 2 ** 31);
    assert.equal(keepThreshold(0.9), Math.round(0.9 * 2 ** 32));
    for (const bad of [-0.1, 1.0001, NaN, Infinity, -Infinity]) assert.throws(() => keepThreshold(bad), RangeError, `keep ${bad}`);
    for (const bad of [1, 1.5, -0.5, NaN]) assert.throws(() => keepMask([4], bad, 1), RangeError, `rate ${bad}`);
  });

  for (const rate of [0.1, 0.5, 0.9]) {
    it(`rate ${rate}: kept fraction within 4σ of keep, kept values = fround(1/keep), no structure`, () => {
      const keep = 1 - rate;
      const scale = Math.fround(1 / keep);
      const a = fillKeepMask(new Float32Array(N), 1234, keepThreshold(keep), scale);
      let kept = 0;
      for (let i = 0; i < N; i++) {
        if (a[i] !== 0) {
          assert.equal(a[i], scale);
          kept++;
        } else assert.ok(Object.is(a[i], 0));
      }
      const sigma = Math.sqrt((keep * (1 - keep)) / N);
      assert.ok(Math.abs(kept / N - keep) < 4 * sigma, `kept ${kept / N} vs ${keep} (σ ${sigma.toExponential(2)})`);
      // neighbour correlation of the kept flags
      const p = kept / N;
      let both = 0;
      for (let i = 0; i + 1 < N; i++) if (a[i] !== 0 && a[i + 1] !== 0) both++;
      const r = (both / (N - 1) - p * p) / (p * (1 - p));
      assert.ok(Math.abs(r) < 0.01, `neighbour correlation ${r}`);
      // masks of seeds s and s + 1 agree on ≈ keep² + (1 − keep)² of the elements, as independent ones would
      const b = fillKeepMask(new Float32Array(N), 1235, keepThreshold(keep), scale);
      let agree = 0;
      for (let i = 0; i < N; i++) if ((a[i] === 0) === (b[i] === 0)) agree++;
      const q = keep * keep + (1 - keep) * (1 - keep);
      assert.ok(Math.abs(agree / N - q) < 5 * Math.sqrt((q * (1 - q)) / N) + 1e-3, `seeds s, s+1 agree on ${agree / N}, independent ${q}`);
    });
  }

  it('the same seed gives the same mask, another seed another; threshold 2³² keeps all, 0 none', () => {
    const t = keepThreshold(0.5);
    const a = fillKeepMask(new Float32Array(4099), 7, t, 2);
    assert.deepEqual(fillKeepMask(new Float32Array(4099), 7, t, 2), a);
    for (const other of [8, 7 + 2 ** 16, 0xffffffff]) {
      const b = fillKeepMask(new Float32Array(4099), other, t, 2);
      const differ = a.reduce((acc, v, i) => acc + (v !== b[i] ? 1 : 0), 0);
      assert.ok(differ > 1500 && differ < 2600, `seed 7 vs ${other}: ${differ} of 4099 differ`);
    }
    assert.ok(fillKeepMask(new Float32Array(1001), 3, 2 ** 32, 1.25).every((v) => v === 1.25));
    assert.ok(fillKeepMask(new Float32Array(1001), 3, 0, 1.25).every((v) => v === 0));
    // the largest threshold below 2³² drops (almost) nothing: at most a few of 1M
    const nearly = fillKeepMask(new Float32Array(N), 3, 2 ** 32 - 1, 1);
    assert.ok(nearly.reduce((acc, v) => acc + (v === 0 ? 1 : 0), 0) <= 5);
  });
});

async function on<T>(backend: string, f: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

describe('keepMask and dropout: the same mask on cpu (JS) and on blas (native)', () => {
  let skip: string | false = false;
  before(async () => {
    try {
      await loadBackend('blas', { strict: true, threads: 2 });
    } catch (err) {
      skip = `no native BLAS addon here: ${(err as Error).message}`;
      console.log(`# skipped: ${skip}`);
    }
    await tf.setBackend('cpu');
  });

  const SHAPES: number[][] = [[1], [3, 5], [17, 33, 3], [8, 128, 64], [1001, 257]];

  it('cpu: keepMask = fillKeepMask', async () => {
    await tf.setBackend('cpu');
    assert.equal(tf.getKernel(KEEP_MASK_KERNEL, 'cpu'), undefined, 'the JS path');
    for (const shape of SHAPES)
      for (const [rate, seed] of [[0.1, 1], [0.5, 0xffffffff], [0.9, 77]] as const) {
        const m = keepMask(shape, rate, seed);
        assert.deepEqual(m.shape, shape);
        assert.equal(m.dtype, 'float32');
        const want = fillKeepMask(new Float32Array(tf.util.sizeFromShape(shape)), seed, keepThreshold(1 - rate), Math.fround(1 / (1 - rate)));
        assert.deepEqual(await m.data(), want, `[${shape}] rate ${rate}`);
        m.dispose();
      }
  });

  it('blas: the native ConvbertKeepMask = the cpu backend, bit for bit (odd sizes too)', async (t) => {
    if (skip) return t.skip(skip);
    for (const shape of SHAPES)
      for (const [rate, seed] of [[0.1, 1], [0.5, 0xffffffff], [0.9, 77], [0.3, 2 ** 31 + 5]] as const) {
        const want = await on('cpu', async () => {
          const m = keepMask(shape, rate, seed);
          const v = Float32Array.from((await m.data()) as Float32Array);
          m.dispose();
          return v;
        });
        const before = blasKernelCalls()[KEEP_MASK_KERNEL]?.native ?? 0;
        const got = await on('wasm', async () => {
          const m = keepMask(shape, rate, seed);
          assert.deepEqual(m.shape, shape);
          const v = Float32Array.from((await m.data()) as Float32Array);
          m.dispose();
          return v;
        });
        assert.equal(blasKernelCalls()[KEEP_MASK_KERNEL]?.native, before + 1, 'the native kernel drew it');
        assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `[${shape}] rate ${rate} seed ${seed}`);
      }
  });

  for (const backend of ['cpu', 'wasm']) {
    it(`${backend === 'wasm' ? 'blas' : 'cpu'}: dropout(x, rate, seed) = x · mask, and its gradient is the mask`, async (t) => {
      if (backend === 'wasm' && skip) return t.skip(skip);
      await tf.setBackend(backend);
      for (const [shape, rate, seed] of [[[17, 33], 0.1, 5], [[4, 64, 32], 0.5, 6], [[3], 0.9, 7]] as [number[], number, number][]) {
        const n = tf.util.sizeFromShape(shape);
        const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3 + 0.1);
        const mask = fillKeepMask(new Float32Array(n), seed, keepThreshold(1 - rate), Math.fround(1 / (1 - rate)));
        const x = tf.tensor(xs, shape);
        const y = dropout(x, rate, seed);
        assert.deepEqual(await y.data(), Float32Array.from(xs, (v, i) => v * mask[i]!), `[${shape}] rate ${rate}: values`);
        const g = tf.grad((z: tf.Tensor) => dropout(z, rate, seed).sum())(x);
        assert.deepEqual(await g.data(), mask, `[${shape}] rate ${rate}: gradient`);
        // rate 0 is the identity
        assert.equal(dropout(x, 0, seed), x);
        tf.dispose([x, y, g]);
      }
    });
  }
});
