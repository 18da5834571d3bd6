/**
 * Forward+backward timings of the op layer on wasm, next to stock TF.js formulations of the same computations
 * measured in the same process, at the sizes of shared/research/backend-probe.md §1a/§2:
 *   dense          x [16,128,1024] · W [1024,256]
 *   groupedDense   x [16,128,1024] → 256, G = 4
 *   groupedConv1d  x [16,128,256], kernel 7, 16 channels per group (16 groups), 'same'
 *   attention      B 16, T 128, d 256, 4 heads, key mask with padding
 *
 *   npx tsx bench/ops.bench.ts [--reps 7] [--threads 1,2]
 *
 * Each thread count runs in its own child process (the wasm build is chosen once per process). GFLOP/s use the
 * matmul FLOPs TF.js executed for our formulation (countMatmulFlops; fwd+bwd = 3 × fwd); "ratio" is stock ms / ours.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, loadBackend, removeWasmKernelPatches, applyWasmKernelPatches } from '../src/engines/tfjs/backends';
import { attention, countMatmulFlops, dense, groupedConv1d, groupedDense, keyMaskBias, randn } from '../src/core/ops';

interface Row {
  op: string;
  shape: string;
  gflop: number;
  oursMs: number;
  stockMs: number | null;
  stockNote: string;
}

const args = process.argv.slice(2);
const argVal = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const REPS = Number(argVal('--reps', '7'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Median ms of fwd+bwd (gradients w.r.t. all inputs, upstream dy) after one warm-up. */
function timeFwdBwd(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): number {
  const step = () =>
    tf.tidy(() => {
      const grads = tf.grads(f)(inputs, dy);
      grads[0]!.dataSync().subarray(0, 1); // wasm is synchronous; this just makes the dependency explicit
    });
  step();
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function tryTime(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): { ms: number | null; note: string } {
  try {
    return { ms: timeFwdBwd(f, inputs, dy), note: '' };
  } catch (err) {
    return { ms: null, note: `FAILS: ${(err as Error).message.split('\n')[0]}` };
  }
}

async function bench(
  op: string,
  shape: string,
  ours: (...xs: tf.Tensor[]) => tf.Tensor,
  stock: (...xs: tf.Tensor[]) => tf.Tensor,
  stockNote: string,
  inputs: tf.Tensor[],
): Promise<Row> {
  const dy = tf.tidy(() => randn(ours(...inputs).shape, 99));
  const flops = await countMatmulFlops(() => tf.grads(ours)(inputs, dy));
  const oursMs = timeFwdBwd(ours, inputs, dy);
  const s = tryTime(stock, inputs, dy);
  dy.dispose();
  return { op, shape, gflop: flops.total / 1e9, oursMs, stockMs: s.ms, stockNote: s.note || stockNote };
}

// --- stock formulations (default TF.js autodiff) ------------------------------------------------------------------

const stockDense = (x: tf.Tensor, w: tf.Tensor) => tf.matMul(x.reshape([-1, w.shape[0]!]), w as tf.Tensor2D).reshape([...x.shape.slice(0, -1), w.shape[1]!]);

/** transpose → batched tf.matMul → transpose (the best stock variant on cpu in the probe). */
const stockGroupedDense = (x: tf.Tensor, w: tf.Tensor) => {
  const [G, ki, ko] = w.shape as [number, number, number];
  const xg = x.reshape([-1, G, ki]).transpose([1, 0, 2]) as tf.Tensor3D;
  return tf.matMul(xg, w as tf.Tensor3D).transpose([1, 0, 2]).reshape([...x.shape.slice(0, -1), G * ko]);
};

/** im2col (K shifted slices) → batched tf.matMul per group (probe variant (b)); tf.conv1d cannot train on wasm. */
const stockGroupedConv = (K: number) => (x: tf.Tensor, w: tf.Tensor) => {
  const [B, T, C] = x.shape as [number, number, number];
  const G = w.shape[0]!;
  const Cg = C / G;
  const before = (K - 1) >> 1;
  const xp = tf.pad(x, [[0, 0], [before, K - 1 - before], [0, 0]]);
  const cols = tf.stack(Array.from({ length: K }, (_, k) => tf.slice(xp, [0, k, 0], [B, T, C])), 2); // [B,T,K,C]
  const xg = cols.reshape([B * T, K, G, Cg]).transpose([2, 0, 1, 3]).reshape([G, B * T, K * Cg]) as tf.Tensor3D;
  return tf.matMul(xg, w as tf.Tensor3D).transpose([1, 0, 2]).reshape([B, T, C]);
};

const stockConv1dPerGroup = (Cg: number) => (x: tf.Tensor, w: tf.Tensor) => {
  const G = w.shape[0]!;
  const K = w.shape[1]! / Cg;
  const xs = tf.split(x, G, 2) as tf.Tensor3D[];
  const ws = tf.unstack(w).map((wg) => wg.reshape([K, Cg, -1]) as tf.Tensor3D);
  return tf.concat(xs.map((xg, g) => tf.conv1d(xg, ws[g]!, 1, 'same')), 2);
};

/** The textbook batched formulation: reshape → 4-D transpose → batched matMuls with transposeB. */
const stockAttention = (H: number, mask: tf.Tensor) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => {
  const [B, T, D] = q.shape as [number, number, number];
  const dh = D / H;
  const split = (x: tf.Tensor) => x.reshape([B, T, H, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const s = tf.add(tf.div(tf.matMul(split(q), split(k), false, true), Math.sqrt(dh)), keyMaskBias(mask));
  return tf.matMul(tf.softmax(s), split(v)).transpose([0, 2, 1, 3]).reshape([B, T, D]);
};

// --- child: one thread count --------------------------------------------------------------------------------------

async function child(threads: number): Promise<void> {
  const report = await loadBackend('wasm', { threads });
  const rows: Row[] = [];
  const x1024 = randn([16, 128, 1024], 1);
  rows.push(
    await bench(
      'dense',
      '[16,128,1024]·[1024,256]',
      (x, w) => dense(x!, w as tf.Tensor2D),
      stockDense,
      'tf.matMul, stock grads',
      [x1024, randn([1024, 256], 2, 0.03)],
    ),
  );
  rows.push(
    await bench(
      'groupedDense',
      '[16,128,1024]→256, G=4',
      (x, w) => groupedDense(x!, w as tf.Tensor3D),
      stockGroupedDense,
      'transpose + batched tf.matMul',
      [x1024, randn([4, 256, 64], 3, 0.06)],
    ),
  );
  x1024.dispose();
  const x256 = randn([16, 128, 256], 4);
  const cw = randn([16, 7 * 16, 16], 5, 0.1);
  const convOpts = { kernelSize: 7, channelsPerGroup: 16, padding: 'same' as const };
  rows.push(
    await bench(
      'groupedConv1d',
      '[16,128,256], k7, 16 ch/group',
      (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, convOpts),
      stockGroupedConv(7),
      'im2col + batched tf.matMul',
      [x256, cw],
    ),
  );
  rows.push(
    await bench(
      'groupedConv1d',
      '  … with saveIm2col: true',
      (x, w) => groupedConv1d(x as tf.Tensor3D, w as tf.Tensor3D, { ...convOpts, saveIm2col: true }),
      stockGroupedConv(7),
      'im2col + batched tf.matMul',
      [x256, cw],
    ),
  );
  const conv1d = tryTime(stockConv1dPerGroup(16), [x256, cw], tf.zerosLike(x256));
  const mask = tf.tensor2d(
    Array.from({ length: 16 * 128 }, (_, i) => (i % 128 < 128 - (Math.floor(i / 128) % 4) * 16 ? 1 : 0)),
    [16, 128],
  );
  rows.push(
    await bench(
      'attention',
      'B16 T128 d256 H4, masked',
      (q, k, v) => attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, 4),
      stockAttention(4, mask),
      'reshape/transpose + batched tf.matMul',
      [x256, randn([16, 128, 256], 6), randn([16, 128, 256], 7)],
    ),
  );
  // The Slice/Unpack patch on its own: unstack of [64,128,64] (probe: 404 ms stock → 6.5 ms).
  const u = randn([64, 128, 64], 8);
  const unstackMs = () => {
    tf.tidy(() => tf.unstack(u));
    const t: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      tf.tidy(() => tf.unstack(u));
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const patched = unstackMs();
  removeWasmKernelPatches();
  const stockUnstack = unstackMs();
  applyWasmKernelPatches();
  process.stdout.write(
    JSON.stringify({
      backend: describeBackend(report),
      threads: report.threads,
      rows,
      conv1d,
      unstack: { patched, stock: stockUnstack },
    }) + '\n',
  );
}

// --- parent: run the children, print the table --------------------------------------------------------------------

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function parent(): void {
  const threadList = argVal('--threads', '1,2').split(',').map(Number);
  const script = fileURLToPath(import.meta.url);
  console.log(`ops bench: fwd+bwd median of ${REPS} (1 warm-up), wasm, ${os.cpus().length} logical cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const threads of threadList) {
    const res = spawnSync(process.execPath, [...process.execArgv, script, '--child', String(threads), '--reps', String(REPS)], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const line = res.stdout.split('\n').find((l) => l.startsWith('{'));
    if (res.status !== 0 || !line) {
      console.log(`\nthreads=${threads}: child failed (status ${res.status})\n${res.stderr.slice(-2000)}`);
      continue;
    }
    const out = JSON.parse(line) as {
      backend: string;
      rows: Row[];
      conv1d: { ms: number | null; note: string };
      unstack: { patched: number; stock: number };
    };
    console.log(`\n${out.backend}`);
    console.log(
      `${pad('op', 14)} ${pad('size', 30)} ${pad('GFLOP', 6, true)} ${pad('ours ms', 9, true)} ${pad('GFLOP/s', 8, true)} ${pad('stock ms', 9, true)} ${pad('GFLOP/s', 8, true)} ${pad('ratio', 6, true)}  stock formulation`,
    );
    for (const r of out.rows) {
      const stockG = r.stockMs ? (r.gflop / r.stockMs) * 1e3 : NaN;
      console.log(
        `${pad(r.op, 14)} ${pad(r.shape, 30)} ${pad(r.gflop.toFixed(3), 6, true)} ${pad(r.oursMs.toFixed(1), 9, true)} ${pad(((r.gflop / r.oursMs) * 1e3).toFixed(1), 8, true)} ${pad(r.stockMs?.toFixed(1) ?? '-', 9, true)} ${pad(Number.isNaN(stockG) ? '-' : stockG.toFixed(1), 8, true)} ${pad(r.stockMs ? `${(r.stockMs / r.oursMs).toFixed(1)}x` : '-', 6, true)}  ${r.stockNote}`,
      );
    }
    console.log(`tf.conv1d per group (split + conv1d + concat): ${out.conv1d.ms !== null ? `${out.conv1d.ms.toFixed(1)} ms` : out.conv1d.note}`);
    console.log(`tf.unstack([64,128,64]): patched ${out.unstack.patched.toFixed(1)} ms, stock ${out.unstack.stock.toFixed(1)} ms`);
  }
}

if (args[0] === '--child') {
  void child(Number(args[1]));
} else {
  parent();
}
