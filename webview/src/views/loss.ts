/**
 * Loss: training curves (EMA-smoothed, debiased like TensorBoard, over the faint raw curve) and validation
 * points, one colour per run, several runs overlaid; log-scale steps; PNG and CSV export.
 */
import type { ChartDataset, Plugin, TooltipItem } from 'chart.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import { axisColours, createChart, tooltipColours, type Chart } from '../charts';
import type { AppContext, View } from '../context';
import { h, replaceChildren, uid } from '../dom';
import { composePng, csv, safeFileName } from '../export';
import { short } from '../../../src/format';
import { runDetail, runLabel } from '../format';
import { emaDebiased } from '../smoothing';
import { MAX_SMOOTHING, type RunData } from '../state';
import { withAlpha } from '../theme';

type XY = { x: number; y: number };
export type LossRole = 'train-raw' | 'train' | 'val';
export type LossDataset = ChartDataset<'line', XY[]> & { role: LossRole; runId: string };

export interface LossSeries {
  run: RunData;
  train: XY[];
  smoothed: XY[];
  val: XY[];
}

/** The plotted series of a run: train loss (raw and smoothed) and validation loss, steps ≤ 0 left out on a log axis. */
export function lossSeries(run: RunData, smoothing: number, logX: boolean): LossSeries {
  const train: XY[] = [];
  const val: XY[] = [];
  for (const p of run.points) {
    if (logX && p.step <= 0) continue;
    if (p.loss !== undefined) train.push({ x: p.step, y: p.loss });
    if (p.valLoss !== undefined) val.push({ x: p.step, y: p.valLoss });
  }
  const ys = emaDebiased(
    train.map((p) => p.y),
    smoothing,
  );
  return { run, train, smoothed: train.map((p, i) => ({ x: p.x, y: ys[i]! })), val };
}

let firstChartMarked = false;
/** Marks `convbert:first-chart` once the first curve with data is drawn (read by the first-paint bench). */
const firstChartMark: Plugin<'line'> = {
  id: 'convbertFirstChart',
  afterRender(chart) {
    if (firstChartMarked || !chart.data.datasets.some((d) => d.data.length > 0)) return;
    firstChartMarked = true;
    performance.mark('convbert:first-chart');
  },
};

export class LossView implements View {
  readonly element: HTMLElement;
  private readonly slider: HTMLInputElement;
  private readonly sliderValue: HTMLOutputElement;
  private readonly logX: VscodeCheckbox;
  private readonly runList: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly chartBox: HTMLElement;
  private readonly empty: HTMLElement;
  private chart: Chart<'line', XY[]> | undefined;
  private series: LossSeries[] = [];

  constructor(private readonly ctx: AppContext) {
    const sliderId = uid('smoothing');
    this.slider = h('input', {
      id: sliderId,
      type: 'range',
      min: 0,
      max: MAX_SMOOTHING,
      step: 0.01,
      value: ctx.view.smoothing,
      'aria-describedby': `${sliderId}-help`,
    });
    this.sliderValue = h('output', { for: sliderId, class: 'value' }, ctx.view.smoothing.toFixed(2));
    this.slider.addEventListener('input', () => {
      ctx.view.smoothing = Math.min(Math.max(Number(this.slider.value), 0), MAX_SMOOTHING);
      ctx.saveView();
      this.render();
    });
    this.logX = h('vscode-checkbox', { id: uid('logx'), label: 'Log-scale steps' });
    this.logX.checked = ctx.view.logX;
    this.logX.addEventListener('change', () => {
      ctx.view.logX = this.logX.checked;
      ctx.saveView();
      this.render();
    });
    const png = h('vscode-button', { secondary: true, 'data-action': 'export-loss-png' }, 'Export PNG');
    png.addEventListener('click', () => this.exportPng());
    const csvButton = h('vscode-button', { secondary: true, 'data-action': 'export-loss-csv' }, 'Export CSV');
    csvButton.addEventListener('click', () => this.exportCsv());

    this.runList = h('div', { class: 'run-list', role: 'group', 'aria-label': 'Runs to overlay' });
    this.canvas = h('canvas', { id: 'loss-chart', role: 'img', 'aria-label': 'Loss curves' });
    this.chartBox = h('div', { class: 'chart-box loss-chart' }, this.canvas);
    this.empty = h('p', { class: 'empty', role: 'status' });
    this.element = h(
      'section',
      { class: 'view loss-view', 'aria-label': 'Loss' },
      h(
        'div',
        { class: 'toolbar' },
        h('span', { class: 'field' }, h('label', { for: sliderId }, 'Smoothing'), this.slider, this.sliderValue),
        h('span', { id: `${sliderId}-help`, class: 'sr-only' }, 'Exponential moving average weight of the training curve, debiased; 0 shows the raw values.'),
        this.logX,
        h('span', { class: 'spacer' }),
        png,
        csvButton,
      ),
      this.empty,
      h('div', { class: 'loss-body' }, this.runList, this.chartBox),
      h('p', { class: 'key' }, 'Solid: training loss (smoothed). Faint: raw. Dashed with dots: validation loss.'),
    );
  }

