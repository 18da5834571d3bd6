/**
 * A run's figures from its history (`metrics.jsonl`): steps, final and best training and validation loss,
 * throughput and achieved FLOP/s. `convbert train` prints it when a run ends and `convbert eval` beside its own
 * evaluation, so both show the same numbers as the file.
 *
 * Throughput is Σ tokens / Σ step time over every recorded step (the trainer's own step timing, summed over
 * resumed sessions; evaluation and checkpoint writing are not in it). Achieved FLOP/s is Σ FLOPs / Σ step time,
 * with each step's FLOPs as the trainer reported them (the job's count by the cost model's convention).
 */
import type { CheckpointMessage, DoneMessage, EvalMessage, StartedMessage, TrainerMessage } from '../protocol';
import type { CliIo } from './io';
import { exact, fraction, metric, rate } from '../format';

export interface StepValue {
  step: number;
  value: number;
}

export interface RunSummary {
  /** Last step with metrics (updates completed). */
  steps: number;
  /** From the last `started`. */
  totalSteps: number | undefined;
  /** Sessions (fresh start + resumes) recorded. */
  sessions: number;
  backend: string | undefined;
  tokens: number;
  trainMs: number;
  /** Σ tokens / Σ step time; 0 without steps. */
  tokensPerSecond: number;
  /** Σ FLOPs / Σ step time; 0 when the trainer reported none. */
  flopsPerSecond: number;
  finalLoss: StepValue | undefined;
  /** The last step's MLM and NSP parts (NSP only with an NSP head). */
  finalParts: { mlm: number; nsp?: number } | undefined;
  bestLoss: StepValue | undefined;
  finalEval: EvalMessage | undefined;
  bestEval: EvalMessage | undefined;
  checkpoint: CheckpointMessage | undefined;
  done: DoneMessage | undefined;
  started: StartedMessage | undefined;
  warnings: number;
}

export function summarizeRun(events: readonly TrainerMessage[]): RunSummary {
  // One entry per step: a resumed run's history is truncated at its checkpoint, but be safe with duplicates.
  const metrics = new Map<number, Extract<TrainerMessage, { type: 'metrics' }>>();
  const evals = new Map<number, EvalMessage>();
  let started: StartedMessage | undefined;
  let sessions = 0;
  let checkpoint: CheckpointMessage | undefined;
  let done: DoneMessage | undefined;
  let warnings = 0;
  for (const e of events) {
    switch (e.type) {
      case 'started':
        started = e;
        sessions++;
        break;
      case 'metrics':
        metrics.set(e.step, e);
        break;
      case 'eval':
        evals.set(e.step, e);
        break;
      case 'checkpoint':
        checkpoint = e;
        break;
      case 'done':
        done = e;
        break;
      case 'warning':
        warnings++;
        break;
      default:
        break;
    }
  }
  const steps = [...metrics.values()].sort((a, b) => a.step - b.step);
  let tokens = 0;
  let flops = 0;
  let trainMs = 0;
  let best: StepValue | undefined;
  for (const m of steps) {
    tokens += (m.tokensPerSecond * m.stepMs) / 1000;
    flops += (m.flopsPerSecond * m.stepMs) / 1000;
    trainMs += m.stepMs;
    if (!best || m.loss < best.value) best = { step: m.step, value: m.loss };
  }
  const last = steps.at(-1);
  const evalList = [...evals.values()].sort((a, b) => a.step - b.step);
  const bestEval = evalList.reduce<EvalMessage | undefined>((b, e) => (!b || e.loss < b.loss ? e : b), undefined);
  return {
    steps: last?.step ?? started?.step ?? 0,
    totalSteps: started?.totalSteps,
    sessions,
    backend: started?.backend.name,
    tokens: Math.round(tokens),
    trainMs,
    tokensPerSecond: trainMs > 0 ? (tokens * 1000) / trainMs : 0,
    flopsPerSecond: trainMs > 0 ? (flops * 1000) / trainMs : 0,
    finalLoss: last ? { step: last.step, value: last.loss } : undefined,
    finalParts: last ? { mlm: last.mlmLoss, ...(last.nspLoss !== undefined ? { nsp: last.nspLoss } : {}) } : undefined,
    bestLoss: best,
    finalEval: evalList.at(-1),
    bestEval,
    checkpoint,
    done,
    started,
    warnings,
  };
}

/** The summary rows, `label  value`, shared by `train` and `eval`. */
export function summaryRows(s: RunSummary): [string, string][] {
  const rows: [string, string][] = [];
  rows.push(['steps', `${s.steps}${s.totalSteps !== undefined ? ` of ${s.totalSteps}` : ''} (${exact(s.tokens)} tokens${s.sessions > 1 ? `, ${s.sessions} sessions` : ''})`]);
  if (s.finalLoss && s.bestLoss) rows.push(['train loss', `${metric(s.finalLoss.value)} final (step ${s.finalLoss.step}), ${metric(s.bestLoss.value)} best (step ${s.bestLoss.step})`]);
  else rows.push(['train loss', '– (no steps recorded)']);
  if (s.finalParts?.nsp !== undefined) rows.push(['', `= MLM ${metric(s.finalParts.mlm)} + NSP ${metric(s.finalParts.nsp)} at step ${s.steps}`]);
  if (s.finalEval && s.bestEval) {
    const acc = `MLM accuracy ${fraction(s.finalEval.mlmAccuracy)}${s.finalEval.nspAccuracy !== undefined ? `, NSP accuracy ${fraction(s.finalEval.nspAccuracy)}` : ''}`;
    rows.push(['val loss', `${metric(s.finalEval.loss)} final (step ${s.finalEval.step}), ${metric(s.bestEval.loss)} best (step ${s.bestEval.step}); ${acc}`]);
  } else rows.push(['val loss', '– (not evaluated yet)']);
  if (s.trainMs > 0) {
    const flops = s.flopsPerSecond > 0 ? `, ${(s.flopsPerSecond / 1e9).toPrecision(3)} GFLOP/s achieved` : '';
    rows.push(['throughput', `${rate(s.tokensPerSecond)} tokens/s${flops}${s.backend ? ` (${s.backend})` : ''}`]);
  }
  return rows;
}

export function printRows(io: CliIo, rows: [string, string][], write: (text: string) => void = io.out): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) write(`  ${io.color.cyan(label.padEnd(width))}  ${value}\n`);
}
