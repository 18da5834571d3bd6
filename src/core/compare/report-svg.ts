/**
 * The sweep report's charts as SVG text, pure: validation loss against training FLOPs or training time, log-x, one
 * line per run (the seeds of a group share a colour; BERT-family groups dashed, GroupBERT-family solid), axis titles
 * and ticks, a legend, and the Pareto front's groups marked at their final mean point.
 *
 * Hand-written rather than through a chart library: the charts are two line plots, and the libraries that render
 * SVG headless in Node (vega + vega-lite: ~20 MB of dependencies, an asynchronous view) cost more than these
 * ~250 lines; this way the output is deterministic text (testable as XML) and lives in the pure core. Text uses
 * "DejaVu Sans" (the PNG rasteriser is given that font where the system has it) with generic fallbacks.
 */
import type { SweepReport, SweepRunInput } from './report';

export type ChartAxis = 'flops' | 'time';

export const CHART_WIDTH = 960;
export const CHART_MIN_HEIGHT = 560;
const M = { left: 78, top: 48, right: 250, bottom: 64 };
const FONT = "'DejaVu Sans', Verdana, Arial, sans-serif";
/** Tableau 10: distinct, colour-blind-aware hues. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const DASHES = ['', '2 3', '8 3 2 3'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const n2 = (x: number): string => (Math.round(x * 100) / 100).toString();
/** A number without floating noise: 3 significant digits. */
const clean = (x: number): number => Number(x.toPrecision(3));

const SI: [number, string][] = [
  [1e18, 'E'],
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** An axis tick of FLOPs: "200 GFLOP", "1 TFLOP". */
export function flopsTick(v: number): string {
  for (const [scale, p] of SI) if (v >= scale) return `${clean(v / scale)} ${p}FLOP`;
  return `${clean(v)} FLOP`;
}

/** An axis tick of time given in seconds: "500 ms", "30 s", "2 min", "1.5 h", "2 d". */
export function timeTick(seconds: number): string {
  if (seconds < 1) return `${clean(seconds * 1000)} ms`;
  if (seconds < 60) return `${clean(seconds)} s`;
  if (seconds < 3600) return `${clean(seconds / 60)} min`;
  if (seconds < 86400) return `${clean(seconds / 3600)} h`;
  return `${clean(seconds / 86400)} d`;
}

/** Candidate tick values for a log axis over [lo, hi] (values, not logs): mantissas × powers of ten. */
function decadeTicks(lo: number, hi: number, mantissas: readonly number[]): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)); k++) for (const m of mantissas) out.push(clean(m * 10 ** k));
  return out;
}

/** Seconds that read well as times: 1-2-5 below a minute, then minutes, hours, days. */
function timeCandidates(lo: number, hi: number, fine: boolean): number[] {
  const subMinute = decadeTicks(Math.min(lo, 1e-3), Math.min(Math.max(hi, 1), 60), fine ? [1, 2, 3, 4, 5, 6, 8] : [1, 2, 5]).filter((v) => v <= 30 || (fine && v <= 45));
  const minutes = (fine ? [1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 45] : [1, 2, 5, 10, 20, 30]).map((m) => m * 60);
  const hours = (fine ? [1, 1.5, 2, 3, 4, 6, 8, 12, 18] : [1, 2, 4, 8, 12]).map((h) => h * 3600);
  const days = decadeTicks(1, Math.max(1, hi / 86400), fine ? [1, 1.5, 2, 3, 5, 7] : [1, 2, 5]).filter((d) => d >= 1).map((d) => d * 86400);
  return [...subMinute, ...minutes, ...hours, ...days].sort((a, b) => a - b);
}

/** Ticks within [lo, hi] from the coarse candidates, the fine ones when the coarse give fewer than 3; at most 9. */
export function logTicks(lo: number, hi: number, candidates: (fine: boolean) => number[]): number[] {
  const within = (fine: boolean) => [...new Set(candidates(fine))].filter((v) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)).sort((a, b) => a - b);
  let ticks = within(false);
  if (ticks.length < 3) ticks = within(true);
  if (ticks.length > 9) {
    const every = Math.ceil(ticks.length / 9);
    ticks = ticks.filter((_, i) => i % every === 0);
  }
  return ticks;
}

