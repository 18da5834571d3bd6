/**
 * The sweep report's analysis (docs/sweeps.md, "The report"), pure: from each run's evaluation curve (validation
 * loss at each evaluated step, with the training FLOPs, time and tokens spent through that step: src/run-format
 * `runEvalCurve` gives it from metrics.jsonl through totals.ts) to
 *   - one row per group (the run name without the seed): parameters, training FLOPs per token, the final validation
 *     loss as mean ± spread (half the range) over the seeds, steps, tokens, training time;
 *   - the Pareto front over (training FLOPs per token, final loss) (pareto.ts);
 *   - the crossing table: every GroupBERT-family group × every BERT-family group, the FLOPs and time the GroupBERT
 *     group's mean curve needs to reach the BERT group's final mean loss, and the ratios (crossing.ts);
 *   - plain-words sentences of what the runs show, whoever wins.
 *
 * A group's mean curve is the mean over its seeds at the evaluation steps every seed has (loss, FLOPs, time and
 * tokens each averaged); its final point is the last such step, and the group's final loss (mean ± spread) is taken
 * there, so the table, the crossings and the charts agree. Runs still going (or stopped early) are reported as they
 * stand, with their steps against the planned steps.
 */
import { compareAtFinalLoss, type CrossingComparison, type CurvePoint } from './crossing';
import { paretoFront } from './pareto';

export type SweepFamily = 'bert' | 'groupbert';

/** One evaluation of a run: the validation loss and what the run had spent through that step. */
export interface EvalCurvePoint {
  step: number;
  /** Validation loss: the MLM loss, or MLM + NSP where the run's eval events carry only the total (`lossIncludesNsp`). */
  loss: number;
  tokens: number;
  /** Training FLOPs through this step (cost model). */
  flops: number;
  /** Training time through this step, ms (the sum of step times). */
  trainingMs: number;
}

/** What a run had spent through its last kept step (src/run-format `StepTotals`). */
export interface RunFinalTotals {
  step: number;
  tokens: number;
  flops: number;
  trainingMs: number;
}

export interface SweepRunInput {
  id: string;
  /** The run's name in the sweep without the seed: its group. */
  group: string;
  seed: number;
  family: SweepFamily;
  params: number;
  /** Training FLOPs per token (forward + backward, cost model). */
  trainingFlopsPerToken: number;
  /** The run's evaluations, ascending by step. */
  curve: readonly EvalCurvePoint[];
  /** Totals through the last step the run kept (absent before its first step). */
  final?: RunFinalTotals;
  /** The steps the plan gives the run (its FLOP budget's). */
  plannedSteps?: number;
  /** The eval loss is MLM + NSP (the run has an NSP head and its eval events carry only the total). */
  lossIncludesNsp?: boolean;
}

export interface MeanCurvePoint extends EvalCurvePoint {
  /** The seeds' losses at this step, in the group's seed order. */
  losses: number[];
}

export interface LossStat {
  mean: number;
  /** Half the range over the seeds (0 with one seed). */
  spread: number;
  values: number[];
  /** The step it was taken at: the last evaluation step every seed has. */
  step: number;
}

export interface GroupRow {
  group: string;
  family: SweepFamily;
  seeds: number[];
  runIds: string[];
  params: number;
  trainingFlopsPerToken: number;
  /** Final validation loss over the seeds; absent before every seed has an evaluation in common. */
  finalLoss?: LossStat;
  /** Means over the seeds of their last kept step's totals (absent before any step). */
  steps?: number;
  tokens?: number;
  flops?: number;
  trainingMs?: number;
  plannedSteps?: number;
  /** Every seed reached its planned steps (true when none are planned and every seed has stepped). */
  complete: boolean;
  pareto: boolean;
  meanCurve: MeanCurvePoint[];
}

