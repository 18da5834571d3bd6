/**
 * Costs: per-layer stacked bars by module kind, for parameters and for FLOPs (forward, backward, or both), or
 * the same figures as a table; two cost reports side by side (same y scale) with a totals comparison.
 */
import type { TooltipItem } from 'chart.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import type { VscodeRadio } from '@vscode-elements/elements/dist/vscode-radio/vscode-radio.js';
import { LAYER_KINDS, type CostEntry, type CostReport, type FlopSplit, type ModuleCost } from '../../../src/protocol/webview';
import { axisColours, createChart, destroyChart, tooltipColours } from '../charts';
import type { AppContext, View } from '../context';
import { h, replaceChildren, uid } from '../dom';
import { composePng, csv, safeFileName, type PngPart } from '../export';
import { bytes, exact, si } from '../../../src/format';
import { COST_DISPLAYS, COST_PASSES, type CostDisplay, type CostPass } from '../state';

export type CostMetric = 'params' | CostPass;

const flops = (s: FlopSplit) => s.matmul + s.elementwise;

/** The value of one module for a metric: parameters, or forward / backward / forward + backward FLOPs. */
export function moduleValue(m: ModuleCost, metric: CostMetric): number {
  switch (metric) {
    case 'params':
      return m.params;
    case 'forward':
      return flops(m.forward);
    case 'backward':
      return flops(m.backward);
    case 'both':
      return flops(m.forward) + flops(m.backward);
  }
}

/** Per layer, the sum over its modules of each kind (a layer's two GFFNs add up). Only kinds that occur are listed. */
export function layerKindSums(report: CostReport, metric: CostMetric): { kind: string; values: number[] }[] {
  const out: { kind: string; values: number[] }[] = [];
  for (const kind of LAYER_KINDS) {
    if (!report.layers.some((l) => l.modules.some((m) => m.kind === kind))) continue;
    out.push({ kind, values: report.layers.map((l) => l.modules.filter((m) => m.kind === kind).reduce((sum, m) => sum + moduleValue(m, metric), 0)) });
  }
  return out;
}

const PASS_LABEL: Record<CostPass, string> = { forward: 'forward', backward: 'backward', both: 'forward + backward' };
const KIND_LABEL: Record<string, string> = { attention: 'attention', conv: 'conv', gffn: 'GFFN', ffn: 'FFN' };

export class CostsView implements View {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly convention: HTMLElement;
  private readonly passRadios: VscodeRadio[];
  private readonly displayRadios: VscodeRadio[];
  private chartIds: string[] = [];
  private pngParts: PngPart[] = [];

  constructor(private readonly ctx: AppContext) {
    const passName = uid('pass');
    this.passRadios = COST_PASSES.map((pass) => {
      const r = h('vscode-radio', { name: passName, value: pass, label: PASS_LABEL[pass][0]!.toUpperCase() + PASS_LABEL[pass].slice(1) });
      r.addEventListener('change', () => {
        if (!r.checked) return;
        ctx.view.costPass = pass;
        ctx.saveView();
        this.render();
      });
      return r;
    });
    const displayName = uid('display');
    this.displayRadios = COST_DISPLAYS.map((display: CostDisplay) => {
      const r = h('vscode-radio', { name: displayName, value: display, label: display === 'chart' ? 'Charts' : 'Table' });
      r.addEventListener('change', () => {
        if (!r.checked) return;
        ctx.view.costDisplay = display;
        ctx.saveView();
        this.render();
      });
      return r;
    });
    const png = h('vscode-button', { secondary: true, 'data-action': 'export-costs-png' }, 'Export PNG');
    png.addEventListener('click', () => this.exportPng());
    const csvButton = h('vscode-button', { secondary: true, 'data-action': 'export-costs-csv' }, 'Export CSV');
    csvButton.addEventListener('click', () => this.exportCsv());
    this.body = h('div', { class: 'cost-body' });
    this.empty = h('p', { class: 'empty', role: 'status' });
    this.convention = h('p', { class: 'key' });
    this.element = h(
      'section',
      { class: 'view costs-view', 'aria-label': 'Costs' },
      h(
        'div',
        { class: 'toolbar' },
        h(
          'span',
          { class: 'field' },
          h('span', { class: 'label', id: `${passName}-label` }, 'FLOPs'),
          h('vscode-radio-group', { 'aria-labelledby': `${passName}-label`, 'data-control': 'cost-pass' }, ...this.passRadios),
        ),
        h(
          'span',
          { class: 'field' },
          h('span', { class: 'label', id: `${displayName}-label` }, 'Show'),
          h('vscode-radio-group', { 'aria-labelledby': `${displayName}-label`, 'data-control': 'cost-display' }, ...this.displayRadios),
        ),
        h('span', { class: 'spacer' }),
        png,
        csvButton,
      ),
      this.empty,
      this.body,
      this.convention,
    );
  }

