/**
 * Training throughput of BERT-Mini and GroupBERT-Mini (hidden 256, 4 layers, 4 heads, vocabulary 8192, S = 128,
 * 16 sequences per step as 2 micro-batches of 8 with gradient accumulation) on every TF.js backend that loads, and
 * of the same two models in PyTorch on the CPU (`python3 -m convbert_torch.bench`, python/convbert_torch/bench.py: the
 * torch engine's model and optimizer). Not a test: it prints figures.
 *
 *   npm run bench:train [-- --steps N] [--warmup N] [--micro B] [--accumulation N] [--cpu] [--no-torch]
 *                        [--only bert|groupbert] [--backends blas,wasm,wasm-1,wasm-stock,webgpu,tfjs-node,tfjs-node-gpu,cpu]
 *                        [--quick]
 *
 * `--quick`: 1 warm-up + 2 timed steps, wasm (all threads) and webgpu only, no PyTorch: about a minute.
 *
 * webgpu runs on the adapter Dawn offers (a GPU; where there is none, the software one, asked for by name): the row
 * names it. On a software adapter (lavapipe: ~1.5 GFLOP/s here) a step is `SOFTWARE_MICRO` sequences (one micro-batch),
 * with at most 1 warm-up + 2 timed steps, and the row says so; tokens/s and FLOP/s are per its own step. Where Dawn
 * finds no adapter at all the row is skipped with the reason.
 *
 * Each (model, backend) runs in its own child process (the wasm build and its thread count are per process, and
 * peak RSS is per process). A child builds the real masked-LM job (src/core/train/mlm-job.ts) on random token
 * batches, times `warmup` + `steps` optimizer steps and reports the best (shortest) and the median step; throughput is
 * from the best, the step least disturbed by other work on a shared machine. Achieved FLOP/s = the cost model's
 * training FLOPs per step (`computeCost`, forward + backward, matmul + element-wise; the matmul part alone is shown
 * too) / best step time. PyTorch runs the same model with LD_LIBRARY_PATH=…/openblas-pthread,
 * OPENBLAS_NUM_THREADS=2 and torch.set_num_threads(1) (shared/research/backend-probe.md §3), and is skipped with a
 * note where /usr/bin/python3 or torch is missing. The cpu backend is 30–50× slower than wasm: it runs only with
 * --cpu, for one untimed-warm-up step.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { computeCost } from '../src/core/cost';
import type { ResolvedSpec } from '../src/core/spec/resolve';
import { benchSpec, flopsPerStep, SEQ, VOCAB, type Arch } from './mini-spec';

// ---------------------------------------------------------------------------------------------------------
// Settings

interface Settings {
  steps: number;
  warmup: number;
  micro: number;
  accumulation: number;
  cpu: boolean;
  torch: boolean;
  only?: Arch;
  backends: BackendConfig[];
}

const ARCHS: Arch[] = ['bert', 'groupbert'];
const LABEL: Record<Arch, string> = { bert: 'BERT-Mini', groupbert: 'GroupBERT-Mini' };

interface BackendConfig {
  /** How the table names it. */
  id: string;
  preference: 'wasm' | 'cpu' | 'tfjs-node' | 'tfjs-node-gpu' | 'webgpu' | 'blas';
  threads?: number;
  /** wasm: run without our SIMD kernels (the stock and JS-patched kernels only), for a before/after in one run. */
  stockKernels?: boolean;
}

const ALL_BACKENDS: BackendConfig[] = [
  { id: 'tfjs-node-gpu', preference: 'tfjs-node-gpu' },
  { id: 'webgpu', preference: 'webgpu' },
  { id: 'tfjs-node', preference: 'tfjs-node' },
  { id: 'blas', preference: 'blas', threads: Math.max(1, Math.min(8, os.availableParallelism())) },
  { id: 'wasm', preference: 'wasm', threads: Math.max(1, Math.min(8, os.availableParallelism())) },
  { id: 'wasm-1', preference: 'wasm', threads: 1 },
  { id: 'wasm-stock', preference: 'wasm', threads: Math.max(1, Math.min(8, os.availableParallelism())), stockKernels: true },
  { id: 'cpu', preference: 'cpu' },
];

