/**
 * The run registry: every run directory under the runs folders (`.convbert/runs/<id>/` by default), what state
 * each run is in, and its metric history, which the Runs view and the dashboard show. The run directories are
 * the truth: after a window reload the registry rescans them, and a run whose `run.json` says `running` but whose
 * trainer process is gone is shown as `interrupted` (and resumable). Runs this window started are "live": their
 * state and points come from the trainer's messages as they arrive, and are appended to what the directory held.
 *
 * Pure Node (no `vscode`): unit-tested against real directories.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TrainerMessage } from '../../protocol';
import { compareRunsNewestFirst, type MetricPoint, type RunInfo as DashboardRunInfo, type RunSeries, type RunState } from '../../protocol/webview';
import { readMetricEvents } from '../../run-format/metrics';
import { effectiveRunState, isPidAlive, isRunId, readRunInfo, runPaths, updateRunInfo, type RunInfo } from '../../run-format/run-dir';
import { probeStepsOnDisk } from '../../run-format/probes';
import { accumulateTotals, type StepTotals } from '../../run-format/totals';

export interface RunRecord {
  runId: string;
  dir: string;
  /** The runs folder it was found in. */
  root: string;
  /** What the run is called: the name the user gave it (`displayName`), else the spec's name, else its id. */
  name: string;
  /** The name the user gave it (Rename Run), when any. */
  displayName?: string;
  /** The spec's name (`run.json`'s `name`), when known. */
  specName?: string;
  state: RunState;
  backend?: string;
  /** What the backend said it is (its report's `details.description`: "PyTorch 2.5 on the CPU, 2 ranks (Python 3.12)"), once the history is read. */
  backendDescription?: string;
  /** The device limits a GPU backend requested (its report's `details.limits`), once the history is read. */
  backendLimits?: string;
  step: number;
  totalSteps?: number;
  /** The lowest validation loss, else the lowest training loss; `undefined` before the first step. */
  bestLoss?: number;
  /** Which loss `bestLoss` is: `val` once there is an evaluation, else `train`. */
  bestKind?: 'train' | 'val';
  /** The last training loss. */
  lastLoss?: number;
  createdAt?: string;
  updatedAt?: string;
  lastCheckpoint?: string;
  message?: string;
  /** `true` while a trainer this window started runs it. */
  live: boolean;
  /** Can be continued from its directory (stopped, failed or interrupted). */
  resumable: boolean;
  /** The spec file the run was started from, when this window started it. */
  specSource?: string;
}

export type PidAlive = (pid: number) => boolean;

/** `process.kill(pid, 0)`: true when the process exists (EPERM: it exists but is not ours). */
export const defaultPidAlive: PidAlive = isPidAlive;

interface Entry extends History {
  /** metrics.jsonl size when it was last read (history is re-read when it grows and the run is not live). */
  historySize: number;
  historyLoaded: boolean;
  info?: RunInfo;
}

/**
 * How `run.json`'s state reads for the dashboard: core's `effectiveRunState` (the CLI's reading too: a running or
 * paused run whose trainer is gone is interrupted), and a `created` run is starting while its process lives.
 */
export function displayState(info: RunInfo, isAlive: PidAlive = defaultPidAlive): RunState {
  switch (info.state) {
    case 'created':
      return info.pid !== undefined && isAlive(info.pid) ? 'starting' : 'interrupted';
    case 'running':
    case 'paused': {
      const state = effectiveRunState(info, isAlive);
      return state === 'created' ? 'interrupted' : state;
    }
    case 'stopped':
    case 'cancelled':
    case 'completed':
    case 'nonfinite':
    case 'error':
      return info.state;
    default:
      return 'interrupted';
  }
}

const RESUMABLE: ReadonlySet<RunState> = new Set(['interrupted', 'stopped', 'error']);

/**
 * Whether Resume is offered. A cancelled run is resumable only when it holds a checkpoint (one cancelled while a
 * resume was setting up); one cancelled before its first checkpoint has nothing to continue.
 */
export function isResumable(state: RunState, live: boolean, hasCheckpoint = false): boolean {
  return !live && (RESUMABLE.has(state) || (state === 'cancelled' && hasCheckpoint));
}

function mergePoint(points: Map<number, MetricPoint>, point: MetricPoint): void {
  const prev = points.get(point.step);
  points.set(point.step, prev ? { ...prev, ...point } : point);
}

