/**
 * Training from the editor. The host forks the trainer process (`dist/trainer.js`, through `TrainerClient`) and
 * never trains itself; it feeds the trainer's validated messages to the run registry, the log and the progress
 * UI (a cancellable notification and a status bar item), and stops, resumes and, on deactivate, kills them.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PROTOCOL_VERSION, type TrainerMessage } from '../../protocol';
import { latestCheckpointStep } from '../../run-format/checkpoint-name';
import { newRunId, runPaths } from '../../run-format/run-dir';
import { ensureWritableDir } from '../../run-format/fs-errors';
import { TrainerClient } from '../../engines/client';
import type { DistributedOptions, Engine } from '../../engines/engine';
import { findTorchPython } from '../../engines/torch/python';
import { readSettings, runsRoot, type Settings } from '../config';
import { durationLabel, lossLabel } from '../../format';
import { logAt, type Log } from '../log';
import { runPickItem } from '../runs/labels';
import type { RunRecord, RunRegistry } from '../runs/registry';
import { analyzeSpecText, fitVerdict } from '../analysis';
import { isSpecDocument, type SpecService } from '../spec-service';
import { choosePython, distributedOptions, engineForRequest, engineRequest, fitBackend, launchOptions, mayNeedPython, settingForEngineError, startOptions, type EngineRequest, type SpecEngine } from './launch';
import { pythonExtensionEnvironment } from './python-env';
import { noCheckpointLabel, resumeLabel, resumePlan, START_OVER, START_OVER_DETAIL, type ResumePlan } from './resume-plan';

interface LiveRun {
  runId: string;
  name: string;
  client: TrainerClient;
  step: number;
  totalSteps: number;
  loss: number | undefined;
  etaMs: number | null;
  cancelled: boolean;
}

export interface TrainOptions {
  /** Train this many steps instead of the spec's. */
  steps?: number;
  /** No notification (tests, and runs started from the Runs view keep the status bar only). */
  quiet?: boolean;
}

/**
 * How long deactivate waits for trainers to finish their step and write their checkpoint before killing them: a
 * step and a checkpoint of a Base-sized model take seconds; a trainer that needs longer is stuck.
 */
export const STOP_ALL_GRACE_MS = 10_000;

export interface ResumeOptions extends TrainOptions {
  /** A run without a checkpoint: ask the user (default), start over without asking, or refuse. */
  ifNoCheckpoint?: 'ask' | 'start-over' | 'refuse';
}

/** The engine a run trains with, and what its launch and start need. */
interface EngineLaunch {
  engine: Engine;
  request: EngineRequest;
  distributed?: DistributedOptions;
  /** The backend the fit check assumes. */
  fitBackend: string;
  /** For the log: the engine, and the interpreter and processes for the torch engine. */
  label: string;
}

export interface TrainingEvents {
  /** A run started (its trainer was forked). */
  onStarted?(runId: string): void;
}

export class TrainingController implements vscode.Disposable {
  private readonly live = new Map<string, LiveRun>();
  private readonly status = vscode.window.createStatusBarItem('convbert.training', vscode.StatusBarAlignment.Left, 10);
  /** The `convbert.isTraining` context key (Stop is offered only while a trainer runs). */
  private training = false;

  constructor(
    private readonly extensionPath: string,
    private readonly log: Log,
    private readonly registry: RunRegistry,
    private readonly specs: SpecService,
    private readonly events: TrainingEvents = {},
  ) {
    this.status.name = 'ConvBERT training';
    this.status.command = 'convbert.openDashboard';
  }

  get liveRunIds(): string[] {
    return [...this.live.keys()];
  }

  /** The trainer process of a live run. */
  pidOf(runId: string): number | undefined {
    return this.live.get(runId)?.client.pid;
  }

