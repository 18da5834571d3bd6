/**
 * Sweep: a sweep's runs (`convbert sweep`, docs/sweeps.md) live as they train: runs done of the total, validation
 * loss against training FLOPs (the cost model's, cumulative over the steps each run kept) on a log x-axis, one
 * line per run and one colour per group (the run name without its seed), a table of the runs, and the crossing
 * table when the host sends one. The runs and their points are the same the Loss view has (the host's snapshot
 * and its live `metrics`/`eval` messages); the sweep (`sweeps` message) only names them.
 */
import type { ChartDataset, TooltipItem } from 'chart.js';
import { axisColours, createChart, isOneTwoFive, linearAxis, tooltipColours, type Chart } from '../charts';
import type { AppContext, View } from '../context';
import { h, replaceChildren, uid } from '../dom';
import { duration, short, si } from '../../../src/format';
import type { SweepInfo } from '../../../src/protocol/webview';
import type { RunData } from '../state';
import { lossSeries, X_AXIS } from './loss';

type XY = { x: number; y: number };
export type SweepDataset = ChartDataset<'line', XY[]> & { role: 'val'; runId: string; group: string };

/** A run's group: its name in the sweep without the seed (`<sweep>--<run name>-s<seed>` → `<run name>`). */
export function sweepGroup(sweep: string, runId: string): string {
  const prefix = `${sweep}--`;
  return (runId.startsWith(prefix) ? runId.slice(prefix.length) : runId).replace(/-s\d+$/, '');
}

export interface SweepRow {
  id: string;
  group: string;
  run: RunData | undefined;
  /** Validation loss against training FLOPs (x > 0: the log axis). */
  val: XY[];
}

/** The rows of a sweep, in plan order; a run not on disk yet has no `run`. */
export function sweepRows(sweep: SweepInfo, runs: readonly RunData[]): SweepRow[] {
  return sweep.runIds.map((id) => {
    const run = runs.find((r) => r.info.id === id);
    return { id, group: sweepGroup(sweep.name, id), run, val: run ? lossSeries(run, 0, true, 'flops').val : [] };
  });
}

export class SweepView implements View {
  readonly element: HTMLElement;
  private readonly picker: HTMLSelectElement;
  private readonly status: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly chartBox: HTMLElement;
  private readonly runTable: HTMLElement;
  private readonly crossings: HTMLElement;
  private chart: Chart<'line', XY[]> | undefined;
  private chosen: string | undefined;