  render(): void {
    const { store, view } = this.ctx;
    for (const r of this.passRadios) r.checked = r.value === view.costPass;
    for (const r of this.displayRadios) r.checked = r.value === view.costDisplay;
    for (const id of this.chartIds) destroyChart(id);
    this.chartIds = [];
    this.pngParts = [];
    const costs = store.costs;
    const message = !store.loaded ? 'Waiting for data from the extension…' : costs.length === 0 ? 'No cost report: open a *.convbert.json spec to see its parameters and FLOPs per layer.' : '';
    this.empty.textContent = message;
    this.empty.hidden = message === '';
    // Each report's step is its own spec's batch × sequence (under its column); the counting convention is shared.
    this.convention.textContent = [...new Set(costs.map((c) => c.report.convention))].join(' ');
    if (costs.length === 0) {
      replaceChildren(this.body);
      return;
    }
    const columns = costs.map((entry, i) => (view.costDisplay === 'chart' ? this.chartColumn(entry, i, costs) : this.tableColumn(entry, i)));
    replaceChildren(this.body, costs.length === 2 ? this.comparison(costs[0]!, costs[1]!) : null, h('div', { class: `cost-columns n${costs.length}` }, ...columns));
  }

  private chartColumn(entry: CostEntry, index: number, all: CostEntry[]): HTMLElement {
    const { view } = this.ctx;
    const r = entry.report;
    const column = h(
      'div',
      { class: 'cost-column', 'data-report': index },
      h('h3', {}, entry.label),
      stepNote(r),
      h('p', { class: 'totals' }, `${si(r.totals.params)} parameters (${si(r.totals.encoderParams)} in ${r.layers.length} layers) · ${si(r.totals.trainingFlopsPerStep, 'FLOP')} per training step · ${bytes(r.memory.totalBytes)} training memory (est.)`),
    );
    for (const metric of ['params', view.costPass] as const) {
      const id = `costs-${metric === 'params' ? 'params' : 'flops'}-${index}`;
      const title = metric === 'params' ? 'Parameters per layer' : `${PASS_LABEL[metric][0]!.toUpperCase()}${PASS_LABEL[metric].slice(1)} FLOPs per layer`;
      const canvas = h('canvas', { id, role: 'img', 'aria-label': title });
      column.append(h('h4', {}, title), h('div', { class: 'chart-box cost-chart' }, canvas));
      // Same y range for both reports, so bars compare by height.
      const max = Math.max(...all.map((e) => Math.max(0, ...stackTotals(e.report, metric))));
      this.barChart(id, canvas, entry.report, metric, all.length > 1 ? max : undefined);
      canvas.setAttribute('aria-label', `${title}, ${entry.label}: ${this.describe(entry.report, metric)}`);
      this.pngParts.push({ canvas, title: `${entry.label} — ${title}` });
    }
    return column;
  }