/** Nice linear ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi], about `count` of them. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Series {
  run: SweepRunInput;
  color: string;
  dash: string;
  points: { x: number; y: number }[];
}

/** The chart's y title: what the loss is. */
export function lossAxisTitle(report: SweepReport): string {
  return report.lossIncludesNsp ? 'validation loss (MLM + NSP where the model has an NSP head)' : 'validation MLM loss';
}

/** The chart of every run's validation loss against training FLOPs or training time (log-x), as SVG text. */
export function renderLossSvg(report: SweepReport, axis: ChartAxis): string {
  const xOf = (p: { flops: number; trainingMs: number }): number => (axis === 'flops' ? p.flops : p.trainingMs / 1000);
  const groupIndex = new Map(report.groups.map((g, i) => [g.group, i]));
  const styleOf = (group: string, family: string) => {
    const i = groupIndex.get(group) ?? 0;
    return { color: PALETTE[i % PALETTE.length]!, dash: family === 'bert' ? '7 4' : DASHES[Math.floor(i / PALETTE.length) % DASHES.length]! };
  };
  let dropped = 0;
  const series: Series[] = report.runs.map((run) => {
    const points = run.curve.map((p) => ({ x: xOf(p), y: p.loss })).filter((p) => p.x > 0);
    dropped += run.curve.length - points.length;
    return { run, ...styleOf(run.group, run.family), points };
  });
  const marks = report.groups
    .filter((g) => g.pareto && g.meanCurve.length > 0)
    .map((g) => ({ group: g.group, x: xOf(g.meanCurve[g.meanCurve.length - 1]!), y: g.finalLoss!.mean, ...styleOf(g.group, g.family) }))
    .filter((m) => m.x > 0);

  const all = [...series.flatMap((s) => s.points), ...marks];
  const legendRows = report.groups.length + (marks.length ? 1 : 0);
  const height = Math.max(CHART_MIN_HEIGHT, M.top + 28 + legendRows * 36 + M.bottom);
  const pw = CHART_WIDTH - M.left - M.right;
  const ph = height - M.top - M.bottom;
  const xTitle = axis === 'flops' ? 'training FLOPs (log scale)' : 'training time (log scale)';
  const yTitle = lossAxisTitle(report);
  const title = `${report.lossIncludesNsp ? 'Validation loss' : 'Validation MLM loss'} against training ${axis === 'flops' ? 'FLOPs' : 'time'}`;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${height}" viewBox="0 0 ${CHART_WIDTH} ${height}" font-family="${esc(FONT)}">`);
  out.push(`<rect x="0" y="0" width="${CHART_WIDTH}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${M.left}" y="28" font-size="17" font-weight="bold" fill="#222">${esc(title)}</text>`);
  out.push(`<defs><clipPath id="plot"><rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);

  if (all.length === 0) {
    out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle" font-size="14" fill="#555">No evaluations to plot yet.</text>`);
  } else {
    let [xlo, xhi] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
    let [lx0, lx1] = [Math.log10(xlo), Math.log10(xhi)];
    const lspan = Math.max(lx1 - lx0, 0.3);
    const lmid = (lx0 + lx1) / 2;
    [lx0, lx1] = lx1 - lx0 < 0.3 ? [lmid - lspan / 2, lmid + lspan / 2] : [lx0, lx1];
    [lx0, lx1] = [lx0 - 0.04 * lspan, lx1 + 0.04 * lspan];
    [xlo, xhi] = [10 ** lx0, 10 ** lx1];
    let [ylo, yhi] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
    const ypad = (yhi - ylo) * 0.06 || 0.5;
    [ylo, yhi] = [ylo - ypad, yhi + ypad];
    const X = (x: number): number => M.left + ((Math.log10(x) - lx0) / (lx1 - lx0)) * pw;
    const Y = (y: number): number => M.top + (1 - (y - ylo) / (yhi - ylo)) * ph;

    const xTicks = logTicks(xlo, xhi, axis === 'flops' ? (fine) => decadeTicks(xlo, xhi, fine ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1, 2, 5]) : (fine) => timeCandidates(xlo, xhi, fine));
    const yTicks = linearTicks(ylo, yhi).filter((v) => v >= ylo && v <= yhi);
    out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
    for (const t of xTicks) out.push(`<line x1="${n2(X(t))}" y1="${M.top}" x2="${n2(X(t))}" y2="${M.top + ph}"/>`);
    for (const t of yTicks) out.push(`<line x1="${M.left}" y1="${n2(Y(t))}" x2="${M.left + pw}" y2="${n2(Y(t))}"/>`);
    out.push('</g>');
    out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
    out.push('<g class="x-ticks" font-size="12" fill="#333" text-anchor="middle">');
    for (const t of xTicks) {
      out.push(`<line x1="${n2(X(t))}" y1="${M.top + ph}" x2="${n2(X(t))}" y2="${M.top + ph + 5}" stroke="#888"/>`);
      out.push(`<text x="${n2(X(t))}" y="${M.top + ph + 19}">${esc(axis === 'flops' ? flopsTick(t) : timeTick(t))}</text>`);
    }
    out.push('</g>');
    out.push('<g class="y-ticks" font-size="12" fill="#333" text-anchor="end">');
    for (const t of yTicks) {
      out.push(`<line x1="${M.left - 5}" y1="${n2(Y(t))}" x2="${M.left}" y2="${n2(Y(t))}" stroke="#888"/>`);
      out.push(`<text x="${M.left - 8}" y="${n2(Y(t) + 4)}">${esc(String(t))}</text>`);
    }
    out.push('</g>');

    out.push('<g class="runs" clip-path="url(#plot)" fill="none" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round">');
    for (const s of series) {
      if (s.points.length === 0) continue;
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n2(X(p.x))} ${n2(Y(p.y))}`).join(' ') + (s.points.length === 1 ? ' l0 0' : '');
      out.push(`<path class="run" data-run="${esc(s.run.id)}" data-group="${esc(s.run.group)}" d="${d}" stroke="${s.color}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(`${s.run.id} (seed ${s.run.seed})`)}</title></path>`);
    }
    out.push('</g>');
    out.push('<g class="pareto" stroke="#111" stroke-width="1.6">');
    for (const m of marks) out.push(`<circle data-group="${esc(m.group)}" cx="${n2(X(m.x))}" cy="${n2(Y(m.y))}" r="6" fill="${m.color}"><title>${esc(`${m.group}: Pareto front, final mean loss ${m.y}`)}</title></circle>`);
    out.push('</g>');
  }

  out.push(`<text class="x-title" x="${M.left + pw / 2}" y="${height - 18}" text-anchor="middle" font-size="13" fill="#222">${esc(xTitle)}</text>`);
  out.push(`<text class="y-title" transform="translate(20 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222">${esc(yTitle)}</text>`);
  if (dropped > 0) out.push(`<text x="${M.left + pw}" y="${height - 18}" text-anchor="end" font-size="10" fill="#777">${dropped} evaluation${dropped === 1 ? '' : 's'} at 0 (before the first step) not drawn on the log axis</text>`);

  const lx = CHART_WIDTH - M.right + 18;
  out.push(`<g class="legend" font-size="12" fill="#222">`);
  out.push(`<text x="${lx}" y="${M.top + 4}" font-weight="bold">Groups</text>`);
  const ROW = 36;
  report.groups.forEach((g, i) => {
    const y = M.top + 28 + i * ROW;
    const st = styleOf(g.group, g.family);
    const name = g.group.length > 28 ? `${g.group.slice(0, 27)}…` : g.group;
    const sub = `${g.family === 'bert' ? 'BERT' : 'GroupBERT'} family, ${g.seeds.length} seed${g.seeds.length === 1 ? '' : 's'}`;
    out.push(`<line x1="${lx}" y1="${y - 4}" x2="${lx + 26}" y2="${y - 4}" stroke="${st.color}" stroke-width="2.5"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`);
    out.push(`<text x="${lx + 32}" y="${y}">${esc(name)}</text>`);
    out.push(`<text x="${lx + 32}" y="${y + 14}" font-size="10.5" fill="#666">${esc(sub)}</text>`);
  });
  if (marks.length) {
    const y = M.top + 28 + report.groups.length * ROW;
    out.push(`<circle cx="${lx + 13}" cy="${y - 4}" r="6" fill="#fff" stroke="#111" stroke-width="1.6"/>`);
    out.push(`<text x="${lx + 32}" y="${y}">Pareto front</text>`);
    out.push(`<text x="${lx + 32}" y="${y + 14}" font-size="10.5" fill="#666">final mean loss over the seeds</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
