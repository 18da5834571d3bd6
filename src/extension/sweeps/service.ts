/**
 * Sweeps in the editor: diagnostics for `*.sweep.json` (diagnostics.ts), the "Run Sweep" command (a task running the bundled CLI, `run-sweep.ts`), and the sweeps
 * of the workspace for the dashboard's Sweep tab: `.convbert/sweeps/<name>/state.json` is watched in every
 * workspace folder and re-read (within half a second) when the CLI writes it; the sweep's runs are ordinary runs,
 * which the run registry (and its watchers) keep live in the dashboard like any other. The crossing table is
 * rebuilt from the runs' directories when they change (at most every 2 s).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DashboardManager } from '../dashboard/panel';
import { COMMANDS } from '../ids';
import type { Log } from '../log';
import type { RunRegistry } from '../runs/registry';
import type { SpecService } from '../spec-service';
import { SweepDiagnostics } from './diagnostics';
import { readSweeps, sweepInfo, SWEEPS_DIR, SWEEP_STATE_FILE, type SweepRecord } from './state';
import { isSweepPath } from './command-line';
import { SweepRunner, type SweepExecution } from './run-sweep';

export class SweepService implements vscode.Disposable {
  readonly runner: SweepRunner;
  readonly diagnostics: SweepDiagnostics;
  private records: SweepRecord[] = [];
  private watchers: vscode.Disposable[] = [];
  private readonly subs: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private scan: Promise<SweepRecord[]> | undefined;
  private readonly emitter = new vscode.EventEmitter<readonly SweepRecord[]>();
  /** The sweeps were re-read. */
  readonly onDidChange = this.emitter.event;

  constructor(
    extensionPath: string,
    private readonly log: Log,
    private readonly dashboard: DashboardManager,
    registry: RunRegistry,
    specs: SpecService,
  ) {
    this.runner = new SweepRunner(extensionPath, log);
    this.diagnostics = new SweepDiagnostics(specs);
    this.watch();
    this.subs.push(
      this.runner,
      this.diagnostics,
      this.emitter,
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.watch();
        this.schedule(0);
      }),
      vscode.commands.registerCommand(COMMANDS.runSweep, (arg?: unknown) => this.runCommand(arg)),
    );
    // The crossing table follows the runs' evaluations (a rescan, or a sweep run's change), at most every 2 s.
    const unsubscribe = registry.onDidChange(({ runId }) => {
      if (this.records.length > 0 && (!runId || this.records.some((r) => r.runIds.includes(runId)))) this.schedule(2000);
    });
    this.subs.push(new vscode.Disposable(unsubscribe));
    this.schedule(0);
  }

  /** The sweeps last read. */
  list(): readonly SweepRecord[] {
    return this.records;
  }

  /** Re-reads every workspace folder's sweeps and hands them to the dashboard. */
  refresh(): Promise<SweepRecord[]> {
    this.scan ??= (async () => {
      try {
        const all: SweepRecord[] = [];
        for (const folder of vscode.workspace.workspaceFolders ?? []) {
          if (folder.uri.scheme !== 'file') continue;
          const { sweeps, problems } = await readSweeps(folder.uri.fsPath);
          for (const p of problems) this.log.warn(`sweeps: ${p}`);
          all.push(...sweeps);
        }
        this.records = all;
        this.dashboard.setSweeps(await Promise.all(all.map(sweepInfo)));
        this.emitter.fire(all);
        return all;
      } finally {
        this.scan = undefined;
      }
    })();
    return this.scan;
  }

  private schedule(delayMs: number): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.refresh().catch((e: unknown) => this.log.warn(`sweeps: scan failed: ${e instanceof Error ? e.message : String(e)}`));
    }, delayMs);
  }

  private watch(): void {
    for (const w of this.watchers) w.dispose();
    this.watchers = (vscode.workspace.workspaceFolders ?? []).map((folder) => {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, `${SWEEPS_DIR.split(path.sep).join('/')}/*/${SWEEP_STATE_FILE}`));
      const again = () => this.schedule(500);
      w.onDidCreate(again);
      w.onDidChange(again);
      w.onDidDelete(again);
      return w;
    });
  }

  /** Run Sweep: the file from the menu's URI, else the active editor's; saved first; the Sweep tab shown. */
  private async runCommand(arg: unknown): Promise<SweepExecution | undefined> {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !isSweepPath(uri.path)) {
      void vscode.window.showErrorMessage('Run Sweep: open a *.sweep.json file (or run it from the file\'s context menu).');
      return undefined;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showErrorMessage('Run Sweep: trust the workspace first (a sweep runs trainers).');
      return undefined;
    }
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (doc?.isDirty) await doc.save();
    try {
      const execution = await this.runner.run(uri);
      this.dashboard.show({ view: 'sweep', preserveFocus: true });
      void execution.done.then(() => this.schedule(0));
      return execution;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`sweep: ${message}`);
      void vscode.window.showErrorMessage(`Run Sweep: ${message}`);
      return undefined;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of [...this.watchers, ...this.subs]) w.dispose();
  }
}
