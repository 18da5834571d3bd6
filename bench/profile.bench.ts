/**
 * Where a training step's time goes, by TF.js kernel: one optimizer step of BERT-Mini or GroupBERT-Mini (the
 * bench:train shapes: vocabulary 8192, S = 128, 2 × 8 sequences accumulated) under `tf.profile`, after a warm-up
 * step, on a backend by name. Kernel times are wall times of each kernel (synchronous CPU backends).
 *
 *   npx tsx bench/profile.bench.ts [--backend blas|wasm|cpu|webgpu] [--model bert|groupbert] [--top N]
 */
import * as tf from '@tensorflow/tfjs';
import { describeBackend, loadBackend, type BackendPreference } from '../src/engines/tfjs/backends';
import { benchSpec, flopsPerStep, type Arch } from './mini-spec';
import { randomMlmJob } from './webgpu.bench';

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
  };
  const backend = arg('--backend', 'blas') as BackendPreference;
  const model = arg('--model', 'groupbert') as Arch;
  if (model !== 'bert' && model !== 'groupbert') throw new Error(`--model is bert or groupbert, not ${String(model)}`);
  const top = Number(arg('--top', '16'));
  const report = await loadBackend(backend, { strict: true });
  const spec = benchSpec(model, { micro: 8, accumulation: 2 });
  const flops = flopsPerStep(spec).all;
  const { job, dispose } = await randomMlmJob(spec, report.name);
  try {
    await job.init();
    await job.step({ step: 0, learningRate: 1e-4 });
    const t0 = performance.now();
    const info = await tf.profile(async () => {
      await job.step({ step: 1, learningRate: 1e-4 });
    });
    const wall = performance.now() - t0;
    const byName = new Map<string, { ms: number; n: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.n++;
      byName.set(k.name, e);
    }
    const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
    // `forward` is a custom op's forward pass: its own kernels are counted under their names too.
    const kernelMs = rows.filter(([name]) => name !== 'forward').reduce((a, [, e]) => a + e.ms, 0);
    const mm = byName.get('BatchMatMul')?.ms ?? 0;
    console.log(`${model}-mini on ${describeBackend(report)}: one step (2 × 8 × 128 tokens) ${wall.toFixed(0)} ms under the profiler, ` +
      `${(flops / 1e9).toFixed(1)} GFLOP (${((flops / wall) * 1e-6).toFixed(1)} GFLOP/s); kernels ${kernelMs.toFixed(0)} ms in ${info.kernels.length} calls ` +
      `(BatchMatMul ${mm.toFixed(0)} ms), outside kernels ${(wall - kernelMs).toFixed(0)} ms`);
    console.log('kernel                      ms   share  calls');
    for (const [name, e] of rows.slice(0, top)) console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(7)} ${((100 * e.ms) / wall).toFixed(1).padStart(6)} % ${String(e.n).padStart(6)}`);
  } finally {
    dispose();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
