/** Chart.js, registered tree-shaken (only what the dashboard draws), themed from `Theme`. */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
  type DefaultDataPoint,
} from 'chart.js';
import type { Theme } from './theme';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, LinearScale, LogarithmicScale, CategoryScale, Tooltip, Legend, Decimation);

/** Every live chart by id, for `inspect.ts`. */
export const charts = new Map<string, Chart>();

export function applyChartDefaults(theme: Theme): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.max(11, Math.round(theme.fontSize * 0.9));
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
}

export function createChart<T extends ChartType, D = DefaultDataPoint<T>>(id: string, canvas: HTMLCanvasElement, config: ChartConfiguration<T, D>): Chart<T, D> {
  charts.get(id)?.destroy();
  const chart = new Chart<T, D>(canvas, config);
  charts.set(id, chart as unknown as Chart);
  return chart;
}

export function destroyChart(id: string): void {
  charts.get(id)?.destroy();
  charts.delete(id);
}

/** Axis colours for a scale: ticks, grid, border and title. */
export function axisColours(theme: Theme) {
  return {
    ticks: { color: theme.foreground },
    grid: { color: theme.grid },
    border: { color: theme.highContrast ? theme.border : theme.grid },
    title: { color: theme.foreground },
  };
}

/** A linear value axis titled `text`, in the theme's colours (the loss and sweep charts' y axis). */
export function linearAxis(theme: Theme, text: string) {
  const axes = axisColours(theme);
  return { type: 'linear' as const, title: { display: true, text, ...axes.title }, ticks: axes.ticks, grid: axes.grid, border: axes.border };
}

export function tooltipColours(theme: Theme) {
  return {
    backgroundColor: theme.background,
    titleColor: theme.foreground,
    bodyColor: theme.foreground,
    footerColor: theme.foreground,
    borderColor: theme.border,
    borderWidth: 1,
  };
}

/** Whether a log axis labels this tick: 1, 2 and 5 × 10ⁿ only (a log axis has many ticks). */
export function isOneTwoFive(v: number): boolean {
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6);
}

export { Chart };
