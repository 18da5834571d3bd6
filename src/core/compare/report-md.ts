/**
 * The sweep report as Markdown (`report.md`), pure: the sweep and where it ran, a table per group, the Pareto front,
 * the crossing table, the plain-words summary, the notes, and the charts (the SVG files beside it).
 */
import { count, duration, si } from '../../format';
import type { CrossingComparison } from './crossing';
import type { GroupRow, SweepReport } from './report';
import { lossAxisTitle } from './report-svg';

export interface SweepReportMeta {
  /** The sweep's name. */
  sweep: string;
  /** The exact command that wrote the report. */
  command: string;
  /** When (ISO 8601). */
  date: string;
  /** The sweep file. */
  file?: string;
  /** Training FLOPs per run. */
  flopBudget?: number;
  /** The machine, in words (CPU, cores, memory, GPU). */
  machine?: string;
  /** The engine and backend that trained. */
  engine?: string;
  /** Versions: app, node, python, torch, tfjs… */
  versions?: Readonly<Record<string, string | undefined>>;
  /** The chart files beside report.md (default: loss-vs-flops.svg and loss-vs-time.svg). */
  charts?: { flops: string; time: string };
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const loss = (x: number): string => x.toFixed(3);
const flops = (x: number): string => si(x, 'FLOP');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function groupRow(g: GroupRow): string[] {
  const steps = g.steps === undefined ? '–' : `${Math.round(g.steps)}${g.plannedSteps !== undefined && !g.complete ? ` of ${g.plannedSteps}` : ''}`;
  return [
    `${g.pareto ? '**' : ''}${g.group}${g.pareto ? '**' : ''}`,
    g.family === 'bert' ? 'BERT' : 'GroupBERT',
    g.seeds.join(', '),
    si(g.params),
    flops(g.trainingFlopsPerToken),
    g.finalLoss ? `${loss(g.finalLoss.mean)} ± ${loss(g.finalLoss.spread)}` : '–',
    steps,
    g.tokens === undefined ? '–' : count(Math.round(g.tokens)),
    g.flops === undefined ? '–' : flops(g.flops),
    g.trainingMs === undefined ? '–' : duration(g.trainingMs),
    g.pareto ? 'yes' : '',
  ];
}

function reachCells(c: CrossingComparison, show: (x: number) => string): [string, string] {
  if (!c.crossing.reached) return ['not reached', '–'];
  const at = `${c.crossing.atStart ? '≤ ' : ''}${show(c.crossing.x)}`;
  return [at, c.ratio === undefined ? '–' : `${c.crossing.atStart ? '≤ ' : ''}${c.ratio.toFixed(2)}×`];
}

/** report.md's text. */
export function renderReportMarkdown(report: SweepReport, meta: SweepReportMeta): string {
  const charts = meta.charts ?? { flops: 'loss-vs-flops.svg', time: 'loss-vs-time.svg' };
  const out: string[] = [];
  out.push(`# Sweep report: ${meta.sweep}`, '');
  const facts: [string, string | undefined][] = [
    ['Sweep file', meta.file && `\`${meta.file}\``],
    ['Command', `\`${meta.command}\``],
    ['Date', meta.date],
    ['FLOP budget per run', meta.flopBudget === undefined ? undefined : `${flops(meta.flopBudget)} (${meta.flopBudget.toExponential(3)})`],
    ['Machine', meta.machine],
    ['Engine', meta.engine],
    [
      'Versions',
      meta.versions &&
        Object.entries(meta.versions)
          .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
    ],
  ];
  for (const [k, v] of facts) if (v) out.push(`- ${k}: ${v}`);
  out.push('');

  out.push('## Summary', '');
  if (report.summary.length === 0) out.push('No run has an evaluation yet: nothing to compare.');
  for (const s of report.summary) out.push(`- ${s}`);
  out.push('');

  out.push('## Groups', '');
  out.push(
    `One row per group (a run name without its seed). Final loss: the ${lossAxisTitle(report)} at the last evaluation step every seed has, ` +
      'mean ± spread (half the range over the seeds; ± 0 with one seed). Steps, tokens, FLOPs and time: means over the seeds. ' +
      'Bold: on the Pareto front.',
    '',
  );
  out.push(table(['Group', 'Family', 'Seeds', 'Parameters', 'FLOPs per token (training)', 'Final loss', 'Steps', 'Tokens', 'Training FLOPs', 'Training time', 'Pareto'], report.groups.map(groupRow)));
  out.push('');

  out.push('## Pareto front', '');
  out.push(
    report.pareto.length === 0
      ? 'No group has a final loss yet.'
      : `Groups that no other group beats on both training FLOPs per token and final loss (none costs no more with a lower loss, or less with no higher loss): ${report.pareto.map((p) => `**${p}**`).join(', ')}.`,
  );
  out.push('');

  out.push('## Crossings', '');
  if (report.crossings.length === 0) {
    out.push('No crossing table: it needs at least one GroupBERT-family group and one BERT-family group with evaluations.');
  } else {
    out.push(
      "For each GroupBERT-family group and each BERT-family group: the training FLOPs and time at which the GroupBERT group's mean curve " +
        "(over its seeds, on their shared evaluation steps) first reaches the BERT group's final mean loss, interpolated between evaluations, " +
        "and that as a ratio of what the BERT group spent (below 1: reached with less). ≤: already there at the first evaluation.",
      '',
    );
    out.push(
      table(
        ['GroupBERT group', 'BERT group', "BERT's final loss", 'FLOPs to reach it', "× BERT's FLOPs", 'Time to reach it', "× BERT's time", "GroupBERT's final loss"],
        report.crossings.map((c) => {
          const [fx, fr] = reachCells(c.flops, flops);
          const [tx, tr] = reachCells(c.time, duration);
          return [c.groupbert, c.bert, loss(c.target), fx, fr, tx, tr, `${loss(c.groupbertFinal.mean)} ± ${loss(c.groupbertFinal.spread)}`];
        }),
      ),
    );
  }
  out.push('');

  out.push('## Charts', '');
  out.push(`![Validation loss against training FLOPs](${charts.flops})`, '', `![Validation loss against training time](${charts.time})`, '');
  out.push('One line per run; the seeds of a group share a colour (BERT-family dashed); circles: the Pareto front\'s final mean points.', '');

  out.push('## Runs', '');
  out.push(
    table(
      ['Run', 'Group', 'Seed', 'Evaluations', 'Last evaluation', 'Steps'],
      report.runs.map((r) => {
        const last = r.curve[r.curve.length - 1];
        return [
          r.id,
          r.group,
          String(r.seed),
          String(r.curve.length),
          last ? `${loss(last.loss)} at step ${last.step}` : '–',
          `${r.final?.step ?? 0}${r.plannedSteps !== undefined ? ` of ${r.plannedSteps}` : ''}`,
        ];
      }),
    ),
  );
  out.push('');
  if (report.notes.length) {
    out.push('## Notes', '');
    for (const n of report.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
