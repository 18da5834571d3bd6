/**
 * Training throughput on the webgpu backend (issue #13): BERT-Base and GroupBERT-Base at S = 128, B = 32 — the
 * models and FLOPs of bench/gpu/*.json, the ones bench/gpu.sh times in PyTorch — through the real masked-LM job
 * (src/core/train/mlm-job.ts: the spec's AdamW, clipping, dropout) on random full-length batches with the spec's
 * masked positions per sequence, one micro-batch per step. Not a test: it prints figures.
 *
 *   npx tsx bench/webgpu.bench.ts [--tiny] [--models bert-base,groupbert-base] [--batch 32] [--warmup 2] [--steps 5]
 *                                 [--json FILE]
 *
 * `--tiny`: bert-tiny / groupbert-tiny (vocabulary 1024, S = 32), B = 4, 1 warm-up + 2 timed steps: seconds, also on a
 * software adapter (lavapipe), to check the path end to end. Each step's time ends when its loss has been read back,
 * so it includes the GPU's work. Reported: median and best step, tokens/s = B·S / median step, TFLOP/s = the cost
 * model's training FLOPs per sequence (bench/gpu/<model>.json, computeCost) · B / median step, peak GPU bytes = the
 * most bytes TF.js's webgpu buffer manager held in a timed step. The last stdout line is the whole result as JSON
 * (`"format": "convbert-webgpu-bench"`); bench/gpu.sh reads it. Exit 0; 1 when a model failed (its row says why);
 * 2 for bad arguments or when the webgpu backend does not load (the reason is printed).
 *
 * bench/gpu-pack.sh bundles this file (with esbuild, for a machine without Node.js or npm packages); the bundle
 * calls `main` itself, so the file runs `main` only when it is the script started.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import bertBase from './gpu/bert-base.json';
import bertTiny from './gpu/bert-tiny.json';
import groupbertBase from './gpu/groupbert-base.json';
import groupbertTiny from './gpu/groupbert-tiny.json';
import type { ResolvedSpec } from '../src/core/spec/resolve';
import type { MlmJobOptions } from '../src/core/train/mlm-job';
import type { TrainingJob } from '../src/core/train/job';

// ---------------------------------------------------------------------------------------------------------
// Random masked-LM data (shared with bench/train.bench.ts)

/** Ids below this are the special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]): random batches avoid them. */
const SPECIAL_IDS = 5;

/**
 * A data pipeline of random batches for the masked-LM job: token ids outside the special ids, every position
 * attended, `maxPredictions` distinct masked positions per sequence (never [CLS]) of weight 1, random NSP labels.
 */
export async function randomMlmData(spec: ResolvedSpec, seed: number): Promise<MlmJobOptions['data']> {
  const [{ allocateBatch }, { Rng }] = await Promise.all([import('../src/core/data'), import('../src/core/rng')]);
  const t = spec.training;
  const vocab = spec.model.vocabSize;
  const nsp = spec.model.heads.nsp;
  const rng = Rng.fromSeed(7, seed);
  const next = () => {
    const b = allocateBatch(t.batchSize, t.sequenceLength, t.maxPredictions, nsp);
    for (let i = 0; i < b.inputIds.length; i++) b.inputIds[i] = SPECIAL_IDS + rng.int(vocab - SPECIAL_IDS);
    b.attentionMask.fill(1);
    for (let s = 0; s < t.batchSize; s++) {
      const picked = new Set<number>();
      while (picked.size < t.maxPredictions) picked.add(1 + rng.int(t.sequenceLength - 1));
      [...picked].forEach((pos, j) => {
        b.maskedPositions[s * t.maxPredictions + j] = pos;
        b.maskedLabels[s * t.maxPredictions + j] = SPECIAL_IDS + rng.int(vocab - SPECIAL_IDS);
        b.maskedWeights[s * t.maxPredictions + j] = 1;
      });
      if (b.nspLabels) b.nspLabels[s] = rng.int(2);
    }
    return b;
  };
  const iterator = { next, state: () => ({}), restore: () => undefined, reset: () => undefined };
  return { tokenizer: { vocabSize: vocab }, train: iterator, validation: iterator, close: () => undefined } as unknown as MlmJobOptions['data'];
}

