/**
 * How many optimizer steps a run trains, and the training FLOPs of one step: one rule for the trainer loop
 * (src/engines/trainer/loop.ts), `convbert prepare` (src/core/data/shards.ts, which must write exactly the rows the
 * run consumes) and every engine, so they never drift.
 */
import type { ResolvedSpec, ResolvedTraining } from '../spec/resolve';
import { computeCost } from './report';

/**
 * Training FLOPs (forward + backward, by the cost model) of one optimizer step: `gradientAccumulation` micro-batches
 * of `batchSize` sequences on each of `worldSize` ranks. What the masked-LM job reports as `flopsPerStep` (×1 rank).
 */
export function trainingFlopsPerStep(spec: ResolvedSpec, worldSize = 1): number {
  const t = spec.training;
  const cost = computeCost(spec, { sequenceLength: t.sequenceLength, batchSize: t.batchSize, maskedPerSequence: t.maxPredictions });
  return cost.totals.trainingFlopsPerStep * Math.max(1, t.gradientAccumulation) * worldSize;
}

export interface TotalSteps {
  steps: number;
  /** `flopBudget` was set but could not be used (no FLOPs per step known): `steps` is `training.steps`. */
  budgetIgnored: boolean;
}

/**
 * The steps a run trains: `override` (`--steps`) when given; else with `flopBudget`, ceil(flopBudget / flopsPerStep)
 * (at least 1) when the FLOPs per step are known; else `training.steps`.
 */
export function totalTrainingSteps(training: Pick<ResolvedTraining, 'steps' | 'flopBudget'>, flopsPerStep: number | undefined, override?: number): TotalSteps {
  if (override !== undefined) return { steps: override, budgetIgnored: false };
  if (training.flopBudget === undefined) return { steps: training.steps, budgetIgnored: false };
  if (flopsPerStep !== undefined && flopsPerStep > 0) return { steps: Math.max(1, Math.ceil(training.flopBudget / flopsPerStep)), budgetIgnored: false };
  return { steps: training.steps, budgetIgnored: true };
}
