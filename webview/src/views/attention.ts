/**
 * Attention vs convolution: for the probe sentence, per layer, the attention heatmap of one head (or the head
 * average) next to the conv module's token-mixing map, token labels on both axes; the conv kernel's weight per
 * relative offset; mean distance per layer and head (and of the conv map); padding tokens left out; a slider over
 * the saved probe steps that asks the host (`requestProbe`) for a step it has not sent yet.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { ProbeLayer, ProbeMessage } from '../../../src/protocol/webview';
import { axisColours, createChart, destroyChart, tooltipColours } from '../charts';
import type { AppContext, View } from '../context';
import { h, replaceChildren, uid } from '../dom';
import { composePng, csv, safeFileName } from '../export';
import { short } from '../../../src/format';
import { runLabel } from '../format';
import { drawHeatmap } from '../heatmap';
import { HEAD_AVERAGE, type RunData } from '../state';

const REQUEST_DELAY_MS = 120;

/** The probe's layers in layer order. */
export function probeLayers(probe: ProbeMessage): ProbeLayer[] {
  return [...probe.layers].sort((a, b) => a.layer - b.layer);
}

/** The top-left n × n block of the T × T matrix at `offset` (the real tokens, padding left out). */
export function crop(data: Float32Array, offset: number, t: number, n: number): Float32Array {
  if (n === t) return data.subarray(offset, offset + t * t);
  const out = new Float32Array(n * n);
  for (let r = 0; r < n; r++) out.set(data.subarray(offset + r * t, offset + r * t + n), r * n);
  return out;
}

/** The head average of the top-left n × n block of heads × T × T probabilities. */
export function headAverage(probs: Float32Array, heads: number, t: number, n = t): Float32Array {
  const out = new Float32Array(n * n);
  for (let h = 0; h < heads; h++) {
    const block = crop(probs, h * t * t, t, n);
    for (let i = 0; i < n * n; i++) out[i]! += block[i]!;
  }
  for (let i = 0; i < n * n; i++) out[i]! /= heads;
  return out;
}

/** The largest |row − column| whose |value| is at least `fraction` of the largest |value|: the band half-width. */
export function bandWidth(m: Float32Array, t: number, fraction = 0.01): number {
  let max = 0;
  for (let i = 0; i < t * t; i++) max = Math.max(max, Math.abs(m[i]!));
  let band = 0;
  for (let r = 0; r < t; r++) for (let c = 0; c < t; c++) if (Math.abs(m[r * t + c]!) >= fraction * max && max > 0) band = Math.max(band, Math.abs(r - c));
  return band;
}

interface SelectControl {
  element: VscodeSingleSelect;
  key: string;
}

export class AttentionView implements View {
  readonly element: HTMLElement;
  private readonly runSelect: SelectControl;
  private readonly layerSelect: SelectControl;
  private readonly headSelect: SelectControl;
  private readonly slider: HTMLInputElement;
  private readonly stepLabel: HTMLOutputElement;
  private readonly status: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly maps: HTMLElement;
  private readonly attentionFigure: HTMLElement;
  private readonly attentionCaption: HTMLElement;
  private readonly attentionCanvas: HTMLCanvasElement;
  private readonly attentionNote: HTMLElement;
  private readonly convFigure: HTMLElement;
  private readonly convCaption: HTMLElement;
  private readonly convCanvas: HTMLCanvasElement;
  private readonly convNote: HTMLElement;
  private readonly kernelBox: HTMLElement;
  private readonly kernelCanvas: HTMLCanvasElement;
  private readonly distance: HTMLElement;
  private requestTimer: ReturnType<typeof setTimeout> | undefined;
  private drawnRunId: string | undefined;
  private current: { run: RunData; step: number; probe: ProbeMessage | undefined; layer: ProbeLayer | undefined } | undefined;