  private barChart(id: string, canvas: HTMLCanvasElement, report: CostReport, metric: CostMetric, max: number | undefined): void {
    const theme = this.ctx.theme();
    const axes = axisColours(theme);
    const sums = layerKindSums(report, metric);
    const unit = metric === 'params' ? '' : 'FLOP';
    createChart<'bar', number[]>(id, canvas, {
      type: 'bar',
      data: {
        labels: report.layers.map((l) => String(l.index)),
        datasets: sums.map((s) => ({
          label: KIND_LABEL[s.kind] ?? s.kind,
          kind: s.kind,
          data: s.values,
          backgroundColor: theme.kinds[s.kind] ?? theme.foreground,
          borderColor: theme.highContrast ? theme.foreground : theme.background,
          borderWidth: theme.highContrast ? 1 : 0,
        })),
      },
      options: {
        scales: {
          x: { stacked: true, title: { display: true, text: 'layer', ...axes.title }, ticks: axes.ticks, grid: { display: false }, border: axes.border },
          y: {
            stacked: true,
            beginAtZero: true,
            ...(max !== undefined ? { suggestedMax: max } : {}),
            title: { display: true, text: metric === 'params' ? 'parameters' : 'FLOPs per step', ...axes.title },
            ticks: { ...axes.ticks, callback: (v: string | number) => si(Number(v), unit) },
            grid: axes.grid,
            border: axes.border,
          },
        },
        plugins: {
          legend: { display: true, position: 'bottom', labels: { color: theme.foreground, boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            ...tooltipColours(theme),
            mode: 'index',
            intersect: false,
            callbacks: {
              title: (items: TooltipItem<'bar'>[]) => `layer ${items[0]?.label ?? ''}`,
              label: (item: TooltipItem<'bar'>) => `${item.dataset.label ?? ''}: ${exact(Number(item.raw))}${unit ? ` ${unit}` : ''}`,
              footer: (items: TooltipItem<'bar'>[]) => `total: ${exact(items.reduce((s, i) => s + Number(i.raw), 0))}`,
            },
          },
        },
      },
    });
    this.chartIds.push(id);
  }

  private describe(report: CostReport, metric: CostMetric): string {
    const sums = layerKindSums(report, metric);
    const totals = stackTotals(report, metric);
    const byKind = sums.map((s) => `${KIND_LABEL[s.kind] ?? s.kind} ${si(s.values.reduce((a, b) => a + b, 0))}`).join(', ');
    const maxLayer = totals.indexOf(Math.max(...totals));
    return `${report.layers.length} layers, ${byKind}; the largest layer is ${maxLayer} with ${si(totals[maxLayer] ?? 0)}.`;
  }

  private tableColumn(entry: CostEntry, index: number): HTMLElement {
    const r = entry.report;
    const pass = this.ctx.view.costPass;
    const head = h(
      'thead',
      {},
      h('tr', {}, ...['Module', 'Kind', 'Parameters', `${PASS_LABEL[pass][0]!.toUpperCase()}${PASS_LABEL[pass].slice(1)} FLOPs`, 'Activations'].map((t, i) => h('th', { scope: 'col', class: i >= 2 ? 'num' : undefined }, t))),
    );
    const row = (name: string, kind: string, params: number, fl: number, act: number, cls?: string) =>
      h(
        'tr',
        { class: cls },
        h(cls === 'subtotal' || cls === 'total' ? 'th' : 'td', cls === 'subtotal' || cls === 'total' ? { scope: 'row' } : {}, name),
        h('td', {}, kind),
        h('td', { class: 'num', 'data-value': params, title: exact(params) }, exact(params)),
        h('td', { class: 'num', 'data-value': fl, title: `${exact(fl)} FLOP` }, si(fl, 'FLOP')),
        h('td', { class: 'num', 'data-value': act, title: `${exact(act)} bytes` }, bytes(act)),
      );
    const rows: HTMLElement[] = [row(r.embeddings.name, r.embeddings.kind, r.embeddings.params, moduleValue(r.embeddings, pass), r.embeddings.activationBytes)];
    for (const layer of r.layers) {
      const layerFlops = pass === 'forward' ? flops(layer.forward) : pass === 'backward' ? flops(layer.backward) : flops(layer.forward) + flops(layer.backward);
      rows.push(row(`layer ${layer.index}`, '', layer.params, layerFlops, layer.activationBytes, 'subtotal'));
      for (const m of layer.modules) rows.push(row(m.name, m.kind, m.params, moduleValue(m, pass), m.activationBytes, 'module'));
    }
    for (const m of r.heads) rows.push(row(m.name, m.kind, m.params, moduleValue(m, pass), m.activationBytes));
    const totalFlops = pass === 'forward' ? flops(r.totals.forward) : pass === 'backward' ? flops(r.totals.backward) : r.totals.trainingFlopsPerStep;
    const totalAct = r.memory.activationBytes;
    const foot = h('tfoot', {}, row('total', '', r.totals.params, totalFlops, totalAct, 'total'));
    const table = h('table', { class: 'cost-table', 'data-report': index }, h('caption', {}, `${entry.label}: parameters and ${PASS_LABEL[pass]} FLOPs per module`), head, h('tbody', {}, ...rows), foot);
    return h('div', { class: 'cost-column', 'data-report': index }, h('h3', {}, entry.label), stepNote(r), h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': `${entry.label} cost table` }, table));
  }

  private comparison(a: CostEntry, b: CostEntry): HTMLElement {
    const rows: [string, number, number, (n: number) => string][] = [
      ['Parameters', a.report.totals.params, b.report.totals.params, (n) => si(n)],
      ['Encoder parameters', a.report.totals.encoderParams, b.report.totals.encoderParams, (n) => si(n)],
      ['Forward FLOPs per step', flops(a.report.totals.forward), flops(b.report.totals.forward), (n) => si(n, 'FLOP')],
      ['Backward FLOPs per step', flops(a.report.totals.backward), flops(b.report.totals.backward), (n) => si(n, 'FLOP')],
      ['Tokens per step (batch × sequence)', stepTokens(a.report), stepTokens(b.report), (n) => exact(n)],
      ['Training FLOPs per token', a.report.totals.trainingFlopsPerToken, b.report.totals.trainingFlopsPerToken, (n) => si(n, 'FLOP')],
      ['Training memory (est.)', a.report.memory.totalBytes, b.report.memory.totalBytes, bytes],
    ];
    const table = h(
      'table',
      { class: 'compare-table' },
      h('caption', {}, `${a.label} vs ${b.label}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col', class: 'num' }, a.label), h('th', { scope: 'col', class: 'num' }, b.label), h('th', { scope: 'col', class: 'num' }, `${b.label} / ${a.label}`))),
      h(
        'tbody',
        {},
        ...rows.map(([name, x, y, fmt]) =>
          h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: 'num', title: exact(x) }, fmt(x)), h('td', { class: 'num', title: exact(y) }, fmt(y)), h('td', { class: 'num' }, x > 0 ? `${(y / x).toFixed(2)}×` : '—')),
        ),
      ),
    );
    return h('div', { class: 'table-scroll compare', tabindex: 0, role: 'region', 'aria-label': `Totals of ${a.label} and ${b.label}` }, table);
  }

  private exportPng(): void {
    if (this.pngParts.length === 0) return;
    const theme = this.ctx.theme();
    const data = composePng(this.pngParts, { background: theme.background, foreground: theme.foreground, font: `${theme.fontSize}px ${theme.fontFamily}` }, this.ctx.store.costs.length === 2 ? 2 : 1);
    this.ctx.exportFile('png', safeFileName('costs', 'png'), data);
  }

  private exportCsv(): void {
    const rows: (string | number | undefined)[][] = [];
    for (const { label, report } of this.ctx.store.costs) {
      for (const m of [report.embeddings, ...report.layers.flatMap((l) => l.modules), ...report.heads]) {
        rows.push([label, m.name, m.kind, m.layer, m.params, m.forward.matmul, m.forward.elementwise, m.backward.matmul, m.backward.elementwise, m.activationBytes]);
      }
    }
    const text = csv(['spec', 'module', 'kind', 'layer', 'params', 'forward_matmul_flops', 'forward_elementwise_flops', 'backward_matmul_flops', 'backward_elementwise_flops', 'activation_bytes'], rows);
    this.ctx.exportFile('csv', safeFileName('costs', 'csv'), text);
  }
}

const stepTokens = (r: CostReport) => r.batchSize * r.sequenceLength;

/** What "per step" means for one report: its own spec's batch and sequence length. */
function stepNote(r: CostReport): HTMLElement {
  return h('p', { class: 'key step-tokens' }, `FLOPs per step of ${r.batchSize} × ${r.sequenceLength} tokens.`);
}

/** Per layer, the height of its stacked bar (the sum over the stacked kinds). */
function stackTotals(report: CostReport, metric: CostMetric): number[] {
  const sums = layerKindSums(report, metric);
  return report.layers.map((_, i) => sums.reduce((s, k) => s + k.values[i]!, 0));
}