  constructor(private readonly ctx: AppContext) {
    const pickerId = uid('sweep');
    this.picker = h('select', { id: pickerId, 'data-control': 'sweep-pick' });
    this.picker.addEventListener('change', () => {
      this.chosen = this.picker.value;
      this.render();
    });
    this.status = h('span', { class: 'status', role: 'status', 'data-role': 'sweep-status' });
    this.empty = h('p', { class: 'empty', role: 'status' });
    this.canvas = h('canvas', { id: 'sweep-chart', role: 'img', 'aria-label': 'Validation loss against training FLOPs' });
    this.chartBox = h('div', { class: 'chart-box loss-chart' }, this.canvas);
    this.runTable = h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'The sweep\'s runs' });
    this.crossings = h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'Crossing table' });
    this.element = h(
      'section',
      { class: 'view sweep-view', 'aria-label': 'Sweep' },
      h('div', { class: 'toolbar' }, h('span', { class: 'field' }, h('label', { for: pickerId }, 'Sweep'), this.picker), this.status),
      this.empty,
      this.chartBox,
      this.runTable,
      this.crossings,
      h('p', { class: 'key' }, 'Validation loss against training FLOPs (the cost model\'s, log scale), one line per run, one colour per group (a run without its seed). Runs are the sweep\'s run directories (.convbert/runs/<id>/), live as they train.'),
    );
  }

  /** The sweep shown: the one picked, else the last listed. */
  private current(): SweepInfo | undefined {
    const sweeps = this.ctx.store.sweeps;
    return sweeps.find((s) => s.name === this.chosen) ?? sweeps[sweeps.length - 1];
  }

  render(): void {
    const { store } = this.ctx;
    const theme = this.ctx.theme();
    const sweeps = store.sweeps;
    replaceChildren(this.picker, ...sweeps.map((s) => h('option', { value: s.name }, s.name)));
    const sweep = this.current();
    this.picker.value = sweep?.name ?? '';
    this.picker.disabled = sweeps.length < 2;
    const message = !store.loaded ? 'Waiting for data from the extension…' : !sweep ? 'No sweeps yet. Open a *.sweep.json file and run ConvBERT: Run Sweep.' : '';
    this.empty.textContent = message;
    this.empty.hidden = message === '';
    const rows = sweep ? sweepRows(sweep, store.runs) : [];
    const done = rows.filter((r) => r.run?.info.state === 'completed').length;
    this.status.textContent = sweep ? `${done} of ${rows.length} runs done` : '';
    this.status.setAttribute('data-done', String(done));
    this.status.setAttribute('data-total', String(rows.length));

    const groups = [...new Set(rows.map((r) => r.group))];
    const colourOf = (group: string) => theme.series[groups.indexOf(group) % theme.series.length]!;
    const datasets: SweepDataset[] = rows.map((r) => ({
      label: r.id,
      role: 'val',
      runId: r.id,
      group: r.group,
      data: r.val,
      borderColor: colourOf(r.group),
      backgroundColor: colourOf(r.group),
      borderWidth: theme.lineWidth,
      pointRadius: 3,
    }));
    const axes = axisColours(theme);
    const x = {
      type: 'logarithmic' as const,
      title: { display: true, text: `${X_AXIS.flops.title} (log scale)`, ...axes.title },
      ticks: {
        ...axes.ticks,
        callback: (value: number | string) => (isOneTwoFive(Number(value)) ? si(Number(value), 'FLOP') : ''),
      },
      grid: axes.grid,
      border: axes.border,
    };
    const y = linearAxis(theme, 'validation loss');
    if (!this.chart) {
      this.chart = createChart<'line', XY[]>('sweep', this.canvas, {
        type: 'line',
        data: { datasets },
        options: {
          parsing: false,
          normalized: true,
          spanGaps: true,
          interaction: { mode: 'nearest', intersect: false },
          scales: { x, y },
          plugins: {
            legend: { display: true, position: 'bottom' },
            tooltip: {
              ...tooltipColours(theme),
              callbacks: {
                title: (items: TooltipItem<'line'>[]) => (items[0] ? X_AXIS.flops.format(items[0].parsed.x ?? NaN) : ''),
                label: (item: TooltipItem<'line'>) => `${item.dataset.label ?? ''}: ${short(item.parsed.y ?? NaN)}`,
              },
            },
          },
        },
      });
    } else {
      this.chart.data.datasets = datasets;
      this.chart.options.scales = { x, y };
      this.chart.update('none');
    }
    this.chartBox.hidden = !sweep;
    this.canvas.setAttribute('aria-label', sweep ? `Validation loss against training FLOPs of the ${rows.length} runs of ${sweep.name}: ${rows.map((r) => `${r.id} ${r.val.length} points`).join(', ')}` : 'No sweep');
    this.renderRunTable(rows);
    this.renderCrossings(sweep);
  }

  private renderRunTable(rows: SweepRow[]): void {
    if (rows.length === 0) {
      replaceChildren(this.runTable);
      this.runTable.hidden = true;
      return;
    }
    this.runTable.hidden = false;
    const head = h('thead', {}, h('tr', {}, ...['run', 'group', 'state', 'step', 'training FLOPs', 'training time', 'last validation loss'].map((t) => h('th', { scope: 'col' }, t))));
    const body = rows.map((r) => {
      const last = r.run?.points[r.run.points.length - 1];
      const lastVal = r.val[r.val.length - 1];
      const flops = last ? X_AXIS.flops.value(last) : undefined;
      const ms = last?.trainingMs;
      return h(
        'tr',
        { 'data-run-id': r.id },
        h('th', { scope: 'row' }, r.id),
        h('td', {}, r.group),
        h('td', { 'data-col': 'state' }, r.run?.info.state ?? 'not started'),
        h('td', { class: 'num' }, last ? String(last.step) : '–'),
        h('td', { class: 'num' }, flops !== undefined ? si(flops, 'FLOP') : '–'),
        h('td', { class: 'num' }, ms !== undefined ? duration(ms) : '–'),
        h('td', { class: 'num' }, lastVal ? short(lastVal.y) : '–'),
      );
    });
    replaceChildren(this.runTable, h('table', { class: 'compare-table sweep-runs' }, h('caption', {}, 'Runs'), head, h('tbody', {}, ...body)));
  }

  private renderCrossings(sweep: SweepInfo | undefined): void {
    const rows = sweep?.crossings ?? [];
    this.crossings.hidden = rows.length === 0;
    if (rows.length === 0) {
      replaceChildren(this.crossings);
      return;
    }
    const head = h('thead', {}, h('tr', {}, ...['GroupBERT group', 'BERT group', 'BERT final loss', 'FLOPs to reach it', '× BERT FLOPs', 'time to reach it', '× BERT time'].map((t) => h('th', { scope: 'col' }, t))));
    const body = rows.map((c) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, c.groupbert),
        h('td', {}, c.bert),
        h('td', { class: 'num' }, short(c.target)),
        h('td', { class: 'num' }, c.flops !== undefined ? si(c.flops, 'FLOP') : 'not reached'),
        h('td', { class: 'num' }, c.flopsRatio !== undefined ? c.flopsRatio.toFixed(2) : '–'),
        h('td', { class: 'num' }, c.timeMs !== undefined ? duration(c.timeMs) : 'not reached'),
        h('td', { class: 'num' }, c.timeRatio !== undefined ? c.timeRatio.toFixed(2) : '–'),
      ),
    );
    replaceChildren(this.crossings, h('table', { class: 'compare-table sweep-crossings' }, h('caption', {}, 'Crossings: compute a GroupBERT group needs to reach a BERT group\'s final validation loss'), head, h('tbody', {}, ...body)));
  }
}
