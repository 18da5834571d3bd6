/**
 * ConvBERT Studio's extension entry (bundled to `dist/extension.js`; `vscode` is external). Activation registers
 * providers, commands, the Runs view and the dashboard serializer, and nothing heavier: specs are analysed after
 * `activate` returns, run directories are scanned in the background, and training always happens in a forked
 * trainer process. `activate` returns a small API (the activation time, the run registry…) for tests and benches.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../run-format/run-dir';
import { readSettings, runsRoot } from './config';
import { registerCommands } from './commands';
import { DashboardManager } from './dashboard/panel';
import { RUNS_VIEW } from './ids';
import { createLog, type Log } from './log';
import { registerProviders } from './providers';
import { RunRegistry } from './runs/registry';
import { RunsTreeProvider, type RunItem } from './runs/tree';
import { SpecService } from './spec-service';
import { SweepService } from './sweeps/service';
import { TrainingController } from './training/controller';

export interface ConvbertApi {
  /** Milliseconds `activate` took. */
  readonly activationMs: number;
  readonly registry: RunRegistry;
  readonly specs: SpecService;
  readonly dashboard: DashboardManager;
  readonly training: TrainingController;
  readonly sweeps: SweepService;
  readonly log: Log;
}

let training: TrainingController | undefined;

/** The runs folder of every workspace folder. */
function runsRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => runsRoot(readSettings(vscode.workspace, f.uri), f.uri.fsPath));
}

/**
 * Rescans when run directories change on disk: a run started from the CLI, a run deleted in the explorer. run.json
 * changes rescan within half a second; metrics.jsonl (appended every step) within two.
 */
function watchRuns(registry: RunRegistry): vscode.Disposable {
  let watchers: vscode.Disposable[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refresh = (delayMs: number) => () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      void registry.refresh();
    }, delayMs);
  };
  const setUp = () => {
    for (const w of watchers) w.dispose();
    watchers = runsRoots().flatMap((root) =>
      (
        [
          [`*/${RUN_FILES.run}`, 500],
          [`*/${RUN_FILES.metrics}`, 2000],
        ] as const
      ).map(([glob, delay]) => {
        const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), glob));
        w.onDidCreate(refresh(delay));
        w.onDidChange(refresh(delay));
        w.onDidDelete(refresh(delay));
        return w;
      }),
    );
  };
  setUp();
  const subs = [
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      setUp();
      refresh(0)();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('convbert.runsFolder')) {
        setUp();
        refresh(0)();
      }
    }),
  ];
  return new vscode.Disposable(() => {
    if (timer) clearTimeout(timer);
    for (const w of [...watchers, ...subs]) w.dispose();
  });
}

export function activate(context: vscode.ExtensionContext): ConvbertApi {
  const t0 = performance.now();
  const log = createLog();
  const specs = new SpecService(log);
  const registry = new RunRegistry({ roots: runsRoots });
  const dashboard = new DashboardManager(context.extensionUri, registry, log);
  training = new TrainingController(context.extensionPath, log, registry, specs);
  const sweeps = new SweepService(context.extensionPath, log, dashboard, registry, specs);
  const tree = new RunsTreeProvider(registry);
  let runsView: vscode.TreeView<RunItem> | undefined = vscode.window.createTreeView(RUNS_VIEW, { treeDataProvider: tree, canSelectMany: true, showCollapseAll: false });
  context.subscriptions.push(
    log,
    specs,
    dashboard,
    training,
    sweeps,
    tree,
    runsView,
    new vscode.Disposable(() => (runsView = undefined)),
    ...registerProviders(specs),
    ...registerCommands({ log, specs, registry, dashboard, training, runsView: () => runsView }),
    dashboard.registerSerializer(),
    dashboard.trackSpecs(specs),
    watchRuns(registry),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info('workspace trusted: training enabled')),
  );
  void registry.refresh().then(
    () => log.info(`runs: ${registry.list().length} found in ${runsRoots().map((r) => path.relative(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '', r) || r).join(', ') || '(no workspace folder)'}`),
    (e: unknown) => log.warn(`runs: scan failed: ${e instanceof Error ? e.message : String(e)}`),
  );
  const activationMs = performance.now() - t0;
  log.info(`ConvBERT Studio activated in ${activationMs.toFixed(1)} ms`);
  return { activationMs, registry, specs, dashboard, training, sweeps, log };
}

export async function deactivate(): Promise<void> {
  // Trainers stop after their current step and checkpoint (resumable); whatever is left after the grace is killed.
  await training?.stopAll();
  training = undefined;
}
