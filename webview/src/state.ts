/**
 * What the dashboard holds. `DataStore`: the host's data as last sent (runs and their points, cost reports, a
 * small cache of probes); the host owns it and replays it in a `snapshot`, so none of it is persisted here.
 * `ViewState`: what the user chose (tab, smoothing, x-axis, log-x, cost pass, layer/head/step), persisted with
 * `setState` and restored from `getState` on load.
 */
import {
  compareRunsNewestFirst,
  type CostEntry,
  type DashboardView,
  type EvalResultMessage,
  type MetricPoint,
  type ProbeMessage,
  type RunInfo,
  type RunSeries,
  type SnapshotMessage,
  type SweepInfo,
} from '../../src/protocol/webview';

// ---------------------------------------------------------------------------------------------------------
// View state

export const TABS = ['loss', 'costs', 'attention', 'sweep'] as const;
export type TabId = (typeof TABS)[number];
// The host names tabs in `showView` messages: the protocol's views are exactly these tabs.
type TabsMatch = [TabId] extends [DashboardView] ? ([DashboardView] extends [TabId] ? true : false) : false;
const tabsMatch: TabsMatch = true;
void tabsMatch;
/** What the Loss view's x-axis measures: steps, or tokens, training FLOPs or training time through each step. */
export const X_AXES = ['step', 'tokens', 'flops', 'time'] as const;
export type XAxis = (typeof X_AXES)[number];
export const COST_PASSES = ['forward', 'backward', 'both'] as const;
export type CostPass = (typeof COST_PASSES)[number];
export const COST_DISPLAYS = ['chart', 'table'] as const;
export type CostDisplay = (typeof COST_DISPLAYS)[number];

/** Head index −1 is the average over heads. */
export const HEAD_AVERAGE = -1;

export interface ViewState {
  v: 1;
  tab: TabId;
  /** EMA weight in [0, 0.99]. */
  smoothing: number;
  /** The Loss view's x-axis. */
  xAxis: XAxis;
  logX: boolean;
  costPass: CostPass;
  costDisplay: CostDisplay;
  attention: { runId: string | null; layer: number; head: number; step: number | null };
}

export function defaultViewState(): ViewState {
  return { v: 1, tab: 'loss', smoothing: 0.6, xAxis: 'step', logX: false, costPass: 'forward', costDisplay: 'chart', attention: { runId: null, layer: 0, head: HEAD_AVERAGE, step: null } };
}

export const MAX_SMOOTHING = 0.99;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const oneOf = <T extends string>(values: readonly T[], v: unknown, fallback: T): T => ((values as readonly unknown[]).includes(v) ? (v as T) : fallback);
const int = (v: unknown, min: number, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v >= min ? v : fallback);