  private trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage('Training runs a trainer process and is disabled in untrusted workspaces.', 'Manage Workspace Trust').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return false;
  }

  /** The spec to train: the given one, else the active editor's, else one picked from the workspace. */
  private async pickSpec(uri: vscode.Uri | undefined): Promise<vscode.TextDocument | undefined> {
    if (uri) return vscode.workspace.openTextDocument(uri);
    const active = vscode.window.activeTextEditor?.document;
    if (active && isSpecDocument(active)) return active;
    const files = await vscode.workspace.findFiles('**/*.convbert.json', '**/{node_modules,.convbert}/**', 200);
    if (files.length === 0) {
      void vscode.window.showInformationMessage('No *.convbert.json spec in this workspace. Create one with "ConvBERT: New Spec from Preset".');
      return undefined;
    }
    const picked = files.length === 1 ? files[0] : (await vscode.window.showQuickPick(files.map((f) => ({ label: vscode.workspace.asRelativePath(f), uri: f })), { placeHolder: 'Which spec to train?' }))?.uri;
    return picked ? vscode.workspace.openTextDocument(picked) : undefined;
  }

  /** Starts training a spec; resolves to the run id once the trainer is forked (not when it finishes). */
  async train(uri?: vscode.Uri, options: TrainOptions = {}): Promise<string | undefined> {
    if (!this.trusted()) return undefined;
    const doc = await this.pickSpec(uri);
    if (!doc) return undefined;
    const analysis = this.specs.refresh(doc) ?? this.specs.analysis(doc);
    if (!analysis.valid || !analysis.spec) {
      const first = analysis.diagnostics.find((d) => d.severity === 'error');
      const where = first ? ` (line ${first.range.start.line + 1}: ${first.message})` : '';
      void vscode.window.showErrorMessage(`${vscode.workspace.asRelativePath(doc.uri)} has ${analysis.errors} error${analysis.errors === 1 ? '' : 's'}${where}; fix them before training.`, 'Show Problems').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.actions.view.problems');
      });
      return undefined;
    }
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.fsPath ?? (doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : undefined);
    const settings = readSettings(vscode.workspace, doc.uri);
    // The engine, before anything starts: an engine asked for by name that cannot run here is said now.
    const launch = await this.engineFor({ engine: analysis.spec.training.engine, backend: analysis.spec.training.backend }, settings, folder, analysis.spec.name);
    if (!launch) return undefined;
    // Memory: past the backend's hard limit there is no way to start; over the budget only, the user decides.
    const verdict = fitVerdict(analysis.spec, launch.fitBackend, settings.memoryBudgetMiB, this.specs.machine);
    if (verdict.kind === 'refuse') {
      this.log.error(verdict.message);
      void vscode.window.showErrorMessage(verdict.message);
      return undefined;
    }
    if (verdict.kind === 'confirm' && (await vscode.window.showWarningMessage(verdict.message, { modal: true }, 'Train anyway')) !== 'Train anyway') return undefined;
    if (doc.isDirty && !doc.isUntitled) await doc.save();
    const root = runsRoot(settings, folder);
    const runId = newRunId();
    const runDir = path.join(root, runId);
    await ensureWritableDir(root); // a read-only or forbidden runs folder is named as such, before any trainer starts
    const name = analysis.spec.name;
    await this.registry.beginLive(runId, runDir, root, { name, ...(doc.uri.scheme === 'file' ? { specSource: doc.uri.fsPath } : {}) });
    const client = this.fork(runId, name, folder, doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : (folder ?? process.cwd()), options, launch);
    const fromFile = doc.uri.scheme === 'file' && !doc.isUntitled;
    try {
      client.start({
        runDir,
        ...(fromFile ? { specPath: doc.uri.fsPath } : { spec: (analysis.result.file ?? {}) as unknown as Record<string, unknown> }),
        options: startOptions(settings, false, options.steps, launch.request),
      });
    } catch (e) {
      client.dispose();
      throw e;
    }
    this.log.info(`train: ${name} → ${runDir} (${launch.label}; trainer pid ${client.pid ?? '?'})`);
    return runId;
  }

  /** What resuming `runId` will do: from which checkpoint step, which recorded steps are retrained, or that it cannot. */
  async planResume(runId: string): Promise<ResumePlan> {
    const run = this.registry.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    return resumePlan(await latestCheckpointStep(run.dir), run.step);
  }

  /**
   * Continues a stopped, failed or interrupted run from its latest checkpoint, saying from which step and which
   * steps are retrained. A run without a checkpoint is not resumed: the user is offered Start over (or
   * `ifNoCheckpoint` decides, for tests and scripts).
   */
  async resume(runId: string, options: ResumeOptions = {}): Promise<string | undefined> {
    if (!this.trusted()) return undefined;
    const run = this.registry.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (this.live.has(runId)) {
      void vscode.window.showInformationMessage(`Run ${run.name} is already training.`);
      return runId;
    }
    const plan = await this.planResume(runId);
    if (plan.kind === 'no-checkpoint') {
      const message = noCheckpointLabel(run.name, plan);
      this.log.warn(`resume: ${message}`);
      const how = options.ifNoCheckpoint ?? 'ask';
      const choice = how === 'ask' ? await vscode.window.showWarningMessage(message, { modal: true, detail: START_OVER_DETAIL }, START_OVER) : how === 'start-over' ? START_OVER : undefined;
      return choice === START_OVER ? this.startOver(run, options) : undefined;
    }
    const folder = this.folderOf(run.dir);
    const settings = readSettings(vscode.workspace, folder ? vscode.Uri.file(folder) : undefined);
    // The engine of the run's snapshot and recorded backend (a run resumes where it trained unless a setting says otherwise).
    const launch = await this.engineFor(await this.snapshotEngine(run), settings, folder, run.name);
    if (!launch) return undefined;
    await this.registry.beginLive(runId, run.dir, run.root, { name: run.name, resume: true });
    const client = this.fork(runId, run.name, folder, folder ?? run.dir, options, launch);
    client.start({ runDir: run.dir, options: startOptions(settings, true, options.steps, launch.request) });
    const label = resumeLabel(plan);
    this.log.info(`resume: ${run.name} (${runId}): ${label}`);
    if (!options.quiet) void vscode.window.showInformationMessage(`${run.name}: ${label}.`);
    return runId;
  }

  /**
   * Trains a run's spec snapshot again from step 0 as a new run, in a new run directory beside it: the old run, its
   * curve and its log stay as they were (nothing is lost; the Runs view deletes it when the user wants).
   */
  private async startOver(run: RunRecord, options: TrainOptions): Promise<string | undefined> {
    const snapshot = runPaths(run.dir).spec;
    let text: string;
    try {
      text = await fsp.readFile(snapshot, 'utf8');
    } catch {
      throw new Error(`cannot start ${run.name} over: its spec snapshot ${snapshot} is missing`);
    }
    const analysis = analyzeSpecText(text);
    if (!analysis.result.file) throw new Error(`cannot start ${run.name} over: its spec snapshot ${snapshot} does not parse`);
    const folder = this.folderOf(run.dir);
    const settings = readSettings(vscode.workspace, folder ? vscode.Uri.file(folder) : undefined);
    const runId = newRunId();
    const runDir = path.join(run.root, runId);
    const name = analysis.spec?.name ?? run.specName ?? run.name;
    const specDir = run.specSource ? path.dirname(run.specSource) : (folder ?? run.dir);
    const launch = await this.engineFor(analysis.spec ? { engine: analysis.spec.training.engine, backend: analysis.spec.training.backend } : { ...(run.backend ? { backend: run.backend } : {}) }, settings, folder, name);
    if (!launch) return undefined; // said in a notification
    await this.registry.beginLive(runId, runDir, run.root, { name, ...(run.specSource ? { specSource: run.specSource } : {}) });
    const client = this.fork(runId, name, folder, specDir, options, launch);
    try {
      client.start({ runDir, spec: analysis.result.file as unknown as Record<string, unknown>, options: startOptions(settings, false, options.steps, launch.request) });
    } catch (e) {
      client.dispose();
      throw e;
    }
    this.log.info(`start over: ${run.name} (${run.runId}) → new run ${runId} from its spec snapshot (trainer pid ${client.pid ?? '?'})`);
    return runId;
  }

  /** What a run asks for when resumed: its snapshot's `training.engine` and the backend it ran on. */
  private async snapshotEngine(run: RunRecord): Promise<SpecEngine> {
    let engine: string | undefined;
    try {
      engine = analyzeSpecText(await fsp.readFile(runPaths(run.dir).spec, 'utf8')).spec?.training.engine;
    } catch {
      engine = undefined; // no snapshot: the recorded backend decides
    }
    return { ...(engine ? { engine } : {}), ...(run.backend ? { backend: run.backend } : {}) };
  }

  /**
   * The engine for a spec under the settings (src/extension/training/launch.ts), with the torch engine's
   * interpreter and processes. An engine that cannot be had is an error notification naming what to install or set,
   * with a button to the setting, and `undefined`; with everything `auto`, TF.js trains without a word.
   */
  private async engineFor(spec: SpecEngine | undefined, settings: Settings, folder: string | undefined, name: string): Promise<EngineLaunch | undefined> {
    const request = engineRequest(spec, settings);
    if (request.note) this.log.info(`${name}: ${request.note}`);
    let python: string | undefined;
    let devices: { cuda: boolean; mps: boolean } | undefined;
    if (mayNeedPython(request)) {
      const choice = await choosePython(settings.torchPython, folder, () => pythonExtensionEnvironment(folder ? vscode.Uri.file(folder) : undefined), async (p) => (await findTorchPython({ configured: p })).ok);
      if (choice.note) this.log.info(`${name}: ${choice.note}`);
      python = choice.python;
      // Asynchronously, so the engine's own (synchronous, cached) probe in chooseEngine does not block the editor.
      const probe = await findTorchPython(python ? { configured: python } : {});
      if (probe.ok) devices = { cuda: probe.info.cuda.available, mps: probe.info.mps };
      this.log.debug(`${name}: Python for the torch engine (${choice.source}): ${probe.ok ? `${probe.info.python}, PyTorch ${probe.info.torch}` : probe.reason}`);
    }
    let engine: Engine;
    try {
      engine = engineForRequest(request, python);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`train ${name}: ${message}`);
      const setting = settingForEngineError(message);
      void vscode.window.showErrorMessage(`Cannot train ${name}: ${message}`, 'Open Setting').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.action.openSettings', setting);
      });
      return undefined;
    }
    const distributed = distributedOptions(engine, settings, python);
    const label = `${engine.id} engine${distributed?.python ? `, ${distributed.python}` : ''}${distributed?.nprocPerNode ? `, ${distributed.nprocPerNode} processes` : ''}`;
    return { engine, request, ...(distributed ? { distributed } : {}), fitBackend: fitBackend(request, engine, devices), label };
  }

  /** The workspace folder a run directory is in. */
  private folderOf(runDir: string): string | undefined {
    return vscode.workspace.workspaceFolders?.find((f) => runDir.startsWith(f.uri.fsPath + path.sep))?.uri.fsPath;
  }

  /** Asks a live run to stop after its current step (it writes a checkpoint); killed after 30 s. */
  async stop(runId?: string): Promise<void> {
    const id = runId ?? (await this.pickLive('Which training to stop?'));
    const run = id ? this.live.get(id) : undefined;
    if (!run) return;
    run.cancelled = true;
    this.log.info(`stop: ${run.name} (${run.runId})`);
    await run.client.stop();
  }

  private async pickLive(placeHolder: string): Promise<string | undefined> {
    const runs = [...this.live.values()];
    if (runs.length <= 1) return runs[0]?.runId;
    // The Runs view's name, short id, start time and status (from the registry), matched on any of them or the id.
    const items = runs.map((r) => {
      const record = this.registry.get(r.runId);
      return record ? runPickItem(record) : { label: r.name, description: `step ${r.step}/${r.totalSteps}`, detail: r.runId, runId: r.runId };
    });
    return (await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true }))?.runId;
  }

  private fork(runId: string, name: string, folder: string | undefined, cwd: string, options: TrainOptions, launch: EngineLaunch): TrainerClient {
    const settings = readSettings(vscode.workspace, folder ? vscode.Uri.file(folder) : undefined);
    const client = TrainerClient.fork(
      launchOptions({ extensionPath: this.extensionPath, settings, workspaceFolder: folder, cwd, engine: launch.engine, ...(launch.distributed ? { distributed: launch.distributed } : {}) }),
    );
    const run: LiveRun = { runId, name, client, step: 0, totalSteps: 0, loss: undefined, etaMs: null, cancelled: false };
    this.live.set(runId, run);
    this.events.onStarted?.(runId);
    client.onMessage((m) => this.onMessage(run, m));
    client.onInvalid((error) => this.log.warn(`[${name}] invalid trainer message: ${error}`));
    client.onOutput((stream, line) => {
      if (!line.trim()) return;
      if (stream === 'stderr') this.log.warn(`[${name}] ${line}`);
      else this.log.debug(`[${name}] ${line}`);
    });
    if (!options.quiet) this.showProgress(run);
    this.updateStatus();
    void client.finished.then(async (exit) => {
      this.live.delete(runId);
      client.dispose();
      // Ended by a stop before its first step, before it could say `done`: the run is cancelled, not interrupted.
      if (exit.cancelled && !exit.done) this.registry.apply(runId, { v: PROTOCOL_VERSION, type: 'done', reason: 'cancelled', step: run.step, summary: { message: 'cancelled before the first step' } });
      await this.registry.endLive(runId, exit.done ? undefined : exit.error);
      this.updateStatus();
      const reason = exit.done?.reason ?? (exit.cancelled ? 'cancelled' : undefined);
      const summary = `${name}: ${reason ?? 'ended'} at step ${exit.done?.step ?? run.step}${run.loss !== undefined ? `, train loss ${lossLabel(run.loss)}` : ''}`;
      this.log.info(`trainer exited (${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`}): ${summary}${exit.error ? ` — ${exit.error}` : ''}`);
      if (reason === 'cancelled') {
        // Stopped before its first step: nothing to show or resume, and nothing failed.
        if (!options.quiet) void vscode.window.showInformationMessage(`Training ${name} cancelled before its first step.`);
      } else if (reason === 'completed' || reason === 'stopped') {
        if (!options.quiet) void vscode.window.showInformationMessage(`Training ${summary}.`, 'Open Dashboard').then((c) => c && vscode.commands.executeCommand('convbert.openDashboard', runId));
      } else {
        const why = exit.error ?? this.registry.get(runId)?.message ?? reason ?? 'unknown';
        void vscode.window.showErrorMessage(`Training ${name} failed: ${why}`, 'Show Logs').then((c) => c && this.log.show(true));
      }
    });
    return client;
  }

  private onMessage(run: LiveRun, m: TrainerMessage): void {
    this.registry.apply(run.runId, m);
    switch (m.type) {
      case 'started':
        run.step = m.step;
        run.totalSteps = m.totalSteps;
        this.log.info(`[${run.name}] started ${m.resumed ? `(resumed at step ${m.step}) ` : ''}on ${m.backend.name}${m.backend.skipped.length ? ` (skipped: ${m.backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`);
        break;
      case 'progress':
        run.step = m.step;
        run.totalSteps = m.totalSteps;
        run.etaMs = m.etaMs;
        break;
      case 'metrics':
        run.loss = m.loss;
        this.log.trace(`[${run.name}] step ${m.step}: loss ${m.loss.toFixed(4)}, lr ${m.learningRate.toExponential(2)}, ${m.tokensPerSecond.toFixed(0)} tokens/s`);
        break;
      case 'eval':
        this.log.info(`[${run.name}] eval at step ${m.step}: loss ${m.loss.toFixed(4)}, MLM accuracy ${(100 * m.mlmAccuracy).toFixed(1)}%`);
        break;
      case 'checkpoint':
        this.log.debug(`[${run.name}] checkpoint at step ${m.step}: ${m.path}`);
        break;
      case 'log':
        logAt(this.log, m.level, `[${run.name}] ${m.message}`);
        break;
      case 'warning':
        this.log.warn(`[${run.name}] ${m.message}${m.hint ? ` (${m.hint})` : ''}`);
        break;
      case 'error':
        this.log.error(`[${run.name}] ${m.message}${m.hint ? ` (${m.hint})` : ''}`);
        break;
      case 'done':
        this.log.info(`[${run.name}] done: ${m.reason} at step ${m.step}`);
        break;
      default:
        break;
    }
    if (m.type === 'progress' || m.type === 'started' || m.type === 'state') this.updateStatus();
  }

  private showProgress(run: LiveRun): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Training ${run.name}`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          token.onCancellationRequested(() => {
            if (!run.cancelled) void this.stop(run.runId);
          });
          let reported = 0;
          const off = run.client.onMessage((m) => {
            if (m.type !== 'progress' || m.totalSteps === 0) return;
            const pct = (100 * m.step) / m.totalSteps;
            progress.report({ increment: Math.max(0, pct - reported), message: `step ${m.step}/${m.totalSteps} · train loss ${lossLabel(run.loss)}${m.etaMs !== null ? ` · ${durationLabel(m.etaMs)} left` : ''}` });
            reported = pct;
          });
          void run.client.finished.then(() => {
            off();
            resolve();
          });
        }),
    );
  }

  private updateStatus(): void {
    const runs = [...this.live.values()];
    if ((runs.length > 0) !== this.training) {
      this.training = runs.length > 0;
      void vscode.commands.executeCommand('setContext', 'convbert.isTraining', this.training);
    }
    if (runs.length === 0) {
      this.status.hide();
      return;
    }
    const r = runs[runs.length - 1] as LiveRun;
    const more = runs.length > 1 ? ` (+${runs.length - 1})` : '';
    this.status.text = `$(sync~spin) ${r.name} ${r.totalSteps ? `${r.step}/${r.totalSteps}` : 'starting'}${r.loss !== undefined ? ` · train loss ${lossLabel(r.loss)}` : ''}${more}`;
    this.status.tooltip = `ConvBERT: training ${runs.map((x) => x.name).join(', ')}${r.etaMs !== null ? ` — about ${durationLabel(r.etaMs)} left` : ''}. Click to open the dashboard.`;
    this.status.show();
  }

  /**
   * Window close / deactivate: asks every trainer to stop after its current step and write a checkpoint (so Resume
   * continues from where it was), waits for them up to `graceMs`, and kills what is still running then. Should the
   * extension host go first, each trainer sees its host disconnect and stops the same graceful way on its own.
   */
  async stopAll(graceMs = STOP_ALL_GRACE_MS): Promise<void> {
    const runs = [...this.live.values()];
    if (runs.length === 0) return;
    this.log.info(`stopping ${runs.length} trainer${runs.length === 1 ? '' : 's'} with a checkpoint (killed after ${graceMs / 1000} s): ${runs.map((r) => `${r.name} at step ${r.step}`).join(', ')}`);
    for (const r of runs) r.cancelled = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(runs.map((r) => r.client.stop(graceMs))), new Promise((resolve) => (timer = setTimeout(resolve, graceMs + 500)))]);
    clearTimeout(timer);
    for (const r of runs) r.client.dispose();
  }

  dispose(): void {
    for (const r of this.live.values()) r.client.dispose();
    this.live.clear();
    this.status.dispose();
  }
}