  render(): void {
    const { store, view } = this.ctx;
    const theme = this.ctx.theme();
    this.slider.value = String(view.smoothing);
    this.sliderValue.textContent = view.smoothing.toFixed(2);
    this.slider.setAttribute('aria-valuetext', view.smoothing === 0 ? 'no smoothing' : `smoothing ${view.smoothing.toFixed(2)}`);
    if (this.logX.checked !== view.logX) this.logX.checked = view.logX;
    this.renderRunList();

    const message = !store.loaded ? 'Waiting for data from the extension…' : store.runs.length === 0 ? 'No runs yet. Start a training run to see its loss here.' : store.selected.size === 0 ? 'No run selected: tick a run on the left.' : '';
    this.empty.textContent = message;
    this.empty.hidden = message === '';

    this.series = store.selectedRuns().map((run) => lossSeries(run, view.smoothing, view.logX));
    const datasets: LossDataset[] = [];
    for (const s of this.series) {
      const colour = theme.series[store.colourIndex(s.run.info.id) % theme.series.length]!;
      const name = runLabel(s.run.info);
      const id = s.run.info.id;
      datasets.push({
        label: `${name} · training (raw)`,
        role: 'train-raw',
        runId: id,
        data: s.train,
        borderColor: withAlpha(colour, theme.highContrast ? 0.4 : 0.22),
        backgroundColor: withAlpha(colour, 0.28),
        borderWidth: 1,
        pointRadius: 0,
        hidden: view.smoothing === 0,
        // Chart.js draws lower `order` on top: validation, then the smoothed curve, then the faint raw one.
        order: 2,
      });
      datasets.push({
        label: `${name} · training`,
        role: 'train',
        runId: id,
        data: s.smoothed,
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: theme.lineWidth,
        pointRadius: 0,
        order: 1,
      });
      datasets.push({
        label: `${name} · validation`,
        role: 'val',
        runId: id,
        data: s.val,
        borderColor: colour,
        backgroundColor: theme.background,
        borderWidth: theme.lineWidth,
        borderDash: [6, 4],
        pointRadius: 3.5,
        pointBorderWidth: 2,
        pointHoverRadius: 5,
        order: 0,
      });
    }

    const axes = axisColours(theme);
    const x = {
      type: view.logX ? ('logarithmic' as const) : ('linear' as const),
      title: { display: true, text: view.logX ? 'step (log scale)' : 'step', ...axes.title },
      ticks: { ...axes.ticks, maxTicksLimit: 10 },
      grid: axes.grid,
      border: axes.border,
    };
    const y = { type: 'linear' as const, title: { display: true, text: 'loss', ...axes.title }, ticks: axes.ticks, grid: axes.grid, border: axes.border };
    if (!this.chart) {
      this.chart = createChart<'line', XY[]>('loss', this.canvas, {
        type: 'line',
        data: { datasets },
        options: {
          parsing: false,
          normalized: true,
          spanGaps: true,
          interaction: { mode: 'nearest', axis: 'x', intersect: false },
          scales: { x, y },
          plugins: {
            legend: { display: false },
            decimation: { enabled: true, algorithm: 'min-max', threshold: 5000 },
            tooltip: {
              ...tooltipColours(theme),
              filter: (item: TooltipItem<'line'>) => (item.dataset as LossDataset).role !== 'train-raw',
              callbacks: {
                title: (items: TooltipItem<'line'>[]) => (items[0] ? `step ${items[0].parsed.x}` : ''),
                label: (item: TooltipItem<'line'>) => `${item.dataset.label ?? ''}: ${short(item.parsed.y ?? NaN)}`,
              },
            },
          },
        },
        plugins: [firstChartMark],
      });
    } else {
      const chart = this.chart;
      chart.data.datasets = datasets;
      chart.options.scales = { x, y };
      if (chart.options.plugins?.tooltip) Object.assign(chart.options.plugins.tooltip, tooltipColours(theme));
      chart.update('none');
    }
    this.chartBox.hidden = this.series.length === 0;
    this.canvas.setAttribute('aria-label', this.summary());
  }