/** Folds one trainer message into the points and the record. Returns the point it added or changed, if any. */
export interface History {
  points: Map<number, MetricPoint>;
  probeSteps: Set<number>;
  record: RunRecord;
  /** An evaluation has been seen (the best loss is then the best evaluation loss). */
  evalSeen: boolean;
  /** Tokens, FLOPs and training time through each kept step (`run-format/totals.ts`), ascending. */
  totals: StepTotals[];
}

/**
 * The run (re)starts from `step`: what it recorded past that step is superseded (a resume from the checkpoint at
 * `step`, or from scratch at 0), so those points and probe steps are dropped and the losses recomputed.
 * Returns whether anything was dropped.
 */
export function supersedeAfter(entry: History, step: number): boolean {
  let dropped = false;
  for (const s of [...entry.points.keys()]) {
    if (s > step) {
      entry.points.delete(s);
      dropped = true;
    }
  }
  for (const s of [...entry.probeSteps]) if (s > step) entry.probeSteps.delete(s);
  if (!dropped) return false;
  const r = entry.record;
  const kept = [...entry.points.values()].sort((a, b) => a.step - b.step);
  const val = kept.filter((p) => p.valLoss !== undefined).map((p) => p.valLoss as number);
  const train = kept.filter((p) => p.loss !== undefined).map((p) => p.loss as number);
  entry.evalSeen = val.length > 0;
  const best = val.length > 0 ? Math.min(...val) : train.length > 0 ? Math.min(...train) : undefined;
  if (best === undefined) {
    delete r.bestLoss;
    delete r.bestKind;
  } else {
    r.bestLoss = best;
    r.bestKind = val.length > 0 ? 'val' : 'train';
  }
  if (train.length > 0) r.lastLoss = train[train.length - 1];
  else delete r.lastLoss;
  return true;
}

export function applyToHistory(entry: History, m: TrainerMessage): MetricPoint | undefined {
  const r = entry.record;
  switch (m.type) {
    case 'started':
      accumulateTotals(entry.totals, m);
      supersedeAfter(entry, m.step);
      r.backend = m.backend.name;
      if (typeof m.backend.details?.description === 'string' && m.backend.details.description) r.backendDescription = m.backend.details.description;
      if (typeof m.backend.details?.limits === 'string' && m.backend.details.limits) r.backendLimits = m.backend.details.limits;
      r.step = m.step;
      r.totalSteps = m.totalSteps;
      return undefined;
    case 'metrics': {
      // A step recorded again (a history that restarted without a `started` line, as old runs' files may hold):
      // the later value replaces the earlier one and everything after it, never merges with it (the totals'
      // rule: a step at or before the last one recorded starts the history again from there). The totals hold
      // exactly the steps with a training loss among the points, so their last step is the one to compare with.
      const last = entry.totals[entry.totals.length - 1];
      if (last !== undefined && last.step >= m.step) {
        supersedeAfter(entry, m.step);
        entry.points.delete(m.step);
      }
      const totals = accumulateTotals(entry.totals, m) as StepTotals;
      mergePoint(entry.points, { step: m.step, loss: m.loss, lr: m.learningRate, ...totalsFields(totals) });
      r.step = Math.max(r.step, m.step);
      r.lastLoss = m.loss;
      if (!entry.evalSeen) {
        r.bestLoss = minLoss(r.bestLoss, m.loss);
        r.bestKind = 'train';
      }
      return entry.points.get(m.step);
    }
    case 'eval': {
      mergePoint(entry.points, { step: m.step, valLoss: m.loss, valAccuracy: m.mlmAccuracy });
      // Once there is an evaluation, the best loss is the best evaluation loss.
      r.bestLoss = entry.evalSeen ? minLoss(r.bestLoss, m.loss) : m.loss;
      r.bestKind = 'val';
      entry.evalSeen = true;
      return entry.points.get(m.step);
    }
    case 'probes':
      // The dashboard shows the binary probe files of core/train/probes.ts: the message names one, or its summary does
      // (the masked-LM job's `file`); a job's other probe data (the toy job's JSON) is not something it can draw.
      if (probeFileOf(m) !== undefined) entry.probeSteps.add(m.step);
      return undefined;
    case 'checkpoint':
      r.lastCheckpoint = m.path;
      return undefined;
    case 'progress':
      r.step = m.step;
      r.totalSteps = m.totalSteps;
      return undefined;
    case 'done':
      r.step = m.step;
      r.state = m.reason;
      if (typeof m.summary.message === 'string') r.message = m.summary.message;
      return undefined;
    case 'error':
      if (m.fatal) r.message = m.message;
      return undefined;
    case 'state':
      r.state = m.state;
      return undefined;
    default:
      return undefined;
  }
}

