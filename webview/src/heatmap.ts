/**
 * A T × T heatmap on a plain canvas: cells coloured by viridis over the matrix's range, token labels on both
 * axes (thinned when cells get too small to hold text), axis titles, and a colour bar with its range. Pixels are
 * put into a T × T bitmap and scaled up without smoothing, so any T draws in one `drawImage`.
 *
 * For tests and tools, the canvas carries its geometry in CSS pixels: `data-rows`, `data-cols`, `data-cell`,
 * `data-origin-x`, `data-origin-y`, `data-min`, `data-max`, and `data-tokens` (JSON).
 */
import { VIRIDIS_LUT, viridisHex } from './colormap';
import type { Theme } from './theme';

export interface HeatmapOptions {
  /** Row-major `rows × cols` values, starting at `offset`. */
  data: Float32Array;
  offset?: number;
  rows: number;
  cols: number;
  rowLabels: readonly string[];
  colLabels: readonly string[];
  xTitle: string;
  yTitle: string;
  /** Width available, CSS pixels. */
  maxWidth: number;
  theme: Theme;
}

export interface HeatmapGeometry {
  cell: number;
  originX: number;
  originY: number;
  width: number;
  height: number;
  min: number;
  max: number;
  /** The largest value and where it is (row, column). */
  argmax: { row: number; col: number; value: number };
}

const LABEL_PX = 11;
const MAX_LABEL_CHARS = 14;
const BAR_W = 12;

function clip(label: string): string {
  return label.length > MAX_LABEL_CHARS ? `${label.slice(0, MAX_LABEL_CHARS - 1)}…` : label;
}

export function drawHeatmap(canvas: HTMLCanvasElement, o: HeatmapOptions): HeatmapGeometry {
  const { rows, cols, data, theme } = o;
  const offset = o.offset ?? 0;
  let min = Infinity;
  let max = -Infinity;
  let argmax = { row: 0, col: 0, value: -Infinity };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[offset + r * cols + c]!;
      if (v < min) min = v;
      if (v > max) {
        max = v;
        argmax = { row: r, col: c, value: v };
      }
    }
  }
  if (!Number.isFinite(min)) min = max = 0;
  // Non-negative data (probabilities, magnitudes) starts the scale at 0; signed data spans its range.
  const lo = min >= 0 ? 0 : min;
  const hi = max > lo ? max : lo + 1;

  const ctx = canvas.getContext('2d');
  const font = `${LABEL_PX}px ${theme.fontFamily}`;
  const titleFont = `${LABEL_PX + 1}px ${theme.fontFamily}`;
  let labelW = 0;
  if (ctx) {
    ctx.font = font;
    for (const l of [...o.rowLabels, ...o.colLabels]) labelW = Math.max(labelW, ctx.measureText(clip(l)).width);
  }
  labelW = Math.ceil(labelW);
  const titleH = LABEL_PX + 6;
  const left = titleH + labelW + 6;
  const top = 8;
  const barSpace = BAR_W + 8 + 44;
  const cell = Math.max(2, Math.min(28, Math.floor((o.maxWidth - left - barSpace - 8) / Math.max(cols, 1))));
  const gridW = cell * cols;
  const gridH = cell * rows;
  const width = left + gridW + barSpace;
  const height = top + gridH + 6 + labelW + titleH + 4;

  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  Object.assign(canvas.dataset, {
    rows: String(rows),
    cols: String(cols),
    cell: String(cell),
    originX: String(left),
    originY: String(top),
    min: String(lo),
    max: String(hi),
    tokens: JSON.stringify(o.colLabels),
  });
  const geometry: HeatmapGeometry = { cell, originX: left, originY: top, width, height, min: lo, max: hi, argmax };
  if (!ctx) return geometry;

  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  // Cells: a cols × rows bitmap, scaled up with nearest-neighbour.
  const bitmap = document.createElement('canvas');
  bitmap.width = cols;
  bitmap.height = rows;
  const bctx = bitmap.getContext('2d');
  if (bctx) {
    const img = bctx.createImageData(cols, rows);
    const px = img.data;
    const scale = 255 / (hi - lo);
    for (let i = 0; i < rows * cols; i++) {
      const k = Math.min(255, Math.max(0, Math.round((data[offset + i]! - lo) * scale))) * 4;
      px[i * 4] = VIRIDIS_LUT[k]!;
      px[i * 4 + 1] = VIRIDIS_LUT[k + 1]!;
      px[i * 4 + 2] = VIRIDIS_LUT[k + 2]!;
      px[i * 4 + 3] = 255;
    }
    bctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bitmap, left, top, gridW, gridH);
  }
  ctx.strokeStyle = theme.highContrast ? theme.border : theme.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, gridW + 1, gridH + 1);

  // Labels: every `stride`-th one when cells are smaller than the text.
  ctx.fillStyle = theme.foreground;
  ctx.font = font;
  const stride = Math.max(1, Math.ceil((LABEL_PX + 1) / cell));
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let r = 0; r < rows; r += stride) ctx.fillText(clip(o.rowLabels[r] ?? ''), left - 5, top + (r + 0.5) * cell);
  for (let c = 0; c < cols; c += stride) {
    ctx.save();
    ctx.translate(left + (c + 0.5) * cell, top + gridH + 5);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(clip(o.colLabels[c] ?? ''), 0, 0);
    ctx.restore();
  }

  // Axis titles.
  ctx.font = titleFont;
  ctx.fillStyle = theme.muted;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(o.xTitle, left + gridW / 2, height - 2);
  ctx.save();
  ctx.translate(2, top + gridH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'top';
  ctx.fillText(o.yTitle, 0, 0);
  ctx.restore();

  // Colour bar.
  const bx = left + gridW + 10;
  const steps = Math.max(2, Math.round(gridH));
  for (let i = 0; i < steps; i++) {
    ctx.fillStyle = viridisHex(1 - i / (steps - 1));
    ctx.fillRect(bx, top + (i * gridH) / steps, BAR_W, gridH / steps + 0.5);
  }
  ctx.strokeStyle = theme.highContrast ? theme.border : theme.grid;
  ctx.strokeRect(bx - 0.5, top - 0.5, BAR_W + 1, gridH + 1);
  ctx.fillStyle = theme.foreground;
  ctx.font = font;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(formatTick(hi), bx + BAR_W + 4, top);
  ctx.textBaseline = 'bottom';
  ctx.fillText(formatTick(lo), bx + BAR_W + 4, top + gridH);
  return geometry;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 100 || Math.abs(v) < 0.01 ? v.toExponential(1) : String(Number(v.toPrecision(2)));
}