/** The persisted state, field by field: anything missing or malformed (an older version, a hand edit) gets its default. */
export function sanitizeViewState(raw: unknown): ViewState {
  const d = defaultViewState();
  if (!isObject(raw) || raw.v !== 1) return d;
  const a = isObject(raw.attention) ? raw.attention : {};
  const smoothing = typeof raw.smoothing === 'number' && Number.isFinite(raw.smoothing) ? Math.min(Math.max(raw.smoothing, 0), MAX_SMOOTHING) : d.smoothing;
  return {
    v: 1,
    tab: oneOf(TABS, raw.tab, d.tab),
    smoothing,
    xAxis: oneOf(X_AXES, raw.xAxis, d.xAxis),
    logX: typeof raw.logX === 'boolean' ? raw.logX : d.logX,
    costPass: oneOf(COST_PASSES, raw.costPass, d.costPass),
    costDisplay: oneOf(COST_DISPLAYS, raw.costDisplay, d.costDisplay),
    attention: {
      runId: typeof a.runId === 'string' && a.runId.length <= 256 ? a.runId : null,
      layer: int(a.layer, 0, 0),
      head: int(a.head, HEAD_AVERAGE, HEAD_AVERAGE),
      step: a.step === null ? null : int(a.step, 0, -1) >= 0 ? (a.step as number) : null,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Data

export interface RunData {
  info: RunInfo;
  /** Sorted by step, one entry per step. */
  points: MetricPoint[];
  probeSteps: number[];
}

export type ChangeKind = 'runs' | 'points' | 'selection' | 'costs' | 'probes' | 'sweeps';

const PROBE_CACHE = 12;

export class DataStore {
  runs: RunData[] = [];
  selected = new Set<string>();
  costs: CostEntry[] = [];
  /** The workspace's sweeps (their runs are in `runs`). */
  sweeps: SweepInfo[] = [];
  /** `true` once a snapshot arrived. */
  loaded = false;
  private probes = new Map<string, ProbeMessage>();
  private pending = new Set<string>();
  private missing = new Map<string, string>();
  private listeners: ((what: ChangeKind, runId?: string) => void)[] = [];

  onChange(listener: (what: ChangeKind, runId?: string) => void): void {
    this.listeners.push(listener);
  }

  private emit(what: ChangeKind, runId?: string): void {
    for (const l of this.listeners) l(what, runId);
  }

  run(id: string): RunData | undefined {
    return this.runs.find((r) => r.info.id === id);
  }

  /** The selected runs, in the order the host listed them. */
  selectedRuns(): RunData[] {
    return this.runs.filter((r) => this.selected.has(r.info.id));
  }

  /**
   * A run's colour index: how many runs started before it. The list is newest first, so a new run takes the next
   * colour and the others keep theirs (and selecting or deselecting changes none).
   */
  colourIndex(id: string): number {
    const i = this.runs.findIndex((r) => r.info.id === id);
    return i < 0 ? -1 : this.runs.length - 1 - i;
  }


  applySnapshot(m: SnapshotMessage): void {
    this.runs = m.runs.map((r: RunSeries) => ({
      info: { id: r.id, name: r.name, state: r.state, ...(r.backend !== undefined ? { backend: r.backend } : {}), ...(r.createdAt !== undefined ? { createdAt: r.createdAt } : {}) },
      points: sortedUnique(r.points),
      probeSteps: [...new Set(r.probeSteps)].sort((a, b) => a - b),
    }));
    const ids = new Set(this.runs.map((r) => r.info.id));
    this.selected = new Set(m.selectedRunIds.filter((id) => ids.has(id)));
    this.costs = m.costs;
    // Cached probes of runs that are gone are dropped; the others stay valid (a probe file never changes).
    for (const key of [...this.probes.keys()]) if (!ids.has(key.split('\u0000')[0]!)) this.probes.delete(key);
    this.pending.clear();
    this.missing.clear();
    this.loaded = true;
    this.emit('runs');
    this.emit('costs');
  }

  upsertRun(info: RunInfo): void {
    const run = this.run(info.id);
    if (run) run.info = info;
    else {
      // The host lists runs newest first; a run that appears now goes where the host would list it (usually first).
      const at = this.runs.findIndex((r) => compareRunsNewestFirst(info, r.info) < 0);
      this.runs.splice(at < 0 ? this.runs.length : at, 0, { info, points: [], probeSteps: [] });
    }
    this.emit('runs', info.id);
  }

  /** Merges points by step (a later value for a field replaces the earlier one). Returns false for an unknown run. */
  mergePoints(runId: string, points: readonly MetricPoint[]): boolean {
    const run = this.run(runId);
    if (!run) return false;
    const list = run.points;
    for (const p of points) {
      const last = list[list.length - 1];
      if (!last || p.step > last.step) {
        list.push({ ...p });
        continue;
      }
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.step < p.step) lo = mid + 1;
        else hi = mid;
      }
      if (list[lo]?.step === p.step) list[lo] = { ...list[lo]!, ...p };
      else list.splice(lo, 0, { ...p });
    }
    this.emit('points', runId);
    return true;
  }

  mergeEval(m: EvalResultMessage): boolean {
    return this.mergePoints(m.runId, [{ step: m.step, valLoss: m.loss, ...(m.accuracy !== undefined ? { valAccuracy: m.accuracy } : {}) }]);
  }

  setProbeSteps(runId: string, steps: readonly number[]): boolean {
    const run = this.run(runId);
    if (!run) return false;
    run.probeSteps = [...new Set(steps)].sort((a, b) => a - b);
    this.emit('probes', runId);
    return true;
  }

  setCosts(costs: CostEntry[]): void {
    this.costs = costs;
    this.emit('costs');
  }

  setSweeps(sweeps: SweepInfo[]): void {
    this.sweeps = sweeps;
    this.emit('sweeps');
  }

  setSelection(ids: Iterable<string>): void {
    this.selected = new Set(ids);
    this.emit('selection');
  }

  probe(runId: string, step: number): ProbeMessage | undefined {
    const key = probeKey(runId, step);
    const p = this.probes.get(key);
    if (p) {
      // Most recently used last.
      this.probes.delete(key);
      this.probes.set(key, p);
    }
    return p;
  }

  addProbe(m: ProbeMessage): void {
    const key = probeKey(m.runId, m.step);
    this.probes.delete(key);
    this.probes.set(key, m);
    while (this.probes.size > PROBE_CACHE) this.probes.delete(this.probes.keys().next().value!);
    this.pending.delete(key);
    this.missing.delete(key);
    const run = this.run(m.runId);
    if (run && !run.probeSteps.includes(m.step)) run.probeSteps = [...run.probeSteps, m.step].sort((a, b) => a - b);
    this.emit('probes', m.runId);
  }

  probeMissing(runId: string, step: number, reason: string): void {
    const key = probeKey(runId, step);
    this.pending.delete(key);
    this.missing.set(key, reason);
    this.emit('probes', runId);
  }

  /** Marks a probe as requested; false when it already is (or is cached). */
  markRequested(runId: string, step: number): boolean {
    const key = probeKey(runId, step);
    if (this.pending.has(key) || this.probes.has(key)) return false;
    this.pending.add(key);
    this.missing.delete(key);
    return true;
  }

  isPending(runId: string, step: number): boolean {
    return this.pending.has(probeKey(runId, step));
  }

  missingReason(runId: string, step: number): string | undefined {
    return this.missing.get(probeKey(runId, step));
  }
}

function probeKey(runId: string, step: number): string {
  return `${runId}\u0000${step}`;
}

/** Points sorted by step, merging duplicates (later fields win). */
function sortedUnique(points: readonly MetricPoint[]): MetricPoint[] {
  let sorted = true;
  for (let i = 1; i < points.length; i++) {
    if (points[i]!.step <= points[i - 1]!.step) {
      sorted = false;
      break;
    }
  }
  if (sorted) return points.slice();
  const byStep = new Map<number, MetricPoint>();
  for (const p of points) byStep.set(p.step, { ...byStep.get(p.step), ...p });
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