export interface CrossingRow {
  /** The GroupBERT-family group and the BERT-family group it is measured against. */
  groupbert: string;
  bert: string;
  /** The BERT group's final mean loss: the target. */
  target: number;
  /** Against training FLOPs and against training time (the same losses, so reached on both or neither). */
  flops: CrossingComparison;
  time: CrossingComparison;
  /** The GroupBERT group's own final mean loss. */
  groupbertFinal: LossStat;
  bertFinal: LossStat;
  sentence: string;
}

export interface SweepReport {
  groups: GroupRow[];
  /** Groups on the Pareto front over (training FLOPs per token, final loss), in table order. */
  pareto: string[];
  crossings: CrossingRow[];
  /** Plain-words sentences: the crossings', then the overall picture. */
  summary: string[];
  /** Caveats the reader needs (losses with NSP, runs without evaluations, incomplete runs). */
  notes: string[];
  /** Some run's eval loss is MLM + NSP. */
  lossIncludesNsp: boolean;
  /** The runs as given (the charts draw one line each). */
  runs: readonly SweepRunInput[];
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function checkRun(r: SweepRunInput): void {
  const where = `run ${r.id}`;
  if (!r.id || !r.group) throw new RangeError(`${where}: a run needs an id and a group`);
  if (!Number.isFinite(r.params) || !Number.isFinite(r.trainingFlopsPerToken)) throw new RangeError(`${where}: parameters and FLOPs per token must be finite numbers`);
  let prev: EvalCurvePoint | undefined;
  for (const p of r.curve) {
    for (const k of ['step', 'loss', 'tokens', 'flops', 'trainingMs'] as const) {
      if (!Number.isFinite(p[k])) throw new RangeError(`${where}: evaluation at step ${p.step} has a non-finite ${k} (${p[k]})`);
    }
    if (prev && p.step <= prev.step) throw new RangeError(`${where}: evaluation steps must increase, but step ${p.step} comes after step ${prev.step}`);
    prev = p;
  }
}

/** The mean over seeds at the evaluation steps every seed has. */
export function meanCurve(curves: readonly (readonly EvalCurvePoint[])[]): MeanCurvePoint[] {
  if (curves.length === 0) return [];
  const bySteps = curves.map((c) => new Map(c.map((p) => [p.step, p])));
  const shared = curves[0]!.map((p) => p.step).filter((s) => bySteps.every((m) => m.has(s)));
  return shared.map((step) => {
    const pts = bySteps.map((m) => m.get(step)!);
    const losses = pts.map((p) => p.loss);
    return { step, loss: mean(losses), tokens: mean(pts.map((p) => p.tokens)), flops: mean(pts.map((p) => p.flops)), trainingMs: mean(pts.map((p) => p.trainingMs)), losses };
  });
}

function lossStat(p: MeanCurvePoint): LossStat {
  return { mean: p.loss, spread: (Math.max(...p.losses) - Math.min(...p.losses)) / 2, values: p.losses, step: p.step };
}

/** A loss for sentences: two decimals ("6.12"), three when two would hide a difference below 0.01. */
export function lossWords(x: number, fine = false): string {
  return x.toFixed(fine ? 3 : 2);
}

/** A ratio as "0.47×". */
export function ratioWords(r: number): string {
  return `${r.toFixed(2)}×`;
}

function crossingSentence(g: GroupRow, b: GroupRow, flops: CrossingComparison, time: CrossingComparison): string {
  const gf = g.finalLoss!;
  const bf = b.finalLoss!;
  const fine = Math.abs(bf.mean - gf.mean) < 0.01;
  const target = lossWords(bf.mean, fine);
  const c = flops.crossing;
  if (c.reached) {
    const ratios = `${ratioWords(flops.ratio ?? NaN)} its FLOPs and ${ratioWords(time.ratio ?? NaN)} its time`;
    if (c.atStart) return `${g.group} was already at or below ${b.group}'s final loss (${target}) at its first evaluation: at most ${ratios}.`;
    const verdict = (flops.ratio ?? 1) < 1 ? '' : ` (no FLOP saving)`;
    return `${g.group} reached ${b.group}'s final loss (${target}) at ${ratios}${verdict}.`;
  }
  const gap = gf.mean - bf.mean;
  const pct = (100 * gap) / bf.mean;
  const pctWords = pct < 1 ? pct.toFixed(1) : pct.toFixed(0);
  const by = g.complete ? 'by the end of its budget' : `by its last evaluation (step ${gf.step}${g.plannedSteps ? ` of ${g.plannedSteps}` : ''})`;
  const noise = gap <= gf.spread + bf.spread ? `, within the seeds' spread (±${lossWords(gf.spread, fine)} and ±${lossWords(bf.spread, fine)})` : '';
  return `${g.group} did not reach ${b.group}'s final loss (${target}) ${by}: its final loss was ${lossWords(gf.mean, fine)}, ${lossWords(gap, fine)} (${pctWords} %) above${noise}.`;
}

/** The report's analysis of a sweep's runs. Throws a one-line RangeError on malformed input (non-finite numbers). */
export function buildSweepReport(runs: readonly SweepRunInput[]): SweepReport {
  for (const r of runs) checkRun(r);
  const ids = new Set<string>();
  for (const r of runs) {
    if (ids.has(r.id)) throw new RangeError(`run ${r.id} is listed twice`);
    ids.add(r.id);
  }
  const notes: string[] = [];
  const order: string[] = [];
  const byGroup = new Map<string, SweepRunInput[]>();
  for (const r of runs) {
    if (!byGroup.has(r.group)) {
      byGroup.set(r.group, []);
      order.push(r.group);
    }
    byGroup.get(r.group)!.push(r);
  }

  const groups: GroupRow[] = order.map((name) => {
    const members = [...byGroup.get(name)!].sort((a, b) => a.seed - b.seed);
    const first = members[0]!;
    const families = new Set(members.map((m) => m.family));
    if (families.size > 1) throw new RangeError(`group ${name}: its runs are of different families (${[...families].join(', ')})`);
    const withEvals = members.filter((m) => m.curve.length > 0);
    for (const m of members) if (m.curve.length === 0) notes.push(`${m.id} has no evaluation yet: it is left out of ${name}'s mean curve.`);
    const curve = meanCurve(withEvals.map((m) => m.curve));
    const last = curve[curve.length - 1];
    if (withEvals.length > 0 && !last) notes.push(`${name}'s seeds have no evaluation step in common yet: the group has no final loss.`);
    const finals = members.map((m) => m.final).filter((f): f is RunFinalTotals => f !== undefined);
    const planned = members.map((m) => m.plannedSteps).filter((s): s is number => s !== undefined);
    const plannedSteps = planned.length ? Math.max(...planned) : undefined;
    const complete = members.every((m) => m.final !== undefined && (m.plannedSteps === undefined || m.final.step >= m.plannedSteps));
    if (last) {
      const lastSteps = withEvals.map((m) => m.curve[m.curve.length - 1]!.step);
      if (lastSteps.some((s) => s !== last.step)) notes.push(`${name}: the seeds' last evaluations differ (steps ${lastSteps.join(', ')}); its final loss is at step ${last.step}, the last they share.`);
    }
    if (!complete) notes.push(`${name} is not complete (${members.map((m) => `${m.id}: step ${m.final?.step ?? 0}${m.plannedSteps !== undefined ? ` of ${m.plannedSteps}` : ''}`).join('; ')}).`);
    return {
      group: name,
      family: first.family,
      seeds: members.map((m) => m.seed),
      runIds: members.map((m) => m.id),
      params: first.params,
      trainingFlopsPerToken: first.trainingFlopsPerToken,
      ...(last ? { finalLoss: lossStat(last) } : {}),
      ...(finals.length
        ? { steps: mean(finals.map((f) => f.step)), tokens: mean(finals.map((f) => f.tokens)), flops: mean(finals.map((f) => f.flops)), trainingMs: mean(finals.map((f) => f.trainingMs)) }
        : {}),
      ...(plannedSteps !== undefined ? { plannedSteps } : {}),
      complete,
      pareto: false,
      meanCurve: curve,
    };
  });

  const scored = groups.filter((g) => g.finalLoss);
  const pareto = paretoFront(scored.map((g) => ({ id: g.group, cost: g.trainingFlopsPerToken, loss: g.finalLoss!.mean })));
  for (const g of groups) g.pareto = pareto.includes(g.group);

  const crossings: CrossingRow[] = [];
  const asCurve = (c: readonly MeanCurvePoint[], x: 'flops' | 'trainingMs'): CurvePoint[] => c.map((p) => ({ x: p[x], y: p.loss }));
  for (const g of scored.filter((s) => s.family === 'groupbert')) {
    for (const b of scored.filter((s) => s.family === 'bert')) {
      const flops = compareAtFinalLoss(asCurve(b.meanCurve, 'flops'), asCurve(g.meanCurve, 'flops'))!;
      const time = compareAtFinalLoss(asCurve(b.meanCurve, 'trainingMs'), asCurve(g.meanCurve, 'trainingMs'))!;
      crossings.push({ groupbert: g.group, bert: b.group, target: b.finalLoss!.mean, flops, time, groupbertFinal: g.finalLoss!, bertFinal: b.finalLoss!, sentence: crossingSentence(g, b, flops, time) });
    }
  }

  const summary = crossings.map((c) => c.sentence);
  if (scored.length > 0) {
    const best = scored.reduce((a, b) => (b.finalLoss!.mean < a.finalLoss!.mean ? b : a));
    const ties = scored.filter((g) => g.finalLoss!.mean === best.finalLoss!.mean).map((g) => g.group);
    summary.push(`Lowest final loss: ${ties.join(', ')} (${lossWords(best.finalLoss!.mean)}${best.seeds.length > 1 ? ` ± ${lossWords(best.finalLoss!.spread)}` : ''}).`);
    summary.push(`Pareto front (FLOPs per token against final loss): ${pareto.join(', ')}.`);
  }
  if (crossings.length > 0) {
    const saving = crossings.filter((c) => c.flops.ratio !== undefined && c.flops.ratio < 1).length;
    const halved = crossings.filter((c) => c.flops.ratio !== undefined && c.flops.ratio < 0.5).length;
    summary.push(
      saving === 0
        ? `No GroupBERT-family group reached a BERT-family group's final loss with fewer FLOPs (${crossings.length} pairing${crossings.length === 1 ? '' : 's'}).`
        : `GroupBERT-family groups reached the BERT-family group's final loss with fewer FLOPs in ${saving} of ${crossings.length} pairing${crossings.length === 1 ? '' : 's'}` +
            `${halved > 0 ? `, with less than half the FLOPs in ${halved}` : ', never with less than half the FLOPs'}.`,
    );
  } else if (scored.length > 0) {
    summary.push(`No crossing table: it needs a GroupBERT-family and a BERT-family group with evaluations (this sweep has ${[...new Set(scored.map((g) => g.family))].map((f) => (f === 'bert' ? 'BERT-family' : 'GroupBERT-family')).join(' and ')} groups only).`);
  }
  const lossIncludesNsp = runs.some((r) => r.lossIncludesNsp);
  if (lossIncludesNsp) {
    const which = [...new Set(runs.filter((r) => r.lossIncludesNsp).map((r) => r.group))];
    notes.unshift(
      which.length === groups.length
        ? 'The validation loss here is MLM + NSP: the runs have an NSP head and their eval events carry only the total loss.'
        : `The validation loss of ${which.join(', ')} is MLM + NSP (an NSP head; their eval events carry only the total loss); the other groups' is the MLM loss alone, so compare those with care.`,
    );
  }
  return { groups, pareto, crossings, summary, notes, lossIncludesNsp, runs };
}