const PYTHON_DIR = path.join(__dirname, '..', 'python');
const PYTHON = '/usr/bin/python3';
const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
const TSX = require.resolve('tsx');
/** Sequences per step (one micro-batch) on a software WebGPU adapter, where a Mini step of 16 takes 30–60 s. */
const SOFTWARE_MICRO = 2;

function parseArgs(argv: string[]): Settings {
  const s: Settings = { steps: 4, warmup: 1, micro: 8, accumulation: 2, cpu: false, torch: true, backends: ALL_BACKENDS.filter((b) => b.id !== 'cpu' && b.id !== 'wasm-stock') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a whole number`);
      return n;
    };
    if (a === '--steps') s.steps = Math.max(1, int());
    else if (a === '--warmup') s.warmup = int();
    else if (a === '--micro') s.micro = Math.max(1, int());
    else if (a === '--accumulation') s.accumulation = Math.max(1, int());
    else if (a === '--cpu') s.cpu = true;
    else if (a === '--no-torch') s.torch = false;
    else if (a === '--quick') {
      s.steps = 2;
      s.warmup = 1;
      s.torch = false;
      s.backends = ALL_BACKENDS.filter((b) => b.id === 'wasm' || b.id === 'webgpu');
    } else if (a === '--only') {
      const v = value();
      if (v !== 'bert' && v !== 'groupbert') throw new Error('--only takes bert or groupbert');
      s.only = v;
    } else if (a === '--backends') {
      const ids = value().split(',');
      const unknown = ids.filter((id) => !ALL_BACKENDS.some((b) => b.id === id));
      if (unknown.length) throw new Error(`unknown backend(s) ${unknown.join(', ')}; known: ${ALL_BACKENDS.map((b) => b.id).join(', ')}`);
      s.backends = ALL_BACKENDS.filter((b) => ids.includes(b.id));
      if (ids.includes('cpu')) s.cpu = true;
    } else throw new Error(`unknown option ${a}`);
  }
  if (s.cpu && !s.backends.some((b) => b.id === 'cpu')) s.backends.push(ALL_BACKENDS.find((b) => b.id === 'cpu')!);
  return s;
}

/** The bench spec of one architecture: the Mini preset at vocabulary 8192, S = 128, `micro` × `accumulation`. */
function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

// ---------------------------------------------------------------------------------------------------------
// Child: one (model, backend) measurement

interface WorkerRequest {
  arch: Arch;
  backend: BackendConfig;
  steps: number;
  warmup: number;
  micro: number;
  accumulation: number;
}

interface WorkerResult {
  arch: Arch;
  backend: string;
  skipped?: string;
  description?: string;
  params?: number;
  tokensPerStep?: number;
  flopsPerStep?: number;
  matmulFlopsPerStep?: number;
  stepMs?: number[];
  medianStepMs?: number;
  bestStepMs?: number;
  losses?: number[];
  peakRssBytes?: number;
  setupMs?: number;
}

async function worker(req: WorkerRequest): Promise<WorkerResult> {
  const { loadBackend, describeBackend, setSimdKernelsEnabled } = await import('../src/engines/tfjs/backends');
  const t0 = performance.now();
  let report;
  try {
    report = await loadBackend(req.backend.preference, { strict: true, ...(req.backend.threads !== undefined ? { threads: req.backend.threads } : {}) });
  } catch (e) {
    return { arch: req.arch, backend: req.backend.id, skipped: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
  if ((req.backend.preference === 'wasm' || req.backend.preference === 'blas') && req.backend.threads !== undefined && report.threads !== req.backend.threads) {
    const why = report.tried.find((t) => t.name === 'wasm-threads')?.reason;
    return { arch: req.arch, backend: req.backend.id, skipped: `asked for ${req.backend.threads} wasm threads, got ${report.threads ?? 1}${why ? ` (${why})` : ''}` };
  }
  if (req.backend.stockKernels) setSimdKernelsEnabled(false);
  let description = describeBackend(report) + (req.backend.stockKernels ? ', stock kernels' : '');
  let { micro, accumulation, warmup, steps } = req;
  if (report.device?.software) {
    // lavapipe & co.: ~1 GFLOP/s; one small micro-batch and few steps, and the row says so.
    micro = Math.min(micro, SOFTWARE_MICRO);
    accumulation = 1;
    warmup = Math.min(warmup, 1);
    steps = Math.min(steps, 2);
    description = `webgpu (software: ${report.device.description.replace(/ \(.*$/, '')}; ${micro}×${SEQ} tokens/step)`;
  } else if (report.device) description = `webgpu (${report.device.vendor} ${report.device.architecture})`;
  const spec = benchSpec(req.arch, { micro, accumulation });
  const { randomMlmJob } = await import('./webgpu.bench');
  const { job, dispose } = await randomMlmJob(spec, report.name);
  try {
    const info = await job.init();
    const setupMs = performance.now() - t0;
    const stepMs: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const s0 = performance.now();
      const m = await job.step({ step: i, learningRate: 1e-4 });
      const ms = performance.now() - s0;
      losses.push(m.loss);
      if (i >= warmup) stepMs.push(ms);
    }
    const sorted = [...stepMs].sort((a, b) => a - b);
    return {
      arch: req.arch,
      backend: req.backend.id,
      description,
      params: info.parameterCount,
      tokensPerStep: info.tokensPerStep,
      flopsPerStep: flopsPerStep(spec).all,
      matmulFlopsPerStep: flopsPerStep(spec).matmul,
      stepMs,
      medianStepMs: median(sorted),
      bestStepMs: sorted[0]!,
      losses,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      setupMs,
    };
  } finally {
    dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parent

function runChild(req: WorkerRequest): Promise<WorkerResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, __filename, '--worker', JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{"arch"'));
      if (line) return resolve(JSON.parse(line) as WorkerResult);
      const why = err.split('\n').find((l) => /error|memory|abort/i.test(l)) ?? err.trim().split('\n').at(-1) ?? '';
      resolve({ arch: req.arch, backend: req.backend.id, skipped: `the measurement process failed (${signal ?? `exit ${code}`})${why ? `: ${why.trim().slice(0, 300)}` : ''}` });
    });
  });
}

interface TorchResult {
  torch: string;
  torchThreads: number;
  openblasThreads: string | null;
  blas: string;
  params: number;
  paramsByModule: Record<string, number>;
  stepMs?: number[];
  medianStepMs?: number;
  bestStepMs?: number;
  losses?: number[];
  peakRssBytes?: number;
}

/** Why PyTorch cannot run here, or undefined when it can. */
function torchUnavailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: torchEnv(), timeout: 60_000 });
  if (probe.error) return `${PYTHON} is not available (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}); apt-get install python3-torch libopenblas0-pthread`;
  if (probe.status !== 0) return `torch does not import in ${PYTHON}: ${(probe.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200)} (apt-get install python3-torch libopenblas0-pthread)`;
  return undefined;
}

function torchEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LD_LIBRARY_PATH: [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    OPENBLAS_NUM_THREADS: '2',
    PYTHONPATH: [PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
  };
}

function runTorch(spec: ResolvedSpec, s: Settings, paramsOnly: boolean): Promise<TorchResult | { error: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-torch-'));
  const cfgFile = path.join(dir, 'config.json');
  const t = spec.training;
  writeFileSync(
    cfgFile,
    JSON.stringify({
      model: spec.model,
      sequenceLength: t.sequenceLength,
      microBatch: t.batchSize,
      accumulation: t.gradientAccumulation,
      maskedPerSequence: t.maxPredictions,
      steps: s.steps,
      warmupSteps: s.warmup,
      optimizer: t.optimizer,
      weightDecay: t.weightDecay,
      gradientClipNorm: t.gradientClipNorm,
      learningRate: 1e-4,
      torchThreads: 1,
      seed: 1,
      paramsOnly,
    }),
  );
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-m', 'convbert_torch.bench', cfgFile], { env: torchEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      const line = out.trim().split('\n').at(-1);
      if (code === 0 && line?.startsWith('{')) return resolve(JSON.parse(line) as TorchResult);
      resolve({ error: `convbert_torch.bench failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}` });
    });
  });
}

// Formatting
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const g = (flops: number) => (flops / 1e9).toFixed(1);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') {
    const result = await worker(JSON.parse(argv[1]!) as WorkerRequest);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0); // threaded wasm workers would keep the process up
  }
  const s = parseArgs(argv);
  const archs = s.only ? [s.only] : ARCHS;
  const specs = Object.fromEntries(ARCHS.map((a) => [a, benchSpec(a, s)])) as Record<Arch, ResolvedSpec>;
  const flops = Object.fromEntries(ARCHS.map((a) => [a, flopsPerStep(specs[a])])) as Record<Arch, { all: number; matmul: number }>;
  const tokensPerStep = s.micro * s.accumulation * SEQ;

  console.log(`Training throughput: hidden 256, 4 layers, 4 heads, vocabulary ${VOCAB}, S=${SEQ}, ${s.micro * s.accumulation} sequences/step (${s.accumulation}×${s.micro} accumulated), ${specs.bert.training.maxPredictions} masked positions/sequence`);
  console.log(`${s.warmup} warm-up + ${s.steps} timed steps per run; ${os.availableParallelism()} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (os.loadavg()[0]! > os.availableParallelism()) console.log(`note: the machine is busy (load ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs): expect the figures to move by up to 2×`);
  for (const a of archs) {
    console.log(`  ${pad(LABEL[a], 15)} training FLOPs/step (computeCost): ${g(flops[a].all)} GFLOP (matmul ${g(flops[a].matmul)} GFLOP), ${tokensPerStep} tokens`);
  }
  console.log('');

  // TF.js backends, one child process per (backend, model).
  const results: WorkerResult[] = [];
  for (const backend of s.backends) {
    for (const arch of archs) {
      const cpu = backend.preference === 'cpu';
      const req: WorkerRequest = { arch, backend, steps: cpu ? 1 : s.steps, warmup: cpu ? 0 : s.warmup, micro: s.micro, accumulation: s.accumulation };
      const t0 = performance.now();
      process.stderr.write(`… ${backend.id} ${LABEL[arch]}`);
      const r = await runChild(req);
      process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s${r.skipped ? ' (skipped)' : ''}\n`);
      results.push(r);
      if (r.skipped) break; // the backend does not load: no need to try the other model
    }
  }
  if (!s.cpu) results.push({ arch: 'bert', backend: 'cpu', skipped: 'not run: 30–50× slower than wasm (a BERT-Mini step takes ~70 s); pass --cpu for one untimed-warm-up step per model' });

  // PyTorch.
  const torch: Partial<Record<Arch, TorchResult>> = {};
  let torchNote: string | undefined = s.torch ? torchUnavailable() : 'not run (--no-torch)';
  if (!torchNote) {
    for (const arch of archs) {
      process.stderr.write(`… PyTorch ${LABEL[arch]}`);
      const t0 = performance.now();
      const r = await runTorch(specs[arch], s, false);
      process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      if ('error' in r) {
        torchNote = r.error;
        break;
      }
      torch[arch] = r;
    }
  }

  // Table. Throughput and FLOP/s are from the best (shortest) timed step: on a shared machine it is the one least
  // disturbed by other work; the median is shown beside it.
  const rows: string[][] = [['model', 'backend', 'median ms', 'best ms', 'tokens/s', 'GFLOP/s', 'matmul GFLOP/s', 'peak RSS', 'loss (first→last)']];
  const measured = results.filter((r) => !r.skipped);
  // Per the row's own step where it has one (a software WebGPU adapter runs smaller steps).
  const row = (arch: Arch, backend: string, medianMs: number, bestMs: number, rss: number, losses: number[], own?: WorkerResult) => [
    LABEL[arch],
    backend,
    int(medianMs),
    int(bestMs),
    int(((own?.tokensPerStep ?? tokensPerStep) * 1000) / bestMs),
    g(((own?.flopsPerStep ?? flops[arch].all) * 1000) / bestMs),
    g(((own?.matmulFlopsPerStep ?? flops[arch].matmul) * 1000) / bestMs),
    gib(rss),
    `${losses[0]!.toFixed(3)}→${losses.at(-1)!.toFixed(3)}`,
  ];
  for (const r of measured) {
    rows.push(row(r.arch, r.backend === 'cpu' ? 'cpu (1 step)' : (r.description ?? r.backend), r.medianStepMs!, r.bestStepMs!, r.peakRssBytes!, r.losses!, r));
  }
  for (const arch of archs) {
    const t = torch[arch];
    if (t) rows.push(row(arch, `PyTorch ${t.torch} (OpenBLAS ${t.openblasThreads ?? '?'} thr, torch ${t.torchThreads} thr)`, t.medianStepMs!, t.bestStepMs!, t.peakRssBytes!, t.losses!));
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c >= 2 && c <= 7 ? lpad(cell, widths[c]!) : pad(cell, widths[c]!))).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length) {
    console.log('\nskipped:');
    for (const r of skipped) console.log(`  ${r.backend}: ${r.skipped}`);
  }
  if (torchNote) console.log(`  PyTorch: ${torchNote}`);

  // Parameter counts: ours (allocated variables), the cost model's, PyTorch's.
  console.log('\nparameters:');
  for (const arch of archs) {
    const ours = measured.find((r) => r.arch === arch)?.params;
    const cost = computeCost(specs[arch], { sequenceLength: SEQ, batchSize: s.micro }).totals.params;
    const t = torch[arch];
    const same = t ? (t.params === (ours ?? cost) ? 'match' : 'MISMATCH') : '';
    console.log(`  ${pad(LABEL[arch], 15)} ours ${int(ours ?? cost)}${ours === undefined ? ' (cost model)' : ''}, cost model ${int(cost)}, PyTorch ${t ? int(t.params) : '–'}  ${same}`);
    if (t && t.params !== cost) {
      const ourModules = new Map<string, number>();
      const c = computeCost(specs[arch], { sequenceLength: SEQ, batchSize: s.micro });
      for (const m of [c.embeddings, ...c.layers.flatMap((l) => l.modules), ...c.heads]) ourModules.set(m.name, m.params);
      for (const [name, n] of Object.entries(t.paramsByModule)) if (ourModules.get(name) !== n) console.log(`    ${name}: ours ${ourModules.get(name) ?? '–'}, PyTorch ${n}`);
    }
  }

  // Ratios.
  console.log('\nGroupBERT / BERT:');
  console.log(`  FLOP ratio ${(flops.groupbert.all / flops.bert.all).toFixed(2)} (matmul only ${(flops.groupbert.matmul / flops.bert.matmul).toFixed(2)})`);
  const backendsMeasured = [...new Set(measured.map((r) => r.backend))];
  for (const b of backendsMeasured) {
    const bert = measured.find((r) => r.backend === b && r.arch === 'bert');
    const gb = measured.find((r) => r.backend === b && r.arch === 'groupbert');
    if (bert && gb) console.log(`  step-time ratio on ${pad(gb.description ?? b, 24)} ${(gb.bestStepMs! / bert.bestStepMs!).toFixed(2)} (medians ${(gb.medianStepMs! / bert.medianStepMs!).toFixed(2)})`);
  }
  if (torch.bert && torch.groupbert) console.log(`  step-time ratio in ${pad('PyTorch', 24)} ${(torch.groupbert.bestStepMs! / torch.bert.bestStepMs!).toFixed(2)} (medians ${(torch.groupbert.medianStepMs! / torch.bert.medianStepMs!).toFixed(2)})`);

  console.log('\nours / PyTorch (tokens/s from the best steps, medians in brackets; >1 = TF.js faster):');
  if (!torch.bert && !torch.groupbert) console.log(`  – (PyTorch did not run${torchNote ? `: ${torchNote}` : ''})`);
  for (const b of backendsMeasured) {
    const parts = archs
      .map((arch) => {
        const ours = measured.find((r) => r.backend === b && r.arch === arch);
        const t = torch[arch];
        if (!ours || !t) return undefined;
        const scale = (ours.tokensPerStep ?? tokensPerStep) / tokensPerStep; // a software WebGPU row's smaller step
        return `${LABEL[arch]} ${((scale * t.bestStepMs!) / ours.bestStepMs!).toFixed(3)} (${((scale * t.medianStepMs!) / ours.medianStepMs!).toFixed(3)})`;
      })
      .filter(Boolean);
    if (parts.length) console.log(`  ${pad(measured.find((r) => r.backend === b)?.description ?? b, 24)} ${parts.join(', ')}`);
  }
}

main().catch((e) => {
  console.error(`bench:train failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
