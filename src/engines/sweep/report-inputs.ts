/**
 * The sweep report's inputs from what is on disk: each planned run's metrics.jsonl (its evaluation curve and totals,
 * src/run-format/eval-curve.ts) with its parameters and training FLOPs per token from the cost model. A run not
 * started yet is given with an empty curve, so the report says what is missing.
 */
import { computeCost } from '../../core/cost';
import type { SweepRunInput } from '../../core/compare/report';
import { runEvalCurve } from '../../run-format/eval-curve';
import { readMetricEvents } from '../../run-format/metrics';
import { plannedRunDir } from './decide';
import type { RunnablePlannedRun } from './types';

/** Training FLOPs per token of a planned run: its step's FLOPs over the tokens of a step. */
export function trainingFlopsPerToken(run: Pick<RunnablePlannedRun, 'flopsPerStep' | 'resolved'>): number {
  const t = run.resolved.training;
  return run.flopsPerStep / (t.batchSize * Math.max(1, t.gradientAccumulation) * t.sequenceLength);
}

export async function sweepReportInputs(workspace: string, runs: readonly RunnablePlannedRun[]): Promise<{ inputs: SweepRunInput[]; unreadable: number }> {
  const inputs: SweepRunInput[] = [];
  let unreadable = 0;
  for (const run of runs) {
    const { events, invalid } = await readMetricEvents(plannedRunDir(workspace, run.id)).catch(() => ({ events: [], invalid: [] }));
    unreadable += invalid.length;
    const curve = runEvalCurve(events);
    inputs.push({
      id: run.id,
      group: run.name,
      seed: run.seed,
      family: run.family,
      params: computeCost(run.resolved).totals.params,
      trainingFlopsPerToken: trainingFlopsPerToken(run),
      curve: curve.points,
      ...(curve.final ? { final: { step: curve.final.step, tokens: curve.final.tokens, flops: curve.final.flops, trainingMs: curve.final.trainingMs } } : {}),
      plannedSteps: run.steps,
      ...(curve.lossIncludesNsp ? { lossIncludesNsp: true } : {}),
    });
  }
  return { inputs, unreadable };
}