/** The `.probe` file a `probes` message points at, if any. */
export function probeFileOf(m: Extract<TrainerMessage, { type: 'probes' }>): string | undefined {
  if (m.path.endsWith('.probe')) return m.path;
  const file = m.summary.file;
  return typeof file === 'string' && file.endsWith('.probe') ? file : undefined;
}

/** A point's cumulative fields; tokens and FLOPs only when recorded (a job without a cost model reports 0 FLOPs). */
function totalsFields(t: StepTotals): Pick<MetricPoint, 'tokens' | 'flops' | 'trainingMs'> {
  return { ...(t.tokens > 0 ? { tokens: t.tokens } : {}), ...(t.flops > 0 ? { flops: t.flops } : {}), trainingMs: t.trainingMs };
}

function minLoss(a: number | undefined, b: number): number {
  return a === undefined ? b : Math.min(a, b);
}

export interface RegistryOptions {
  /** The runs folders to scan (absolute). */
  roots: () => string[];
  pidAlive?: PidAlive;
}

/** `superseded`: points of the run were dropped (a resume restarts from an earlier step): show its history anew. */
export type RegistryListener = (change: { runId?: string; point?: MetricPoint; message?: TrainerMessage; superseded?: boolean }) => void;

export class RunRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<RegistryListener>();
  private readonly pidAlive: PidAlive;
  private scanning: Promise<void> | undefined;
  private rescan = false;
  private scanned = false;

  constructor(private readonly options: RegistryOptions) {
    this.pidAlive = options.pidAlive ?? defaultPidAlive;
  }

  onDidChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private fire(change: Parameters<RegistryListener>[0] = {}): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Runs, newest first (by start time, then id). */
  list(): RunRecord[] {
    return [...this.entries.values()].map((e) => e.record).sort((a, b) => compareRunsNewestFirst({ id: a.runId, ...(a.createdAt ? { createdAt: a.createdAt } : {}) }, { id: b.runId, ...(b.createdAt ? { createdAt: b.createdAt } : {}) }));
  }

  get(runId: string): RunRecord | undefined {
    return this.entries.get(runId)?.record;
  }

  /** Rescans the runs folders (coalesced: concurrent calls share one scan, and one more follows if asked meanwhile). */
  refresh(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        await this.scan();
      } while (this.rescan);
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** What a rescan can change, to tell listeners only when it did (the files change every step of a live run). */
  private signature(): string {
    return [...this.entries.values()].map((e) => `${JSON.stringify(e.record)}|${e.points.size}|${e.probeSteps.size}`).sort().join('\n');
  }

  private async scan(): Promise<void> {
    const before = this.signature();
    const seen = new Set<string>();
    for (const root of this.options.roots()) {
      let names: string[];
      try {
        names = await fsp.readdir(root);
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const dir = path.join(root, name);
        const info = await readRunInfo(dir);
        if (!info && !isRunId(name)) continue;
        seen.add(name);
        await this.load(name, dir, root, info);
      }
    }
    for (const [runId, entry] of this.entries) if (!seen.has(runId) && !entry.record.live) this.entries.delete(runId);
    if (this.signature() !== before || !this.scanned) this.fire();
    this.scanned = true;
  }

  private async load(runId: string, dir: string, root: string, info: RunInfo | undefined): Promise<void> {
    let entry = this.entries.get(runId);
    if (entry?.record.live) return; // the trainer's messages are newer than the files
    const state: RunState = info ? displayState(info, this.pidAlive) : 'interrupted';
    const record: RunRecord = {
      runId,
      dir,
      root,
      name: info?.displayName || info?.name || runId,
      ...(info?.displayName ? { displayName: info.displayName } : {}),
      ...(info?.name ? { specName: info.name } : {}),
      state,
      step: info?.step ?? 0,
      ...(info?.backend ? { backend: info.backend.name } : {}),
      ...(info?.backend?.description ? { backendDescription: info.backend.description } : {}),
      ...(info?.backend?.limits ? { backendLimits: info.backend.limits } : {}),
      ...(info?.totalSteps !== undefined ? { totalSteps: info.totalSteps } : {}),
      ...(info?.createdAt ? { createdAt: info.createdAt } : {}),
      ...(info?.updatedAt ? { updatedAt: info.updatedAt } : {}),
      ...(info?.lastCheckpoint ? { lastCheckpoint: info.lastCheckpoint } : {}),
      ...(info?.message ? { message: info.message } : {}),
      live: false,
      resumable: isResumable(state, false, Boolean(info?.lastCheckpoint)),
      ...(entry?.record.specSource ? { specSource: entry.record.specSource } : {}),
    };
    if (!entry) {
      entry = { record, points: new Map(), probeSteps: new Set(), evalSeen: false, totals: [], historySize: -1, historyLoaded: false, ...(info ? { info } : {}) };
      this.entries.set(runId, entry);
    } else {
      // What the history added stays (it is re-read only when metrics.jsonl changed): the losses, and what the backend
      // said it is for run.json files that do not carry it.
      const { bestLoss, bestKind, lastLoss, backendDescription, backendLimits } = entry.record;
      entry.record = {
        ...(backendDescription ? { backendDescription } : {}),
        ...(backendLimits ? { backendLimits } : {}),
        ...record,
        ...(bestLoss !== undefined ? { bestLoss } : {}),
        ...(bestKind ? { bestKind } : {}),
        ...(lastLoss !== undefined ? { lastLoss } : {}),
      };
      if (info) entry.info = info;
    }
    await this.loadHistory(entry);
  }

  /** Reads metrics.jsonl when it changed since the last read. */
  private async loadHistory(entry: Entry): Promise<void> {
    const file = runPaths(entry.record.dir).metrics;
    let size = 0;
    try {
      size = (await fsp.stat(file)).size;
    } catch {
      size = 0;
    }
    if (entry.historyLoaded && size === entry.historySize) return;
    const history = await readMetricEvents(entry.record.dir);
    const fresh: History = { points: new Map<number, MetricPoint>(), probeSteps: new Set<number>(), evalSeen: false, totals: [], record: { ...entry.record, bestLoss: undefined, bestKind: undefined, lastLoss: undefined } as RunRecord };
    const keep = { state: entry.record.state, step: entry.record.step, totalSteps: entry.record.totalSteps, backend: entry.record.backend };
    for (const m of history.events) applyToHistory(fresh, m);
    for (const step of await probeStepsOnDisk(entry.record.dir)) fresh.probeSteps.add(step);
    entry.points = fresh.points;
    entry.probeSteps = fresh.probeSteps;
    entry.evalSeen = fresh.evalSeen;
    entry.totals = fresh.totals;
    entry.record = {
      ...entry.record,
      // run.json is the truth for state and steps; the history adds losses (and a backend for old run.json files).
      state: keep.state,
      step: Math.max(keep.step, fresh.record.step),
      ...(keep.totalSteps !== undefined ? { totalSteps: keep.totalSteps } : fresh.record.totalSteps !== undefined ? { totalSteps: fresh.record.totalSteps } : {}),
      ...(keep.backend ?? fresh.record.backend ? { backend: (keep.backend ?? fresh.record.backend) as string } : {}),
      ...(fresh.record.backendDescription ? { backendDescription: fresh.record.backendDescription } : {}),
      ...(fresh.record.backendLimits ? { backendLimits: fresh.record.backendLimits } : {}),
      ...(fresh.record.bestLoss !== undefined ? { bestLoss: fresh.record.bestLoss } : {}),
      ...(fresh.record.bestKind ? { bestKind: fresh.record.bestKind } : {}),
      ...(fresh.record.lastLoss !== undefined ? { lastLoss: fresh.record.lastLoss } : {}),
    };
    if (fresh.record.bestLoss === undefined) delete entry.record.bestLoss;
    if (!fresh.record.bestKind) delete entry.record.bestKind;
    if (fresh.record.lastLoss === undefined) delete entry.record.lastLoss;
    entry.historySize = size;
    entry.historyLoaded = true;
  }

  /** A run this window is starting: registered before its directory has a run.json. */
  async beginLive(runId: string, dir: string, root: string, options: { name: string; specSource?: string; resume?: boolean }): Promise<RunRecord> {
    let entry = this.entries.get(runId);
    if (entry && options.resume) await this.loadHistory(entry);
    const base: RunRecord = entry?.record ?? { runId, dir, root, name: options.name, state: 'starting', step: 0, live: true, resumable: false };
    const record: RunRecord = { ...base, name: base.displayName || options.name || base.name, state: 'starting', live: true, resumable: false, ...(options.specSource ? { specSource: options.specSource } : {}) };
    delete record.message;
    if (!entry) {
      entry = { record, points: new Map(), probeSteps: new Set(), evalSeen: false, totals: [], historySize: -1, historyLoaded: true };
      this.entries.set(runId, entry);
    } else {
      entry.record = record;
    }
    this.fire({ runId });
    return record;
  }

  /** A message from a live run's trainer. */
  apply(runId: string, message: TrainerMessage): void {
    const entry = this.entries.get(runId);
    if (!entry) return;
    if (message.type === 'started') {
      entry.record.state = 'running';
      // The points past the step it starts from are superseded (applyToHistory drops them).
    }
    const before = entry.points.size;
    const point = applyToHistory(entry, message);
    if (message.type === 'done') {
      entry.record.live = false;
      entry.record.resumable = isResumable(entry.record.state, false, Boolean(entry.record.lastCheckpoint));
    }
    this.fire({ runId, ...(point ? { point } : {}), message, ...(entry.points.size < before ? { superseded: true } : {}) });
  }

  /** A live run's process ended (with or without `done`). */
  async endLive(runId: string, error?: string): Promise<void> {
    const entry = this.entries.get(runId);
    if (!entry) return;
    entry.record.live = false;
    if (!['completed', 'stopped', 'cancelled', 'nonfinite', 'error'].includes(entry.record.state)) {
      entry.record.state = error ? 'error' : 'interrupted';
      if (error) entry.record.message = error;
    }
    // What the trainer wrote is the truth for steps and checkpoints.
    const info = await readRunInfo(entry.record.dir);
    if (info) {
      entry.info = info;
      if (info.createdAt && !entry.record.createdAt) entry.record.createdAt = info.createdAt;
      // A rename while it ran could have raced with one of the trainer's writes: the name given wins.
      const given = entry.record.displayName;
      if (given && info.displayName !== given) entry.info = await updateRunInfo(entry.record.dir, { displayName: given }).catch(() => info);
      if (info.lastCheckpoint) entry.record.lastCheckpoint = info.lastCheckpoint;
      entry.record.step = Math.max(entry.record.step, info.step);
    }
    entry.record.resumable = isResumable(entry.record.state, false, Boolean(entry.record.lastCheckpoint));
    try {
      entry.historySize = (await fsp.stat(runPaths(entry.record.dir).metrics)).size;
    } catch {
      // no history written
    }
    this.fire({ runId });
  }

  /**
   * Gives a run a name of its own (Rename Run), written into its `run.json` as `displayName`; an empty name goes
   * back to the spec's. A running trainer patches `run.json` field by field, so the name survives its writes.
   */
  async rename(runId: string, name: string): Promise<RunRecord> {
    const entry = this.entries.get(runId);
    if (!entry) throw new Error(`no run ${runId}`);
    const displayName = name.replace(/[\r\n\t]+/g, ' ').trim().slice(0, 256);
    const info = await updateRunInfo(entry.record.dir, { displayName: displayName || undefined });
    entry.info = info;
    const r = entry.record;
    if (displayName) r.displayName = displayName;
    else delete r.displayName;
    r.name = displayName || info.name || runId;
    this.fire({ runId });
    return r;
  }

  /** Deletes a run's directory (not while it runs). */
  async delete(runId: string): Promise<void> {
    const entry = this.entries.get(runId);
    if (!entry) return;
    if (entry.record.live || entry.record.state === 'running' || entry.record.state === 'starting' || entry.record.state === 'stopping') {
      throw new Error(`run ${runId} is still running; stop it first`);
    }
    await fsp.rm(entry.record.dir, { recursive: true, force: true });
    this.entries.delete(runId);
    this.fire({ runId });
  }

  /** The points of a run, sorted by step. */
  points(runId: string): MetricPoint[] {
    const entry = this.entries.get(runId);
    if (!entry) return [];
    return [...entry.points.values()].sort((a, b) => a.step - b.step);
  }

  probeSteps(runId: string): number[] {
    return [...(this.entries.get(runId)?.probeSteps ?? [])].sort((a, b) => a - b);
  }

  /** A run as the dashboard's `run` message carries it. */
  dashboardInfo(runId: string): DashboardRunInfo | undefined {
    const r = this.get(runId);
    return r
      ? { id: r.runId, name: r.name.slice(0, 256) || r.runId, state: r.state, ...(r.backend ? { backend: r.backend.slice(0, 128) } : {}), ...(r.createdAt ? { createdAt: r.createdAt.slice(0, 64) } : {}) }
      : undefined;
  }

  /** Every run with its points, for a dashboard snapshot. */
  series(): RunSeries[] {
    return this.list().map((r) => ({ ...(this.dashboardInfo(r.runId) as DashboardRunInfo), points: this.points(r.runId), probeSteps: this.probeSteps(r.runId) }));
  }
}
