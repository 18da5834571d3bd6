/**
 * Writes bench/gpu/*.json: the resolved specs bench/gpu.sh times (python/convbert_torch/gpu_bench.py), with the cost
 * model's training FLOPs per sequence, so the GPU machine needs no Node.js. `test/unit/gpu-specs.test.ts` fails when
 * the committed files differ from what the presets resolve to now.
 *
 *   npx tsx bench/gpu-specs.ts            (rewrites bench/gpu/*.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeCost } from '../src/core/cost/report';
import { resolveSpec } from '../src/core/spec/resolve';
import type { SpecFile } from '../src/core/spec/schema';

export const GPU_SPEC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gpu');

/** What each file is: the base pair the issue asks for at S = 128, and a tiny pair for the CPU smoke test. */
export const GPU_SPEC_FILES: Record<string, SpecFile> = {
  'bert-base': { version: 1, name: 'bert-base', extends: 'bert-base', training: { sequenceLength: 128 } },
  'groupbert-base': { version: 1, name: 'groupbert-base', extends: 'groupbert-base', training: { sequenceLength: 128 } },
  // Tiny models (vocabulary 1024, S = 32) for python/tests/test_gpu_bench.py: seconds on a CPU.
  'bert-tiny': { version: 1, name: 'bert-tiny', extends: 'bert-tiny', model: { vocabSize: 1024, maxPositions: 64 }, training: { sequenceLength: 32 } },
  'groupbert-tiny': {
    version: 1,
    name: 'groupbert-tiny',
    extends: 'groupbert-tiny',
    model: { vocabSize: 1024, maxPositions: 64 },
    training: { sequenceLength: 32 },
  },
};

export interface GpuBenchSpec {
  format: 'convbert-gpu-bench-spec';
  version: 1;
  name: string;
  /** The spec file resolved (what to change in GPU_SPEC_FILES to change this file). */
  source: SpecFile;
  sequenceLength: number;
  maskedPerSequence: number;
  params: number;
  /** computeCost(spec, {batchSize: 1}).totals.trainingFlopsPerStep: forward + backward, matmul + element-wise. */
  trainingFlopsPerSequence: number;
  spec: ReturnType<typeof resolveSpec>;
  generatedBy: string;
}

export function gpuBenchSpec(name: string): GpuBenchSpec {
  const source = GPU_SPEC_FILES[name];
  if (!source) throw new Error(`no GPU bench spec named ${name}`);
  const spec = resolveSpec(source);
  const cost = computeCost(spec, { batchSize: 1 });
  return {
    format: 'convbert-gpu-bench-spec',
    version: 1,
    name,
    source,
    sequenceLength: cost.sequenceLength,
    maskedPerSequence: cost.maskedPerSequence,
    params: cost.totals.params,
    trainingFlopsPerSequence: cost.totals.trainingFlopsPerStep,
    spec,
    generatedBy: 'npx tsx bench/gpu-specs.ts',
  };
}

/** The text of bench/gpu/<name>.json. */
export function renderGpuBenchSpec(name: string): string {
  return `${JSON.stringify(gpuBenchSpec(name), null, 1)}\n`;
}

function main(): void {
  mkdirSync(GPU_SPEC_DIR, { recursive: true });
  for (const name of Object.keys(GPU_SPEC_FILES)) {
    const file = path.join(GPU_SPEC_DIR, `${name}.json`);
    writeFileSync(file, renderGpuBenchSpec(name));
    const s = gpuBenchSpec(name);
    console.log(`${path.relative(process.cwd(), file)}: ${s.params.toLocaleString('en')} parameters, ${(s.trainingFlopsPerSequence / 1e9).toFixed(3)} GFLOP per sequence (S = ${s.sequenceLength}, ${s.maskedPerSequence} masked)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
