/**
 * A read-only window onto the running dashboard for the Chromium tests and the first-paint bench:
 * `window.__convbertDashboard`. It exposes what is drawn (chart data read back from the Chart.js instances), the
 * view state and the messages dropped; it cannot change anything.
 */
import { charts } from './charts';
import type { TabId, ViewState } from './state';

export interface ChartDatasetInfo {
  label: string;
  role?: string;
  runId?: string;
  kind?: string;
  hidden: boolean;
  data: unknown[];
  borderColor: unknown;
  backgroundColor: unknown;
}

export interface ChartInfo {
  type: string;
  labels: unknown[];
  datasets: ChartDatasetInfo[];
  scales: Record<string, { type: string; min: number; max: number; title: string; ticks: number[]; tickColor: unknown; gridColor: unknown }>;
  /** The plot area in CSS pixels of the canvas (where a data value is drawn, to point at it). */
  area: { left: number; top: number; right: number; bottom: number };
  /** What the tooltip shows while one is up: its title lines and its body lines (each item's label and after-label). */
  tooltip?: { title: string[]; body: string[] };
  width: number;
  height: number;
}

export interface DashboardInspection {
  charts(): Record<string, ChartInfo>;
  view(): ViewState;
  dropped(): string[];
  renders(): Record<TabId, number>;
  /** Resolves once queued renders are done. */
  settled(): Promise<void>;
}

export function chartInfo(): Record<string, ChartInfo> {
  const out: Record<string, ChartInfo> = {};
  for (const [id, chart] of charts) {
    const scales: ChartInfo['scales'] = {};
    for (const [key, scale] of Object.entries(chart.scales)) {
      const opts = scale.options as { ticks?: { color?: unknown }; grid?: { color?: unknown }; title?: { text?: unknown } };
      const title = opts.title?.text;
      scales[key] = { type: scale.type, min: scale.min, max: scale.max, title: Array.isArray(title) ? title.join(' ') : typeof title === 'string' ? title : '', ticks: scale.ticks.map((t) => t.value), tickColor: opts.ticks?.color, gridColor: opts.grid?.color };
    }
    const tip = chart.tooltip;
    const tooltip = tip && tip.opacity > 0 && tip.getActiveElements().length > 0 ? { title: [...tip.title], body: tip.body.flatMap((b) => [...b.before, ...b.lines, ...b.after]) } : undefined;
    out[id] = {
      type: (chart.config as { type: string }).type,
      labels: [...(chart.data.labels ?? [])],
      datasets: chart.data.datasets.map((d, i) => {
        const extra = d as unknown as { role?: string; runId?: string; kind?: string };
        return {
          label: d.label ?? '',
          ...(extra.role !== undefined ? { role: extra.role } : {}),
          ...(extra.runId !== undefined ? { runId: extra.runId } : {}),
          ...(extra.kind !== undefined ? { kind: extra.kind } : {}),
          hidden: !chart.isDatasetVisible(i),
          data: [...(d.data as unknown[])],
          borderColor: d.borderColor,
          backgroundColor: d.backgroundColor,
        };
      }),
      scales,
      area: { left: chart.chartArea.left, top: chart.chartArea.top, right: chart.chartArea.right, bottom: chart.chartArea.bottom },
      ...(tooltip ? { tooltip } : {}),
      width: chart.width,
      height: chart.height,
    };
  }
  return out;
}

export function installInspection(api: DashboardInspection): void {
  Object.defineProperty(window, '__convbertDashboard', { value: Object.freeze(api), configurable: false, enumerable: false, writable: false });
}
