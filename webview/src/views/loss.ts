/**
 * Loss: training curves (EMA-smoothed, debiased like TensorBoard, over the faint raw curve) and validation
 * points, one colour per run, several runs overlaid; the x-axis in steps, tokens, training FLOPs (the cost model's)
 * or training time (the sum of step times), linear or log scale; tooltips with all four and the learning rate;
 * PNG and CSV export.
 */
import type { ChartDataset, Plugin, TooltipItem } from 'chart.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeRadio } from '@vscode-elements/elements/dist/vscode-radio/vscode-radio.js';
import { axisColours, createChart, isOneTwoFive, linearAxis, tooltipColours, type Chart } from '../charts';
import type { AppContext, View } from '../context';
import { h, replaceChildren, uid } from '../dom';
import { composePng, csv, safeFileName } from '../export';
import { duration, short, si } from '../../../src/format';
import type { MetricPoint } from '../../../src/protocol/webview';
import { runDetail, runLabel } from '../format';
import { emaDebiased } from '../smoothing';
import { MAX_SMOOTHING, X_AXES, type RunData, type XAxis } from '../state';
import { withAlpha } from '../theme';

type XY = { x: number; y: number };
export type LossRole = 'train-raw' | 'train' | 'val';
export type LossDataset = ChartDataset<'line', XY[]> & { role: LossRole; runId: string };

export interface LossSeries {
  run: RunData;
  train: XY[];
  smoothed: XY[];
  val: XY[];
  /** The points behind `train` and `val`, index for index (what a tooltip tells about a step). */
  trainPoints: MetricPoint[];
  valPoints: MetricPoint[];
}

/** What the x-axis can measure: how each is read from a point, titled and printed. */
export interface XAxisKind {
  /** The choice's label in the toolbar. */
  label: string;
  /** The axis title (says what is measured, and for time that it is training time). */
  title: string;
  /** The point's x, or `undefined` when the run did not record it (step 0 is at 0 on every axis). */
  value(p: MetricPoint): number | undefined;
  /** An x value as text ("1.23 GFLOP"). */
  format(x: number): string;
}

export const X_AXIS: Record<XAxis, XAxisKind> = {
  step: { label: 'Step', title: 'step', value: (p) => p.step, format: (x) => `step ${Math.round(x)}` },
  tokens: { label: 'Tokens', title: 'tokens', value: (p) => (p.step === 0 ? 0 : p.tokens), format: (x) => `${si(x)} tokens` },
  flops: { label: 'FLOPs', title: 'training FLOPs (cost model)', value: (p) => (p.step === 0 ? 0 : p.flops), format: (x) => si(x, 'FLOP') },
  time: {
    label: 'Time',
    title: 'training time (sum of step times: no evaluation, checkpoints or pauses)',
    value: (p) => (p.step === 0 ? 0 : p.trainingMs === undefined ? undefined : p.trainingMs / 1000),
    format: (x) => `${duration(x * 1000)} training`,
  },
};

/** Everything a tooltip says about one step: step, tokens, training FLOPs, training time and learning rate. */
export function pointDetails(p: MetricPoint): string {
  const parts = [`step ${p.step}`];
  for (const axis of ['tokens', 'flops', 'time'] as const) {
    const x = X_AXIS[axis].value(p);
    parts.push(x === undefined ? `${X_AXIS[axis].label.toLowerCase()} not recorded` : X_AXIS[axis].format(x));
  }
  parts.push(p.lr === undefined ? 'lr not recorded' : `lr ${short(p.lr)}`);
  return parts.join(' · ');
}

/**
 * The plotted series of a run on an x-axis: train loss (raw and smoothed) and validation loss; points without
 * that x (not recorded) are left out, and so are x ≤ 0 on a log axis.
 */
