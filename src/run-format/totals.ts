/**
 * What a run has spent through each step: tokens, training FLOPs (the cost model's figure) and training time,
 * cumulative over the steps the run kept. The one computation behind the dashboard's compute axes (the run
 * registry folds metrics.jsonl and live messages through it) and anything else that plots loss against compute.
 *
 * Each `metrics` event carries rates and the step's time; the step's own amounts are rate × time:
 *   tokens = tokensPerSecond · stepMs / 1000,  FLOPs = flopsPerSecond · stepMs / 1000 (the cost model's FLOPs of the
 *   step, which the trainer divided by the step time), training time = stepMs.
 * Training time is the sum of step times: evaluation, checkpoints, pauses and the gaps between resumed sessions
 * are not in it.
 *
 * Resume: a `started` event at step s supersedes what was recorded past s (those steps are trained again), and a
 * `metrics` event for a step already recorded (a history that restarted without a `started` line, as old files may
 * hold) supersedes that step and everything after it. So the sums run over the kept steps only: a resumed run
 * neither starts again from 0 nor counts a retrained step twice.
 */
import type { TrainerMessage } from '../protocol';

/** Cumulative amounts through `step` (inclusive). */
export interface StepTotals {
  step: number;
  /** Tokens processed. */
  tokens: number;
  /** Training FLOPs by the cost model's convention (forward + backward; one multiply-add = 2 FLOPs); 0 when unknown. */
  flops: number;
  /** Training time in ms: the sum of step times. */
  trainingMs: number;
}

/**
 * Folds one event into `totals` (ascending by step; changed in place) and returns the totals of the step a
 * `metrics` event recorded (`undefined` for other events). Pure apart from `totals`: no I/O, no clock.
 */
export function accumulateTotals(totals: StepTotals[], m: TrainerMessage): StepTotals | undefined {
  if (m.type === 'started') {
    while (totals.length > 0 && totals[totals.length - 1]!.step > m.step) totals.pop();
    return undefined;
  }
  if (m.type !== 'metrics') return undefined;
  while (totals.length > 0 && totals[totals.length - 1]!.step >= m.step) totals.pop();
  const prev = totals[totals.length - 1];
  const ms = m.stepMs;
  const next: StepTotals = {
    step: m.step,
    tokens: (prev?.tokens ?? 0) + (m.tokensPerSecond * ms) / 1000,
    flops: (prev?.flops ?? 0) + (m.flopsPerSecond * ms) / 1000,
    trainingMs: (prev?.trainingMs ?? 0) + ms,
  };
  totals.push(next);
  return next;
}

/** The totals of every kept step of a history (metrics.jsonl's events, in order). */
export function runTotals(events: Iterable<TrainerMessage>): StepTotals[] {
  const totals: StepTotals[] = [];
  for (const m of events) accumulateTotals(totals, m);
  return totals;
}
