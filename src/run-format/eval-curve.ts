/**
 * A run's evaluation curve: each kept `eval` event of metrics.jsonl with the tokens, training FLOPs and training
 * time spent through its step (totals.ts), the input of the sweep report (src/core/compare/report.ts) and of
 * anything else that plots validation loss against compute.
 *
 * Resume, as totals.ts: a `started` event at step s drops the evaluations recorded past s (those steps are trained
 * and evaluated again), a `metrics` event for a step already recorded drops the evaluations from that step on, and an
 * evaluation of a step already evaluated replaces it. An evaluation before any step (step 0) spent nothing.
 *
 * The loss: eval events carry the total validation loss (MLM + NSP when the model has an NSP head; then they also
 * carry `nspAccuracy`). An event that carries an `mlmLoss` has it used instead; otherwise a run whose evaluations
 * include NSP is flagged `lossIncludesNsp`, for the report to say so.
 */
import type { TrainerMessage } from '../protocol';
import type { EvalCurvePoint } from '../core/compare/report';
import { accumulateTotals, type StepTotals } from './totals';

export interface RunEvalCurve {
  points: EvalCurvePoint[];
  /** Totals through the last kept step (absent before the first step). */
  final?: StepTotals;
  /** Some kept evaluation's loss is MLM + NSP (no separate MLM loss in the event). */
  lossIncludesNsp: boolean;
}

/** The totals through `step`: those of the last kept step at or before it (zeros before the first). */
function totalsAt(totals: readonly StepTotals[], step: number): StepTotals {
  for (let i = totals.length - 1; i >= 0; i--) if (totals[i]!.step <= step) return totals[i]!;
  return { step: 0, tokens: 0, flops: 0, trainingMs: 0 };
}

/** The evaluation curve of a history (metrics.jsonl's events, in order). */
export function runEvalCurve(events: Iterable<TrainerMessage>): RunEvalCurve {
  const totals: StepTotals[] = [];
  let points: (EvalCurvePoint & { nsp: boolean })[] = [];
  for (const m of events) {
    if (m.type === 'started') points = points.filter((p) => p.step <= m.step);
    else if (m.type === 'metrics') points = points.filter((p) => p.step < m.step);
    accumulateTotals(totals, m);
    if (m.type !== 'eval') continue;
    points = points.filter((p) => p.step < m.step);
    const at = totalsAt(totals, m.step);
    const mlm = (m as { mlmLoss?: unknown }).mlmLoss;
    const separate = typeof mlm === 'number' && Number.isFinite(mlm);
    points.push({
      step: m.step,
      loss: separate ? mlm : m.loss,
      tokens: at.tokens,
      flops: at.flops,
      trainingMs: at.trainingMs,
      nsp: !separate && m.nspAccuracy !== undefined,
    });
  }
  const final = totals[totals.length - 1];
  return {
    points: points.map(({ nsp: _nsp, ...p }) => p),
    ...(final ? { final: { ...final } } : {}),
    lossIncludesNsp: points.some((p) => p.nsp),
  };
}