export function lossSeries(run: RunData, smoothing: number, logX: boolean, axis: XAxis = 'step'): LossSeries {
  const train: XY[] = [];
  const val: XY[] = [];
  const trainPoints: MetricPoint[] = [];
  const valPoints: MetricPoint[] = [];
  const xOf = X_AXIS[axis].value;
  for (const p of run.points) {
    const x = xOf(p);
    if (x === undefined || (logX && x <= 0)) continue;
    if (p.loss !== undefined) {
      train.push({ x, y: p.loss });
      trainPoints.push(p);
    }
    if (p.valLoss !== undefined) {
      val.push({ x, y: p.valLoss });
      valPoints.push(p);
    }
  }
  const ys = emaDebiased(
    train.map((p) => p.y),
    smoothing,
  );
  return { run, train, smoothed: train.map((p, i) => ({ x: p.x, y: ys[i]! })), val, trainPoints, valPoints };
}

/** Round values (1, 2 or 5 × 10ⁿ apart) from `min` to `max`, at most about `count` of them. */
export function roundTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const out: number[] = [];
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max * (1 + 1e-12); i++) out.push(i * step);
  return out;
}

/** The point of `xs` (ascending) nearest to `x`: what a tooltip at `x` is about (decimation may move an x). */
function nearestIndex(xs: readonly XY[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]!.x < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && Math.abs(xs[lo - 1]!.x - x) <= Math.abs(xs[lo]!.x - x) ? lo - 1 : lo;
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
  private readonly axisRadios: VscodeRadio[];
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
    const axisName = uid('x-axis');
    this.axisRadios = X_AXES.map((axis) => {
      const r = h('vscode-radio', { name: axisName, value: axis, label: X_AXIS[axis].label });
      r.addEventListener('change', () => {
        if (!r.checked) return;
        ctx.view.xAxis = axis;
        ctx.saveView();
        this.render();
      });
      return r;
    });
    this.logX = h('vscode-checkbox', { id: uid('logx'), label: 'Log scale' });
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
        h(
          'span',
          { class: 'field' },
          h('span', { class: 'label', id: `${axisName}-label` }, 'x-axis'),
          h('vscode-radio-group', { 'aria-labelledby': `${axisName}-label`, 'data-control': 'loss-x' }, ...this.axisRadios),
        ),
        this.logX,
        h('span', { class: 'spacer' }),
        png,
        csvButton,
      ),
      this.empty,
      h('div', { class: 'loss-body' }, this.runList, this.chartBox),
      h(
        'p',
        { class: 'key' },
        'Solid: training loss (smoothed). Faint: raw. Dashed with dots: validation loss. FLOPs: the cost model\'s training FLOPs; time: training time, the sum of step times (no evaluation, checkpoints or pauses); both cumulative over the steps a run kept across resumes.',
      ),
    );
  }

  render(): void {
    const { store, view } = this.ctx;
    const theme = this.ctx.theme();
    this.slider.value = String(view.smoothing);
    this.sliderValue.textContent = view.smoothing.toFixed(2);
    this.slider.setAttribute('aria-valuetext', view.smoothing === 0 ? 'no smoothing' : `smoothing ${view.smoothing.toFixed(2)}`);
    if (this.logX.checked !== view.logX) this.logX.checked = view.logX;
    for (const r of this.axisRadios) r.checked = r.value === view.xAxis;
    this.renderRunList();
    const axis = X_AXIS[view.xAxis];

    this.series = store.selectedRuns().map((run) => lossSeries(run, view.smoothing, view.logX, view.xAxis));
    const nothingOnAxis = view.xAxis !== 'step' && this.series.length > 0 && this.series.every((s) => s.train.length + s.val.length === 0) && this.series.some((s) => s.run.points.length > 0);
    const message = !store.loaded
      ? 'Waiting for data from the extension…'
      : store.runs.length === 0
        ? 'No runs yet. Start a training run to see its loss here.'
        : store.selected.size === 0
          ? 'No run selected: tick a run on the left.'
          : nothingOnAxis
            ? `The selected runs recorded no ${axis.title.replace(/ \(.*$/, '')}: choose another x-axis.`
            : '';
    this.empty.textContent = message;
    this.empty.hidden = message === '';

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
    const compute = view.xAxis !== 'step';
    const tick = (value: number | string): string => {
      const v = Number(value);
      if (view.logX && !isOneTwoFive(v)) return '';
      return view.xAxis === 'step' ? short(v) : view.xAxis === 'time' ? duration(v * 1000) : si(v, view.xAxis === 'flops' ? 'FLOP' : '');
    };
    const x = {
      type: view.logX ? ('logarithmic' as const) : ('linear' as const),
      // The compute axes end at the data (the last step's total), not at a rounder tick past it.
      ...(compute ? { bounds: 'data' as const } : {}),
      title: { display: true, text: view.logX ? `${axis.title} (log scale)` : axis.title, ...axes.title },
      ticks: { ...axes.ticks, maxTicksLimit: 10, ...(compute || view.logX ? { callback: tick } : {}) },
      // Chart.js counts the ticks of a data-bounded axis from its first value (304 M, 5.30 G, …): round ones instead.
      ...(compute && !view.logX ? { afterBuildTicks: (scale: { min: number; max: number; ticks: { value: number }[] }) => (scale.ticks = roundTicks(scale.min, scale.max, 8).map((value) => ({ value }))) } : {}),
      grid: axes.grid,
      border: axes.border,
    };
    const y = linearAxis(theme, 'loss');
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
                title: (items: TooltipItem<'line'>[]) => (items[0] ? X_AXIS[this.ctx.view.xAxis].format(items[0].parsed.x ?? NaN) : ''),
                label: (item: TooltipItem<'line'>) => `${item.dataset.label ?? ''}: ${short(item.parsed.y ?? NaN)}`,
                afterLabel: (item: TooltipItem<'line'>) => {
                  const p = this.pointAt(item.dataset as LossDataset, item.parsed.x ?? NaN);
                  return p ? pointDetails(p) : '';
                },
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

  /** The step a tooltip item is about: the point of its run and role nearest to its x. */
  private pointAt(dataset: LossDataset, x: number): MetricPoint | undefined {
    const s = this.series.find((r) => r.run.info.id === dataset.runId);
    if (!s) return undefined;
    const [xs, points] = dataset.role === 'val' ? [s.val, s.valPoints] : [s.train, s.trainPoints];
    return xs.length === 0 ? undefined : points[nearestIndex(xs, x)];
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
    const axis = X_AXIS[this.ctx.view.xAxis];
    const at = (x: number) => (this.ctx.view.xAxis === 'step' ? `step ${x}` : axis.format(x));
    const parts = this.series.map((s) => {
      const lastTrain = s.train[s.train.length - 1];
      const lastSmooth = s.smoothed[s.smoothed.length - 1];
      const lastVal = s.val[s.val.length - 1];
      const bits = [`${runLabel(s.run.info)} (${s.run.info.state}): ${s.train.length} training points`];
      if (lastTrain && lastSmooth) bits.push(`last training loss ${short(lastTrain.y)} at ${at(lastTrain.x)}, smoothed ${short(lastSmooth.y)}`);
      if (lastVal) bits.push(`last validation loss ${short(lastVal.y)} at ${at(lastVal.x)}`);
      return bits.join(', ');
    });
    const scale = this.ctx.view.xAxis === 'step' ? (this.ctx.view.logX ? ', log-scale steps' : '') : `, against ${axis.title}${this.ctx.view.logX ? ' (log scale)' : ''}`;
    return `Loss curves of ${this.series.length} run${this.series.length === 1 ? '' : 's'}${scale}. ${parts.join('. ')}.`;
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
      for (const p of run.points) {
        rows.push([run.info.id, run.info.name, p.step, X_AXIS.tokens.value(p), X_AXIS.flops.value(p), X_AXIS.time.value(p), p.loss, smoothedByStep.get(p.step), p.valLoss, p.valAccuracy, p.lr]);
      }
    }
    const text = csv(['run_id', 'run_name', 'step', 'tokens', 'training_flops', 'training_time_s', 'loss', `loss_smoothed_${view.smoothing.toFixed(2)}`, 'val_loss', 'val_accuracy', 'learning_rate'], rows);
    this.ctx.exportFile('csv', safeFileName('loss', 'csv'), text);
  }
}
