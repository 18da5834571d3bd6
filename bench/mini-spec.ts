/**
 * The benches' CPU models: BERT-Mini and GroupBERT-Mini with an 8k vocabulary at S = 128, `micro` sequences per
 * micro-batch and `accumulation` micro-batches per step (bench:train, bench/profile.bench.ts).
 */
import { computeCost } from '../src/core/cost';
import type { ResolvedSpec } from '../src/core/spec/resolve';
import type { SpecFile } from '../src/core/spec/schema';
import { validateSpecText } from '../src/core/validate/validate';

export type Arch = 'bert' | 'groupbert';
export const PRESET: Record<Arch, 'bert-mini' | 'groupbert-mini'> = { bert: 'bert-mini', groupbert: 'groupbert-mini' };
export const SEQ = 128;
export const VOCAB = 8192;

export function benchSpec(arch: Arch, s: { micro: number; accumulation: number }): ResolvedSpec {
  const file: SpecFile = {
    version: 1,
    name: `bench-${PRESET[arch]}`,
    extends: PRESET[arch],
    model: { vocabSize: VOCAB },
    training: {
      sequenceLength: SEQ,
      batchSize: s.micro,
      gradientAccumulation: s.accumulation,
      tokenizer: { vocabSize: VOCAB },
      steps: 1000,
      memoryBudgetMiB: 16_384,
    },
  };
  const result = validateSpecText(JSON.stringify(file));
  if (!result.spec) throw new Error(`bench spec ${arch} is invalid: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  return result.spec;
}

/** The cost model's training FLOPs of one optimizer step (all micro-batches), and the matrix products' part. */
export function flopsPerStep(spec: ResolvedSpec): { all: number; matmul: number } {
  const t = spec.training;
  const c = computeCost(spec, { sequenceLength: t.sequenceLength, batchSize: t.batchSize, maskedPerSequence: t.maxPredictions });
  return { all: c.totals.trainingFlopsPerStep * t.gradientAccumulation, matmul: (c.totals.forward.matmul + c.totals.backward.matmul) * t.gradientAccumulation };
}
