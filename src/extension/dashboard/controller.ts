/**
 * The host side of the dashboard, without `vscode`: it owns what the panel shows (the run registry's runs and
 * points, the selected runs, the cost reports) and speaks the webview protocol.
 *
 * - Nothing is sent before the webview's `ready`; then a `snapshot`. A hidden webview drops messages (and, with
 *   `retainContextWhenHidden` off, loses its page), so while hidden nothing is pushed, and a fresh `snapshot` is
 *   replayed when the panel becomes visible again.
 * - While visible, changes are pushed incrementally: `run` when a run appears or changes state, `metrics` points
 *   batched to at most 10 messages a second, `eval`, `probeIndex`, and the newest `probe` of a selected run.
 * - `sweeps` (the Sweep tab's sweeps) follows each snapshot when there are any (or the page may still show some),
 *   and is sent whenever they change.
 * - `showView` switches the webview's tab once (Show Costs: the Costs tab). Asked for while the webview cannot
 *   take it (not ready yet, or hidden: its page is reloaded when shown again), it waits for the next `ready` and
 *   follows that snapshot. Otherwise the webview keeps the tab it had (its own persisted view state).
 * - Every message from the webview is validated (`parseFromWebviewMessage`); every message to it is built with
 *   the protocol's constructors and validated in tests.
 */
import type { LogLevel } from '../../protocol';
import {
  exportFileBytes,
  parseFromWebviewMessage,
  toWebview,
  type CostEntry,
  type DashboardView,
  type ExportFileMessage,
  type MetricPoint,
  type SweepInfo,
  type ToWebviewMessage,
} from '../../protocol/webview';
import type { RunRegistry } from '../runs/registry';
import { probeMessage, readProbeFile } from './probe-file';

export interface DashboardHost {
  /** `webview.postMessage`. */
  post(message: ToWebviewMessage): PromiseLike<boolean> | boolean;
  /** Asks where to save an exported file and writes it; resolves to the path written, or undefined if cancelled. */
  saveFile(name: string, kind: ExportFileMessage['kind'], bytes: Uint8Array): Promise<string | undefined>;
  log(level: LogLevel, message: string): void;
}

export interface DashboardControllerOptions {
  /** Milliseconds between batched `metrics` messages (default 100). */
  flushMs?: number;
  /** Reads a probe (tests inject one). */
  readProbe?: typeof readProbeFile;
}

export class DashboardController {
  private ready = false;
  private visible = true;
  private disposed = false;
  private selected: string[] = [];
  private costs: CostEntry[] = [];
  private sweeps: SweepInfo[] = [];
  /** The webview's page may hold sweeps (a non-empty `sweeps` was posted since its last load). */
  private sweepsShown = false;
  /** A `showView` waiting for a webview that listens. */
  private pendingView: DashboardView | undefined;
  private readonly pending = new Map<string, MetricPoint[]>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unsubscribe: () => void;
  private readonly flushMs: number;
  private readonly readProbe: typeof readProbeFile;
  /** Counts of messages sent, by type (for tests and the log). */
  readonly sent = new Map<string, number>();

  constructor(
    private readonly registry: RunRegistry,
    private readonly host: DashboardHost,
    options: DashboardControllerOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 100;
    this.readProbe = options.readProbe ?? readProbeFile;
    this.unsubscribe = registry.onDidChange((change) => this.onRegistryChange(change));
  }

  get isReady(): boolean {
    return this.ready;
  }

  get selectedRunIds(): readonly string[] {
    return this.selected;
  }

  get costEntries(): readonly CostEntry[] {
    return this.costs;
  }