  private renderRunList(): void {
    const { store } = this.ctx;
    const theme = this.ctx.theme();
    const items = store.runs.map((run) => {
      const colour = theme.series[store.colourIndex(run.info.id) % theme.series.length]!;
      const box = h('vscode-checkbox', { 'data-run-id': run.info.id });
      box.checked = store.selected.has(run.info.id);
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.backgroundColor = colour;
      box.append(swatch, h('span', { class: 'run-name' }, run.info.name), h('span', { class: 'run-detail' }, runDetail(run.info)));
      box.addEventListener('change', () => {
        const ids = new Set(store.selected);
        if (box.checked) ids.add(run.info.id);
        else ids.delete(run.info.id);
        const ordered = store.runs.map((r) => r.info.id).filter((id) => ids.has(id));
        store.setSelection(ordered);
        this.ctx.host.post({ type: 'selectRuns', runIds: ordered });
      });
      return box;
    });
    replaceChildren(this.runList, ...items);
    this.runList.hidden = store.runs.length === 0;
  }

  /** A text version of the chart for screen readers. */
  private summary(): string {
    if (this.series.length === 0) return 'Loss chart: no run selected.';
    const parts = this.series.map((s) => {
      const lastTrain = s.train[s.train.length - 1];
      const lastSmooth = s.smoothed[s.smoothed.length - 1];
      const lastVal = s.val[s.val.length - 1];
      const bits = [`${runLabel(s.run.info)} (${s.run.info.state}): ${s.train.length} training points`];
      if (lastTrain && lastSmooth) bits.push(`last training loss ${short(lastTrain.y)} at step ${lastTrain.x}, smoothed ${short(lastSmooth.y)}`);
      if (lastVal) bits.push(`last validation loss ${short(lastVal.y)} at step ${lastVal.x}`);
      return bits.join(', ');
    });
    return `Loss curves of ${this.series.length} run${this.series.length === 1 ? '' : 's'}${this.ctx.view.logX ? ', log-scale steps' : ''}. ${parts.join('. ')}.`;
  }

  private exportPng(): void {
    if (!this.chart) return;
    const theme = this.ctx.theme();
    const legend = this.series.map((s) => runLabel(s.run.info)).join(', ');
    const data = composePng([{ canvas: this.canvas, title: `Loss — ${legend} (smoothing ${this.ctx.view.smoothing.toFixed(2)})` }], {
      background: theme.background,
      foreground: theme.foreground,
      font: `${theme.fontSize}px ${theme.fontFamily}`,
    });
    this.ctx.exportFile('png', safeFileName('loss', 'png'), data);
  }

  private exportCsv(): void {
    const { store, view } = this.ctx;
    const rows: (string | number | undefined)[][] = [];
    for (const run of store.selectedRuns()) {
      const s = lossSeries(run, view.smoothing, false);
      const smoothedByStep = new Map(s.smoothed.map((p) => [p.x, p.y]));
      for (const p of run.points) rows.push([run.info.id, run.info.name, p.step, p.loss, smoothedByStep.get(p.step), p.valLoss, p.valAccuracy, p.lr]);
    }
    const text = csv(['run_id', 'run_name', 'step', 'loss', `loss_smoothed_${view.smoothing.toFixed(2)}`, 'val_loss', 'val_accuracy', 'learning_rate'], rows);
    this.ctx.exportFile('csv', safeFileName('loss', 'csv'), text);
  }
}