  constructor(private readonly ctx: AppContext) {
    const select = (label: string, control: string, onChange: (value: string) => void): SelectControl => {
      const element = h('vscode-single-select', { 'aria-label': label, 'data-control': control });
      element.addEventListener('change', () => onChange(element.value));
      return { element, key: '' };
    };
    this.runSelect = select('Run', 'probe-run', (value) => {
      ctx.view.attention.runId = value;
      ctx.view.attention.step = null;
      ctx.saveView();
      this.render();
    });
    this.layerSelect = select('Layer', 'probe-layer', (value) => {
      ctx.view.attention.layer = Number(value);
      ctx.saveView();
      this.render();
    });
    this.headSelect = select('Head', 'probe-head', (value) => {
      ctx.view.attention.head = Number(value);
      ctx.saveView();
      this.render();
    });
    const sliderId = uid('probe-step');
    this.slider = h('input', { id: sliderId, type: 'range', min: 0, max: 0, step: 1, value: 0, 'data-control': 'probe-step' });
    this.stepLabel = h('output', { for: sliderId, class: 'value' });
    this.slider.addEventListener('input', () => {
      const run = this.current?.run;
      const step = run?.probeSteps[Number(this.slider.value)];
      if (step === undefined) return;
      ctx.view.attention.step = step;
      ctx.saveView();
      this.render();
    });
    this.status = h('span', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const png = h('vscode-button', { secondary: true, 'data-action': 'export-attention-png' }, 'Export PNG');
    png.addEventListener('click', () => this.exportPng());
    const csvButton = h('vscode-button', { secondary: true, 'data-action': 'export-attention-csv' }, 'Export CSV');
    csvButton.addEventListener('click', () => this.exportCsv());

    this.attentionCanvas = h('canvas', { id: 'attention-map', role: 'img', 'aria-label': 'Attention heatmap' });
    this.attentionCaption = h('figcaption', {});
    this.attentionNote = h('p', { class: 'note' });
    this.attentionFigure = h('figure', { class: 'map' }, this.attentionCaption, this.attentionCanvas, this.attentionNote);
    this.convCanvas = h('canvas', { id: 'conv-map', role: 'img', 'aria-label': 'Convolution token-mixing map' });
    this.convCaption = h('figcaption', {});
    this.convNote = h('p', { class: 'note' });
    this.kernelCanvas = h('canvas', { id: 'conv-kernel', role: 'img', 'aria-label': 'Convolution kernel weight per relative offset' });
    this.kernelBox = h('div', { class: 'chart-box kernel-chart' }, this.kernelCanvas);
    this.convFigure = h('figure', { class: 'map' }, this.convCaption, this.convCanvas, this.convNote, this.kernelBox);
    this.maps = h('div', { class: 'maps' }, this.attentionFigure, this.convFigure);
    this.distance = h('div', { class: 'distance' });
    this.empty = h('p', { class: 'empty', role: 'status' });
    this.element = h(
      'section',
      { class: 'view attention-view', 'aria-label': 'Attention versus convolution' },
      h(
        'div',
        { class: 'toolbar' },
        h('span', { class: 'field' }, h('span', { class: 'label' }, 'Run'), this.runSelect.element),
        h('span', { class: 'field' }, h('span', { class: 'label' }, 'Layer'), this.layerSelect.element),
        h('span', { class: 'field' }, h('span', { class: 'label' }, 'Head'), this.headSelect.element),
        h('span', { class: 'spacer' }),
        png,
        csvButton,
      ),
      h('div', { class: 'toolbar' }, h('span', { class: 'field' }, h('label', { for: sliderId }, 'Step'), this.slider, this.stepLabel), this.status),
      this.empty,
      this.maps,
      this.distance,
    );
  }

  render(): void {
    const { store, view } = this.ctx;
    const a = view.attention;
    const runs = store.runs.filter((r) => r.probeSteps.length > 0);
    let run = runs.find((r) => r.info.id === a.runId);
    run ??= runs.find((r) => store.selected.has(r.info.id)) ?? runs[0];
    const message = !store.loaded ? 'Waiting for data from the extension…' : !run ? 'No probes yet: a run saves attention and convolution probes at its evaluation steps.' : '';
    this.empty.textContent = message;
    this.empty.hidden = message === '';
    this.maps.hidden = !run;
    this.slider.disabled = !run;
    if (!run) {
      this.current = undefined;
      this.setOptions(this.runSelect, [], '');
      this.setOptions(this.layerSelect, [], '');
      this.setOptions(this.headSelect, [], '');
      this.stepLabel.textContent = '';
      this.status.textContent = '';
      replaceChildren(this.distance);
      return;
    }
    if (a.runId !== run.info.id) {
      a.runId = run.info.id;
      this.ctx.saveView();
    }
    this.setOptions(
      this.runSelect,
      runs.map((r) => ({ value: r.info.id, label: runLabel(r.info) })),
      run.info.id,
    );

    const steps = run.probeSteps;
    let index = a.step === null ? -1 : steps.indexOf(a.step);
    if (index < 0) index = steps.length - 1;
    const step = steps[index]!;
    this.slider.max = String(steps.length - 1);
    this.slider.value = String(index);
    this.slider.setAttribute('aria-valuetext', `step ${step}, ${index + 1} of ${steps.length}`);
    this.stepLabel.textContent = `step ${step} (${index + 1} of ${steps.length})`;

    const probe = store.probe(run.info.id, step);
    if (!probe) this.requestSoon(run.info.id, step);
    const missing = store.missingReason(run.info.id, step);
    this.status.textContent = probe ? '' : missing ? `Probes at step ${step} are not available: ${missing}` : `Loading probes at step ${step}…`;

    const layers = probe ? probeLayers(probe) : [];
    let layer = layers.find((l) => l.layer === a.layer);
    layer ??= layers[0];
    this.setOptions(
      this.layerSelect,
      layers.map((l) => ({ value: String(l.layer), label: `Layer ${l.layer}${l.attention ? '' : ' (no attention)'}${l.conv ? ' · conv' : ''}` })),
      layer ? String(layer.layer) : '',
    );
    const heads = layer?.attention?.heads ?? 0;
    const head = a.head >= heads ? HEAD_AVERAGE : a.head;
    this.setOptions(
      this.headSelect,
      heads > 0 ? [{ value: String(HEAD_AVERAGE), label: `Average of ${heads} heads` }, ...Array.from({ length: heads }, (_, i) => ({ value: String(i), label: `Head ${i + 1}` }))] : [],
      String(head),
    );
    this.current = { run, step, probe, layer };
    if (!probe || !layer) {
      // While another step of the same run loads, the last maps stay up, dimmed; otherwise there is nothing to show.
      const keep = !probe && this.drawnRunId === run.info.id;
      this.maps.classList.toggle('stale', keep);
      this.attentionFigure.hidden = this.convFigure.hidden = !keep;
      if (!keep) replaceChildren(this.distance);
      if (probe) this.status.textContent = `The probes at step ${step} hold no layers.`;
      return;
    }
    this.maps.classList.remove('stale');
    this.drawnRunId = run.info.id;
    this.drawAttention(probe, layer, head, step);
    this.drawConv(probe, layer, step);
    this.drawDistances(layers, layer.layer, head, step);
  }

  /** Asks the host for a probe after the slider has rested (a held arrow key does not flood it with requests). */
  private requestSoon(runId: string, step: number): void {
    if (this.ctx.store.isPending(runId, step) || this.ctx.store.missingReason(runId, step) !== undefined) return;
    clearTimeout(this.requestTimer);
    this.requestTimer = setTimeout(() => {
      const cur = this.current;
      if (!cur || cur.run.info.id !== runId || cur.step !== step) return;
      if (this.ctx.store.markRequested(runId, step)) this.ctx.host.post({ type: 'requestProbe', runId, step });
    }, REQUEST_DELAY_MS);
  }

  private setOptions(control: SelectControl, options: { value: string; label: string }[], value: string): void {
    const key = JSON.stringify(options);
    const el = control.element;
    if (key !== control.key) {
      control.key = key;
      replaceChildren(el, ...options.map((o) => h('vscode-option', { value: o.value, selected: o.value === value }, o.label)));
    }
    if (options.length > 0 && el.value !== value) el.value = value;
    el.disabled = options.length === 0;
  }

  private mapWidth(figure: HTMLElement): number {
    const w = figure.clientWidth || this.maps.clientWidth / 2 || 360;
    return Math.max(200, Math.min(560, w - 4));
  }

  /** The real tokens (padding left out) and their count. */
  private realTokens(probe: ProbeMessage): { tokens: string[]; t: number; n: number; note: string } {
    const t = probe.tokens.length;
    const n = Math.max(1, Math.min(t, probe.realLength ?? t));
    return { tokens: probe.tokens.slice(0, n), t, n, note: n < t ? ` (${t - n} padding tokens left out)` : '' };
  }

  private drawAttention(probe: ProbeMessage, layer: ProbeLayer, head: number, step: number): void {
    const { tokens: tok, t, n, note } = this.realTokens(probe);
    const att = layer.attention;
    this.attentionFigure.hidden = false;
    if (!att) {
      this.attentionCaption.textContent = `Attention · layer ${layer.layer}`;
      this.attentionNote.textContent = `Layer ${layer.layer} has no attention module.`;
      this.attentionCanvas.hidden = true;
      return;
    }
    this.attentionCanvas.hidden = false;
    this.attentionNote.textContent = note ? `Showing the ${n} real tokens${note}.` : '';
    const avg = head === HEAD_AVERAGE;
    const data = avg ? headAverage(att.probs, att.heads, t, n) : crop(att.probs, head * t * t, t, n);
    const headLabel = avg ? `average of ${att.heads} heads` : `head ${head + 1} of ${att.heads}`;
    this.attentionCaption.textContent = `Attention · layer ${layer.layer} · ${headLabel}`;
    const g = drawHeatmap(this.attentionCanvas, {
      data,
      rows: n,
      cols: n,
      rowLabels: tok,
      colLabels: tok,
      xTitle: 'key (attended to)',
      yTitle: 'query',
      maxWidth: this.mapWidth(this.attentionFigure),
      theme: this.ctx.theme(),
    });
    const distance = layer.meanDistance ? (avg ? mean(layer.meanDistance) : layer.meanDistance[head]) : undefined;
    this.attentionCanvas.setAttribute(
      'aria-label',
      `Attention heatmap, layer ${layer.layer}, ${headLabel}, step ${step}: ${n} query tokens (rows) by ${n} key tokens (columns): ${tok.join(' ')}. ` +
        `Strongest: "${tok[g.argmax.row]}" attends to "${tok[g.argmax.col]}" with probability ${short(g.argmax.value, 3)}.` +
        (distance !== undefined ? ` Mean attention distance ${short(distance, 3)} tokens.` : ''),
    );
  }

  private drawConv(probe: ProbeMessage, layer: ProbeLayer, step: number): void {
    const { tokens: tok, t, n } = this.realTokens(probe);
    const conv = layer.conv;
    const theme = this.ctx.theme();
    this.convFigure.hidden = false;
    this.convCaption.textContent = `Convolution token mixing · layer ${layer.layer}`;
    if (!conv) {
      this.convNote.textContent = `Layer ${layer.layer} has no convolution module.`;
      this.convCanvas.hidden = true;
      this.kernelBox.hidden = true;
      destroyChart('conv-kernel');
      return;
    }
    this.convCanvas.hidden = false;
    this.convNote.textContent = '';
    this.kernelBox.hidden = false;
    const map = crop(conv.mixing, 0, t, n);
    const g = drawHeatmap(this.convCanvas, {
      data: map,
      rows: n,
      cols: n,
      rowLabels: tok,
      colLabels: tok,
      xTitle: 'input token',
      yTitle: 'output token',
      maxWidth: this.mapWidth(this.convFigure),
      theme,
    });
    const band = bandWidth(map, n);
    this.convCanvas.setAttribute(
      'aria-label',
      `Convolution token-mixing map, layer ${layer.layer}, step ${step}: ${n} output tokens (rows) by ${n} input tokens (columns): ${tok.join(' ')}. ` +
        `Weights lie within ±${band} tokens of the diagonal; values from ${short(g.min, 3)} to ${short(g.max, 3)}` +
        (conv.meanDistance !== undefined ? `; mean mixing distance ${short(conv.meanDistance, 3)} tokens.` : '.'),
    );
    const weights = conv.kernel;
    this.kernelBox.hidden = !weights;
    if (!weights) {
      destroyChart('conv-kernel');
      return;
    }
    const start = conv.kernelStart ?? -Math.floor((weights.length - 1) / 2);
    const labels = Array.from(weights, (_, i) => (i + start > 0 ? `+${i + start}` : String(i + start)));
    const axes = axisColours(theme);
    createChart<'bar', number[]>('conv-kernel', this.kernelCanvas, {
      type: 'bar',
      data: { labels, datasets: [{ label: 'kernel weight', data: Array.from(weights), backgroundColor: theme.kinds.conv ?? theme.foreground, borderColor: theme.foreground, borderWidth: theme.highContrast ? 1 : 0 }] },
      options: {
        scales: {
          x: { title: { display: true, text: 'relative offset (tokens)', ...axes.title }, ticks: axes.ticks, grid: { display: false }, border: axes.border },
          y: { beginAtZero: true, title: { display: true, text: 'mean |weight|', ...axes.title }, ticks: { ...axes.ticks, maxTicksLimit: 4 }, grid: axes.grid, border: axes.border },
        },
        plugins: { legend: { display: false }, tooltip: { ...tooltipColours(theme), callbacks: { title: (items) => `offset ${items[0]?.label ?? ''}` } } },
      },
    });
    this.kernelCanvas.setAttribute('aria-label', `Convolution kernel weight per relative offset, layer ${layer.layer}: ${labels.map((l, i) => `${l}: ${short(weights[i]!, 3)}`).join(', ')}.`);
  }

  private drawDistances(all: ProbeLayer[], currentLayer: number, head: number, step: number): void {
    const layers = all.filter((l) => l.attention || l.conv);
    if (layers.length === 0) {
      replaceChildren(this.distance);
      return;
    }
    const heads = Math.max(0, ...layers.map((l) => l.meanDistance?.length ?? 0));
    const hasConv = layers.some((l) => l.conv?.meanDistance !== undefined);
    const headCells = (i: number) => ({ class: i === head ? 'num current' : 'num' });
    const table = h(
      'table',
      { class: 'distance-table' },
      h('caption', {}, `Mean distance in tokens at step ${step}: how far each attention head, and the convolution, reach on average`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Layer'),
          ...Array.from({ length: heads }, (_, i) => h('th', { scope: 'col', ...headCells(i) }, `H${i + 1}`)),
          heads > 0 ? h('th', { scope: 'col', ...headCells(HEAD_AVERAGE) }, 'Mean') : null,
          hasConv ? h('th', { scope: 'col', class: 'num conv' }, 'Conv') : null,
        ),
      ),
      h(
        'tbody',
        {},
        ...layers.map((l) => {
          const d = l.meanDistance ?? [];
          const isCurrent = l.layer === currentLayer;
          return h(
            'tr',
            { class: isCurrent ? 'current' : undefined, 'aria-current': isCurrent ? 'true' : undefined, 'data-layer': l.layer },
            h('th', { scope: 'row' }, String(l.layer)),
            ...Array.from({ length: heads }, (_, i) => h('td', headCells(i), d[i] === undefined ? '–' : d[i]!.toFixed(2))),
            heads > 0 ? h('td', headCells(HEAD_AVERAGE), d.length ? mean(d).toFixed(2) : '–') : null,
            hasConv ? h('td', { class: 'num conv' }, l.conv?.meanDistance !== undefined ? l.conv.meanDistance.toFixed(2) : '–') : null,
          );
        }),
      ),
    );
    replaceChildren(this.distance, h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'Mean distance per layer and head' }, table));
  }

  private exportPng(): void {
    const cur = this.current;
    if (!cur?.probe || !cur.layer) return;
    const theme = this.ctx.theme();
    const parts = [];
    if (!this.attentionCanvas.hidden && cur.layer.attention) parts.push({ canvas: this.attentionCanvas, title: this.attentionCaption.textContent ?? '' });
    if (!this.convCanvas.hidden && cur.layer.conv) parts.push({ canvas: this.convCanvas, title: this.convCaption.textContent ?? '' });
    if (parts.length === 0) return;
    const data = composePng(parts, { background: theme.background, foreground: theme.foreground, font: `${theme.fontSize}px ${theme.fontFamily}` });
    const head = this.ctx.view.attention.head;
    this.ctx.exportFile('png', safeFileName(`attention-conv-layer${cur.layer.layer}-${head === HEAD_AVERAGE ? 'avg' : `head${head + 1}`}-step${cur.step}`, 'png'), data);
  }

  private exportCsv(): void {
    const cur = this.current;
    if (!cur?.probe || !cur.layer) return;
    const { probe, layer } = cur;
    const { tokens, t, n } = this.realTokens(probe);
    const rows: (string | number)[][] = [];
    const att = layer.attention;
    if (att) {
      for (let hh = 0; hh < att.heads; hh++) {
        for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) rows.push(['attention', layer.layer, hh + 1, r, tokens[r]!, c, tokens[c]!, att.probs[(hh * t + r) * t + c]!]);
      }
    }
    const conv = layer.conv;
    if (conv) for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) rows.push(['conv', layer.layer, '', r, tokens[r]!, c, tokens[c]!, conv.mixing[r * t + c]!]);
    const text = csv(['map', 'layer', 'head', 'row', 'row_token', 'column', 'column_token', 'value'], rows);
    this.ctx.exportFile('csv', safeFileName(`attention-conv-layer${layer.layer}-step${cur.step}`, 'csv'), text);
  }
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
