/**
 * The torch engine through the product's own path: `convbert train <spec> --engine torch --nproc-per-node N` for each
 * N, then the same spec on the TF.js engine (wasm), each in a fresh run directory. Prints tokens/s (best and median
 * step after the first two), achieved GFLOP/s and the set-up time (wall time before the first step: data, shards,
 * Python start), from each run's metrics.jsonl, and the ratios against one rank in the same run.
 *
 *   npx tsx bench/torch.bench.ts [--spec examples/default.convbert.json] [--steps 20] [--ranks 1,2] [--no-tfjs]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetricEvents } from '../src/run-format/metrics';
import type { MetricsMessage } from '../src/protocol';

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const spec = path.resolve(opt('spec', path.join(ROOT, 'examples/default.convbert.json')));
const steps = Number(opt('steps', '20'));
const ranks = opt('ranks', '1,2').split(',').map(Number);
const withTfjs = !args.includes('--no-tfjs');

interface Row {
  label: string;
  best: number;
  median: number;
  gflops: number;
  wallS: number;
  loss: number;
}

async function run(label: string, extra: string[]): Promise<Row | undefined> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-torch-bench-'));
  try {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'train', spec, '--steps', String(steps), '--out', path.join(dir, 'run'), ...extra], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const wallS = (Date.now() - t0) / 1000;
    if (r.status !== 0) {
      console.log(`${label}: failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
      return undefined;
    }
    const { events } = await readMetricEvents(path.join(dir, 'run'));
    const metrics = events.filter((e): e is MetricsMessage & { v: 1 } => e.type === 'metrics').slice(2);
    const tps = metrics.map((m) => m.tokensPerSecond).sort((a, b) => a - b);
    const best = tps[tps.length - 1]!;
    const median = tps[Math.floor(tps.length / 2)]!;
    const fastest = metrics.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
    return { label, best, median, gflops: fastest.flopsPerSecond / 1e9, wallS, loss: metrics[metrics.length - 1]!.loss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void (async () => {
  console.log(`spec ${path.relative(ROOT, spec)}, ${steps} steps per run, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg()[0]!.toFixed(2)}`);
  const rows: Row[] = [];
  for (const n of ranks) {
    const row = await run(`torch-cpu, ${n} rank${n > 1 ? 's' : ''}`, ['--engine', 'torch', '--nproc-per-node', String(n)]);
    if (row) rows.push(row);
  }
  if (withTfjs) {
    const row = await run('tfjs wasm, 1 process', ['--engine', 'tfjs', '--backend', 'wasm']);
    if (row) rows.push(row);
  }
  const base = rows[0]?.best ?? 1;
  console.log('\n| run | tokens/s best (median) | GFLOP/s | vs first row | final loss | wall (s) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${Math.round(r.best).toLocaleString('en')} (${Math.round(r.median).toLocaleString('en')}) | ${r.gflops.toFixed(1)} | ${(r.best / base).toFixed(2)} | ${r.loss.toFixed(4)} | ${r.wallS.toFixed(1)} |`);
  }
  console.log('\n(tokens/s per step of the whole run: all ranks together; a step with n ranks trains n× the sequences)');
})();