/** The masked-LM job of `spec` on random batches, in a temporary run folder that `dispose` removes. */
export async function randomMlmJob(spec: ResolvedSpec, backend: string, seed = 99): Promise<{ job: TrainingJob; dispose(): void }> {
  const [{ createMlmJob }, { Rng }] = await Promise.all([import('../src/core/train/mlm-job'), import('../src/core/rng')]);
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'convbert-bench-'));
  const job = createMlmJob(
    { spec, runDir, backend, rng: Rng.fromSeed(1), log: () => undefined, warn: (m) => process.stderr.write(`warning: ${m}\n`) },
    { data: await randomMlmData(spec, seed), probes: false },
  );
  return {
    job,
    dispose: () => {
      job.dispose();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Settings

interface GpuBenchSpecFile {
  name: string;
  sequenceLength: number;
  maskedPerSequence: number;
  params: number;
  trainingFlopsPerSequence: number;
  spec: unknown;
}

/** bench/gpu/*.json, bundled with this file (the GPU machine has only the bundle). */
const SPECS: Record<string, GpuBenchSpecFile> = {
  'bert-base': bertBase,
  'groupbert-base': groupbertBase,
  'bert-tiny': bertTiny,
  'groupbert-tiny': groupbertTiny,
};

export interface WebgpuBenchSettings {
  models: string[];
  batch: number;
  warmup: number;
  steps: number;
  json?: string;
  tiny: boolean;
}

const USAGE =
  'usage: webgpu.bench [--tiny] [--models bert-base,groupbert-base] [--batch 32] [--warmup 2] [--steps 5] [--json FILE]';

export function parseWebgpuBenchArgs(argv: string[]): WebgpuBenchSettings {
  const tiny = argv.includes('--tiny');
  const s: WebgpuBenchSettings = tiny
    ? { models: ['bert-tiny', 'groupbert-tiny'], batch: 4, warmup: 1, steps: 2, tiny }
    : { models: ['bert-base', 'groupbert-base'], batch: 32, warmup: 2, steps: 5, tiny };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    const whole = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${a} needs a whole number ≥ ${min}, not "${v}"`);
      return n;
    };
    if (a === '--tiny') continue;
    else if (a === '--batch') s.batch = whole(1);
    else if (a === '--warmup') s.warmup = whole(0);
    else if (a === '--steps') s.steps = whole(1);
    else if (a === '--json') s.json = value();
    else if (a === '--models') {
      s.models = value()
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      const unknown = s.models.filter((m) => !SPECS[m]);
      if (unknown.length || !s.models.length) throw new Error(`--models: unknown ${unknown.join(', ') || '(none given)'}; known: ${Object.keys(SPECS).join(', ')}`);
    } else if (a === '-h' || a === '--help') throw new Error(USAGE);
    else throw new Error(`unknown option ${a}; ${USAGE}`);
  }
  return s;
}

/** The model of bench/gpu/<name>.json at B sequences per step, one micro-batch. */
export function webgpuBenchSpec(name: string, batch: number): ResolvedSpec {
  const file = SPECS[name];
  if (!file) throw new Error(`no bench spec ${name}`);
  const spec = JSON.parse(JSON.stringify(file.spec)) as ResolvedSpec;
  return { ...spec, training: { ...spec.training, batchSize: batch, gradientAccumulation: 1, steps: 1000 } };
}

// ---------------------------------------------------------------------------------------------------------
// Measurement

export interface WebgpuBenchRow {
  model: string;
  batch: number;
  sequenceLength: number;
  status: 'ok' | 'error';
  message?: string;
  params?: number;
  stepSeconds?: number[];
  medianStepSeconds?: number;
  bestStepSeconds?: number;
  tokensPerSecond?: number;
  tflops?: number;
  flopsPerSequence: number;
  peakGpuBytes?: number;
  losses?: number[];
  setupSeconds?: number;
}

export interface WebgpuBenchResult {
  format: 'convbert-webgpu-bench';
  version: 1;
  backend: string;
  device?: { vendor: string; architecture: string; description: string; software: boolean; limits: Record<string, number> };
  node: string;
  warmup: number;
  steps: number;
  rows: WebgpuBenchRow[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

async function measure(name: string, s: WebgpuBenchSettings, backend: string): Promise<WebgpuBenchRow> {
  const { takeGpuMemory } = await import('../src/engines/tfjs/backends');
  const file = SPECS[name]!;
  const spec = webgpuBenchSpec(name, s.batch);
  const base: WebgpuBenchRow = { model: name, batch: s.batch, sequenceLength: file.sequenceLength, status: 'ok', flopsPerSequence: file.trainingFlopsPerSequence };
  const t0 = performance.now();
  let bench: Awaited<ReturnType<typeof randomMlmJob>> | undefined;
  const stepSeconds: number[] = [];
  const losses: number[] = [];
  let peak = 0;
  try {
    bench = await randomMlmJob(spec, backend);
    const info = await bench.job.init();
    for (let i = 0; i < s.warmup + s.steps; i++) {
      if (i === s.warmup) takeGpuMemory(); // the peak window starts with the first timed step
      const s0 = performance.now();
      const m = await bench.job.step({ step: i, learningRate: 1e-4 });
      const sec = (performance.now() - s0) / 1000;
      losses.push(m.loss);
      if (!Number.isFinite(m.loss)) throw new Error(`step ${i}: the loss is ${m.loss}`);
      if (i >= s.warmup) {
        stepSeconds.push(sec);
        peak = Math.max(peak, takeGpuMemory()?.peak ?? 0);
      }
      process.stderr.write(`  ${name} step ${i + 1}/${s.warmup + s.steps}${i < s.warmup ? ' (warm-up)' : ''}: ${(sec * 1000).toFixed(0)} ms, loss ${m.loss.toFixed(4)}\n`);
    }
    const med = median(stepSeconds);
    return {
      ...base,
      params: info.parameterCount,
      stepSeconds,
      medianStepSeconds: med,
      bestStepSeconds: Math.min(...stepSeconds),
      tokensPerSecond: (s.batch * file.sequenceLength) / med,
      tflops: (file.trainingFlopsPerSequence * s.batch) / med / 1e12,
      peakGpuBytes: peak,
      losses,
      setupSeconds: (performance.now() - t0) / 1000 - stepSeconds.reduce((a, b) => a + b, 0),
    };
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    return { ...base, status: 'error', message: /out of memory|OOM/i.test(message) ? `OOM: ${message}` : message, losses };
  } finally {
    bench?.dispose();
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The table bench/gpu.sh and the README show. */
export function formatWebgpuRows(r: WebgpuBenchResult): string[] {
  const where = r.device ? `${r.device.software ? 'software: ' : ''}${r.device.description || r.device.architecture}` : r.backend;
  const lines = [`webgpu (${where}), fp32, ${r.warmup} warm-up + ${r.steps} timed steps, median step:`];
  for (const row of r.rows) {
    const head = `  ${row.model.padEnd(15)} B=${String(row.batch).padEnd(3)} S=${row.sequenceLength}`;
    if (row.status !== 'ok') lines.push(`${head}  ${row.message}`);
    else
      lines.push(
        `${head}  ${fmt(row.medianStepSeconds! * 1000, 1)} ms/step (best ${fmt(row.bestStepSeconds! * 1000, 1)}), ${fmt(row.tokensPerSecond!)} tokens/s, ` +
          `${row.tflops!.toPrecision(3)} TFLOP/s, peak GPU ${(row.peakGpuBytes! / 2 ** 30).toFixed(2)} GiB, loss ${row.losses![0]!.toFixed(3)}→${row.losses!.at(-1)!.toFixed(3)}`,
      );
  }
  return lines;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  let s: WebgpuBenchSettings;
  try {
    s = parseWebgpuBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`webgpu.bench: ${(err as Error).message}\n`);
    return 2;
  }
  const { loadBackend, describeBackend } = await import('../src/engines/tfjs/backends');
  let report;
  try {
    report = await loadBackend('webgpu', { strict: true });
  } catch (err) {
    process.stderr.write(`webgpu.bench: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  process.stderr.write(`webgpu.bench: ${describeBackend(report)}, Node ${process.version}\n`);
  if (report.device?.software && !s.tiny) process.stderr.write('webgpu.bench: a software adapter: Base models take minutes per step here (--tiny for a quick check)\n');
  const result: WebgpuBenchResult = {
    format: 'convbert-webgpu-bench',
    version: 1,
    backend: describeBackend(report),
    ...(report.device ? { device: report.device } : {}),
    node: process.version,
    warmup: s.warmup,
    steps: s.steps,
    rows: [],
  };
  for (const name of s.models) result.rows.push(await measure(name, s, report.name));
  for (const line of formatWebgpuRows(result)) process.stderr.write(`${line}\n`);
  const json = JSON.stringify(result);
  if (s.json) writeFileSync(s.json, `${json}\n`);
  process.stdout.write(`${json}\n`);
  return result.rows.some((r) => r.status !== 'ok') ? 1 : 0;
}

if (/webgpu\.bench\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`webgpu.bench: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