  /** Whatever the webview posted. Invalid messages are logged and dropped. */
  async receive(raw: unknown): Promise<void> {
    const parsed = parseFromWebviewMessage(raw);
    if (!parsed.ok) {
      this.host.log('warn', `dashboard: dropped a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.message;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.sendSnapshot();
        if (this.pendingView && this.live) {
          this.post(toWebview({ type: 'showView', view: this.pendingView }));
          this.pendingView = undefined;
        }
        return;
      case 'selectRuns':
        this.selected = m.runIds.filter((id) => this.registry.get(id));
        return;
      case 'requestProbe':
        await this.sendProbe(m.runId, m.step, true);
        return;
      case 'exportFile': {
        try {
          const written = await this.host.saveFile(m.name, m.kind, exportFileBytes(m));
          if (written) this.host.log('info', `dashboard: saved ${written}`);
        } catch (e) {
          this.host.log('error', `dashboard: could not save ${m.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
        return;
      }
      case 'log':
        this.host.log(m.level, `dashboard: ${m.message}`);
        return;
    }
  }

  /** The panel became visible or hidden. Visible again: replay the snapshot (a hidden webview dropped messages). */
  setVisible(visible: boolean): void {
    const was = this.visible;
    this.visible = visible;
    if (!visible) {
      this.pending.clear();
      return;
    }
    if (!was && this.ready) this.sendSnapshot();
  }

  /** The webview's page was (re)loaded: wait for its `ready` before sending anything. */
  resetReady(): void {
    this.ready = false;
    this.sweepsShown = false;
    this.pending.clear();
  }

  /** Selects runs to overlay (unknown ids are dropped); pushes a snapshot when live. */
  select(runIds: string[]): void {
    this.selected = [...new Set(runIds)].filter((id) => this.registry.get(id));
    if (this.live) this.sendSnapshot();
  }

  /** Switches the webview to a view (tab): now when it listens, else after its next `ready`. */
  showView(view: DashboardView): void {
    if (this.live) {
      this.pendingView = undefined;
      this.post(toWebview({ type: 'showView', view }));
    } else {
      this.pendingView = view;
    }
  }

  /** Replaces the cost reports (0–2). */
  setCosts(costs: CostEntry[]): void {
    this.costs = costs.slice(0, 2);
    if (this.live) this.post(toWebview({ type: 'costs', costs: this.costs }));
  }

  /** Replaces the sweeps (the Sweep tab); sent now when live, and after every snapshot. */
  setSweeps(sweeps: SweepInfo[]): void {
    this.sweeps = sweeps;
    if (this.live) this.postSweeps();
  }

  private postSweeps(): void {
    this.post(toWebview({ type: 'sweeps', sweeps: this.sweeps }));
    if (this.live) this.sweepsShown = this.sweeps.length > 0;
  }

  get sweepInfos(): readonly SweepInfo[] {
    return this.sweeps;
  }

  private get live(): boolean {
    return this.ready && this.visible && !this.disposed;
  }

  private post(message: ToWebviewMessage): void {
    if (!this.live) return;
    this.sent.set(message.type, (this.sent.get(message.type) ?? 0) + 1);
    try {
      const r = this.host.post(message);
      if (typeof r === 'object' && r && typeof r.then === 'function') {
        r.then(
          (ok) => {
            if (!ok) this.host.log('debug', `dashboard: the webview did not take a ${message.type} message`);
          },
          () => undefined,
        );
      }
    } catch (e) {
      this.host.log('warn', `dashboard: could not post ${message.type}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  sendSnapshot(): void {
    if (!this.live) return;
    this.pending.clear();
    const runs = this.registry.series();
    if (this.selected.length === 0 && runs[0]) this.selected = [runs[0].id];
    this.selected = this.selected.filter((id) => runs.some((r) => r.id === id));
    this.post(toWebview({ type: 'snapshot', runs, selectedRunIds: this.selected, costs: this.costs }));
    if (this.sweeps.length > 0 || this.sweepsShown) this.postSweeps();
    // The newest probe of the first selected run, so the heatmaps have something to show at once.
    const first = this.selected[0];
    const steps = first ? this.registry.probeSteps(first) : [];
    if (first && steps.length > 0) void this.sendProbe(first, steps[steps.length - 1] as number, false);
  }

  private async sendProbe(runId: string, step: number, requested: boolean): Promise<void> {
    const run = this.registry.get(runId);
    if (!run) {
      if (requested) this.post(toWebview({ type: 'probeMissing', runId, step, reason: `no run ${runId}` }));
      return;
    }
    try {
      const probe = await this.readProbe(run.dir, step);
      this.post(probeMessage(runId, probe));
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (requested) this.post(toWebview({ type: 'probeMissing', runId, step, reason: reason.slice(0, 1000) }));
      this.host.log('debug', `dashboard: probe ${runId}@${step}: ${reason}`);
    }
  }

  private onRegistryChange(change: Parameters<Parameters<RunRegistry['onDidChange']>[0]>[0]): void {
    if (!this.live) return;
    const { runId, point, message, superseded } = change;
    if (!runId || superseded) {
      // A rescan: anything may have changed. Superseded points (a resume from an earlier step): the webview merges
      // `metrics` by step and would keep them, so it gets the history anew.
      this.sendSnapshot();
      return;
    }
    const info = this.registry.dashboardInfo(runId);
    if (!info) {
      this.sendSnapshot(); // deleted
      return;
    }
    if (!message || message.type === 'started' || message.type === 'done' || message.type === 'state') {
      this.post(toWebview({ type: 'run', run: info }));
      if (this.selected.length === 0) this.selected = [runId];
    }
    if (point) {
      const list = this.pending.get(runId) ?? [];
      list.push(point);
      this.pending.set(runId, list);
      this.timer ??= setTimeout(() => this.flush(), this.flushMs);
    }
    if (message?.type === 'eval') {
      this.flush();
      this.post(toWebview({ type: 'eval', runId, step: message.step, loss: message.loss, accuracy: message.mlmAccuracy }));
    }
    if (message?.type === 'probes') {
      this.post(toWebview({ type: 'probeIndex', runId, steps: this.registry.probeSteps(runId) }));
      if (this.selected.includes(runId)) void this.sendProbe(runId, message.step, false);
    }
  }

  /** Sends the batched points now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [runId, points] of this.pending) {
      if (points.length === 0) continue;
      // One point per step, the latest (a step's loss and its eval arrive separately).
      const byStep = new Map<number, MetricPoint>();
      for (const p of points) byStep.set(p.step, { ...byStep.get(p.step), ...p });
      this.post(toWebview({ type: 'metrics', runId, points: [...byStep.values()].sort((a, b) => a.step - b.step) }));
    }
    this.pending.clear();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe();
  }
}
