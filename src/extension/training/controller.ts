/**
 * Training from the editor. The host forks the trainer process (`dist/trainer.js`, through `TrainerClient`) and
 * never trains itself; it feeds the trainer's validated messages to the run registry, the log and the progress
 * UI (a cancellable notification and a status bar item), and stops, resumes and, on deactivate, kills them.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainerMessage } from '../../protocol';
import { newRunId } from '../../core/train/run-dir';
import { TrainerClient } from '../../trainer/client';
import { readSettings, runsRoot } from '../config';
import { durationLabel, lossLabel } from '../format';
import { logAt, type Log } from '../log';
import type { RunRegistry } from '../runs/registry';
import { isSpecDocument, type SpecService } from '../spec-service';
import { launchOptions, startOptions } from './launch';

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
    if (doc.isDirty && !doc.isUntitled) await doc.save();
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.fsPath ?? (doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : undefined);
    const settings = readSettings(vscode.workspace, doc.uri);
    const root = runsRoot(settings, folder);
    const runId = newRunId();
    const runDir = path.join(root, runId);
    await fsp.mkdir(root, { recursive: true });
    const name = analysis.spec.name;
    await this.registry.beginLive(runId, runDir, root, { name, ...(doc.uri.scheme === 'file' ? { specSource: doc.uri.fsPath } : {}) });
    const client = this.fork(runId, name, folder, doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : (folder ?? process.cwd()), options);
    const fromFile = doc.uri.scheme === 'file' && !doc.isUntitled;
    try {
      client.start({
        runDir,
        ...(fromFile ? { specPath: doc.uri.fsPath } : { spec: (analysis.result.file ?? {}) as unknown as Record<string, unknown> }),
        options: startOptions(settings, false, options.steps),
      });
    } catch (e) {
      client.dispose();
      throw e;
    }
    this.log.info(`train: ${name} → ${runDir} (trainer pid ${client.pid ?? '?'})`);
    return runId;
  }

  /** Continues a stopped, failed or interrupted run from its latest checkpoint. */
  async resume(runId: string, options: TrainOptions = {}): Promise<string | undefined> {
    if (!this.trusted()) return undefined;
    const run = this.registry.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (this.live.has(runId)) {
      void vscode.window.showInformationMessage(`Run ${run.name} is already training.`);
      return runId;
    }
    const folder = vscode.workspace.workspaceFolders?.find((f) => run.dir.startsWith(f.uri.fsPath + path.sep))?.uri.fsPath;
    const settings = readSettings(vscode.workspace, folder ? vscode.Uri.file(folder) : undefined);
    await this.registry.beginLive(runId, run.dir, run.root, { name: run.name, resume: true });
    const client = this.fork(runId, run.name, folder, folder ?? run.dir, options);
    client.start({ runDir: run.dir, options: startOptions(settings, true, options.steps) });
    this.log.info(`resume: ${run.name} (${runId}) from ${run.lastCheckpoint ?? 'its latest checkpoint'}`);
    return runId;
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
    return (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.name, description: `step ${r.step}/${r.totalSteps}`, runId: r.runId })), { placeHolder }))?.runId;
  }

  private fork(runId: string, name: string, folder: string | undefined, cwd: string, options: TrainOptions): TrainerClient {
    const settings = readSettings(vscode.workspace, folder ? vscode.Uri.file(folder) : undefined);
    const client = TrainerClient.fork(launchOptions({ extensionPath: this.extensionPath, settings, workspaceFolder: folder, cwd }));
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
      await this.registry.endLive(runId, exit.done ? undefined : exit.error);
      this.updateStatus();
      const reason = exit.done?.reason;
      const summary = `${name}: ${reason ?? 'ended'} at step ${exit.done?.step ?? run.step}${run.loss !== undefined ? `, loss ${lossLabel(run.loss)}` : ''}`;
      this.log.info(`trainer exited (${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`}): ${summary}${exit.error ? ` — ${exit.error}` : ''}`);
      if (reason === 'completed' || reason === 'stopped') {
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
            progress.report({ increment: Math.max(0, pct - reported), message: `step ${m.step}/${m.totalSteps} · loss ${lossLabel(run.loss)}${m.etaMs !== null ? ` · ${durationLabel(m.etaMs)} left` : ''}` });
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
    this.status.text = `$(sync~spin) ${r.name} ${r.totalSteps ? `${r.step}/${r.totalSteps}` : 'starting'}${r.loss !== undefined ? ` · loss ${lossLabel(r.loss)}` : ''}${more}`;
    this.status.tooltip = `ConvBERT: training ${runs.map((x) => x.name).join(', ')}${r.etaMs !== null ? ` — about ${durationLabel(r.etaMs)} left` : ''}. Click to open the dashboard.`;
    this.status.show();
  }

  /** Stops every trainer (graceful, with a checkpoint), killing what has not stopped after `graceMs`. */
  async stopAll(graceMs = 2500): Promise<void> {
    const runs = [...this.live.values()];
    if (runs.length === 0) return;
    await Promise.race([Promise.all(runs.map((r) => r.client.stop(graceMs))), new Promise((resolve) => setTimeout(resolve, graceMs + 500))]);
    for (const r of runs) r.client.dispose();
  }

  dispose(): void {
    for (const r of this.live.values()) r.client.dispose();
    this.live.clear();
    this.status.dispose();
  }
}
