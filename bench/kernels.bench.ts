/**
 * The wasm SIMD kernels (src/engines/tfjs/backends/wasm/simd, fused-kernels.ts, the SIMD paths of wasm-patches.ts) against the
 * stock TF.js kernels and compositions they replace, both measured in the same process at the sizes of one
 * GroupBERT-Mini micro-batch (8 × 128 tokens, hidden 256, FFN 1024): `setSimdKernelsEnabled(false)` switches the
 * op layer and the patched kernels back to their stock paths. Not a test: it prints figures.
 *
 *   npx tsx bench/kernels.bench.ts [--reps 15] [--threads 1,2]
 *
 * Each thread count runs in its own child process (the wasm build is chosen once per process). Times are medians
 * of `reps` runs after 3 warm-ups; "speed-up" is stock / SIMD. Nothing is read back: wasm kernels finish before
 * they return, and a read-back copies the output out of the heap (2.3 ms for 4 MB), more than most of these take.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, loadBackend, setSimdKernelsEnabled } from '../src/engines/tfjs/backends';
import { gelu, groupedConv1d, layerNorm, randn } from '../src/core/ops';
import { Optimizer } from '../src/core/train/optimizer';

const args = process.argv.slice(2);
const argVal = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const REPS = Number(argVal('--reps', '15'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function time(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** Forward and backward of f at x (gradients of Σ f·dy). */
function fwdBwd(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): () => void {
  const dy = randn(f(...inputs).shape, 99);
  return () =>
    tf.tidy(() => {
      tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)))(inputs);
    });
}

interface Case {
  name: string;
  run: () => () => void;
}

const cases: Case[] = [
  { name: 'GELU (erf) fwd+bwd [8,128,1024]', run: () => fwdBwd((x) => gelu(x!), [randn([8, 128, 1024], 1)]) },
  {
    name: 'LayerNorm fwd+bwd [8,128,256]',
    run: () => fwdBwd((x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D), [randn([8, 128, 256], 3), tf.ones([256]), tf.zeros([256])]),
  },
  {
    name: 'grouped conv fwd+bwd [8,128,256], k 7, 16 groups',
    run: () =>
      fwdBwd((x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { kernelSize: 7, channelsPerGroup: 16, padding: 'same', saveIm2col: true }), [
        randn([8, 128, 256], 4),
        randn([16, 112, 16], 5, 0.1),
      ]),
  },
  {
    name: 'transpose [1024,1024]',
    run: () => {
      const x = randn([1024, 1024], 6);
      return () => tf.tidy(() => void tf.transpose(x));
    },
  },
  {
    name: 'concat 4 × [1024,256] on the last axis',
    run: () => {
      const xs = [0, 1, 2, 3].map((i) => randn([1024, 256], 10 + i));
      return () => tf.tidy(() => void tf.concat(xs, 1));
    },
  },
  {
    name: 'split [1024,1024] into 4 column blocks',
    run: () => {
      const x = randn([1024, 1024], 7);
      return () => tf.tidy(() => void tf.split(x, 4, 1));
    },
  },
  {
    name: 'sum over rows [1024,1024] (bias gradient)',
    run: () => {
      const x = randn([1024, 1024], 8);
      return () => tf.tidy(() => void tf.sum(x, 0));
    },
  },
  {
    name: 'AdamW update, 7.3M weights in 4 tensors',
    run: () => {
      const shapes = [[8192, 256], [256, 1024], [1024, 256], [1024, 1024]];
      const vars = new Map(shapes.map((s, i) => [`v${i}/kernel`, tf.variable(randn(s, 20 + i, 0.02))] as const));
      const grads = new Map([...vars].map(([n, v], i) => [n, randn(v.shape, 30 + i, 0.01)] as const));
      const opt = new Optimizer(vars, { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true, weightDecay: 0.01, gradientClipNorm: 1 });
      return () => void opt.applyGradients(grads, 1e-4);
    },
  },
];

async function child(threads: number): Promise<void> {
  const report = await loadBackend('wasm', { threads, strict: true });
  const rows = cases.map((c) => {
    setSimdKernelsEnabled(true);
    const simd = time(c.run());
    setSimdKernelsEnabled(false);
    const stock = time(c.run());
    setSimdKernelsEnabled(true);
    return { name: c.name, simd, stock };
  });
  process.stdout.write(JSON.stringify({ backend: describeBackend(report), rows }));
}

function main(): void {
  const threadCounts = argVal('--threads', `1,${Math.min(2, os.availableParallelism())}`)
    .split(',')
    .map(Number)
    .filter((n, i, a) => n >= 1 && a.indexOf(n) === i);
  console.log(`wasm SIMD kernels vs the stock paths; median of ${REPS} runs; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const threads of threadCounts) {
    const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', String(threads), '--reps', String(REPS)], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`\n${threads} thread(s): the measurement failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const { backend, rows } = JSON.parse(r.stdout) as { backend: string; rows: { name: string; simd: number; stock: number }[] };
    console.log(`\n${backend}`);
    console.log(`${'kernel'.padEnd(52)} ${'SIMD ms'.padStart(9)} ${'stock ms'.padStart(9)} ${'speed-up'.padStart(9)}`);
    for (const row of rows) {
      console.log(`${row.name.padEnd(52)} ${row.simd.toFixed(2).padStart(9)} ${row.stock.toFixed(2).padStart(9)} ${(row.stock / row.simd).toFixed(2).padStart(8)}×`);
    }
  }
}

const childAt = args.indexOf('--child');
if (childAt >= 0) void child(Number(args[childAt + 1]));
else main();
