/**
 * The commands: New Spec from Preset, Validate, Show Costs, Train, Stop, Resume, Open Dashboard, Show Logs, and the
 * Runs view's Open / Compare / Delete / Refresh. Every command that takes a target also accepts it as an argument
 * (a spec URI, a run id or a Runs view item), so CodeLens, menus and tests can call it without prompts.
 */
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import { PRESET_NAMES, PRESET_SUMMARIES, isPresetName, presetSpecText, type PresetName } from '../core/spec';
import { runPaths } from '../run-format/run-dir';
import type { CostEntry } from '../protocol/webview';
import { analyzeSpecText } from './analysis';
import { readSettings } from './config';
import { costLabel, type DashboardManager } from './dashboard/panel';
import type { Log } from './log';
import { COMMANDS } from './ids';
import type { RunRecord, RunRegistry } from './runs/registry';
import { runPickItem, runTagOf } from './runs/labels';
import { RunItem } from './runs/tree';
import { isSpecDocument, type SpecService } from './spec-service';
import { specNameFor, specTargetPath } from './spec-naming';
import type { ResumeOptions, TrainingController } from './training/controller';

export interface CommandDeps {
  log: Log;
  specs: SpecService;
  registry: RunRegistry;
  dashboard: DashboardManager;
  training: TrainingController;
  /** The Runs view, for its selection (Compare). */
  runsView?: () => vscode.TreeView<RunItem> | undefined;
}

/** A run id from whatever a command got: a Runs view item, a run id, or nothing (→ undefined). */
function runIdOf(arg: unknown): string | undefined {
  if (arg instanceof RunItem) return arg.run.runId;
  if (typeof arg === 'string') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { runId?: unknown }).runId === 'string') return (arg as { runId: string }).runId;
  return undefined;
}

async function specDocument(specs: SpecService, uri: unknown): Promise<vscode.TextDocument | undefined> {
  if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
  const active = vscode.window.activeTextEditor?.document;
  if (active && isSpecDocument(active)) return active;
  const visible = vscode.window.visibleTextEditors.map((e) => e.document).find(isSpecDocument);
  if (visible) return visible;
  void vscode.window.showInformationMessage('Open a *.convbert.json spec first.');
  void specs;
  return undefined;
}

/** The cost report of a run's spec snapshot. */
export async function runCosts(run: RunRecord, memoryBudgetMiB?: number): Promise<CostEntry | undefined> {
  try {
    const text = await fsp.readFile(runPaths(run.dir).spec, 'utf8');
    const a = analyzeSpecText(text, memoryBudgetMiB !== undefined ? { memoryBudgetMiB } : {});
    return a.cost ? { label: costLabel(`${run.name} (${runTagOf(run)})`, run.dir), report: a.cost } : undefined;
  } catch {
    return undefined;
  }
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { log, specs, registry, dashboard, training } = deps;
  const reg = (id: string, fn: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log.error(`${id}: ${message}`);
        void vscode.window.showErrorMessage(`ConvBERT: ${message}`);
        return undefined;
      }
    });

  const pickRun = async (placeHolder: string, filter: (r: RunRecord) => boolean): Promise<string | undefined> => {
    const runs = registry.list().filter(filter);
    if (runs.length === 0) {
      void vscode.window.showInformationMessage('No matching runs.');
      return undefined;
    }
    // The same name, short id, start time and status as the Runs view; typing matches any of them or the full id.
    const pick = await vscode.window.showQuickPick(runs.map(runPickItem), { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return pick?.runId;
  };

  return [
    reg(COMMANDS.newSpec, async (presetArg?: unknown, targetArg?: unknown) => {
      let preset: PresetName | undefined = isPresetName(presetArg) ? presetArg : undefined;
      if (!preset) {
        const pick = await vscode.window.showQuickPick(
          PRESET_NAMES.map((name) => ({ label: name, detail: PRESET_SUMMARIES[name] })),
          { placeHolder: 'Start the new spec from which preset?', matchOnDetail: true },
        );
        preset = pick?.label as PresetName | undefined;
      }
      if (!preset) return undefined;
      let target = targetArg instanceof vscode.Uri ? targetArg : undefined;
      if (!target) {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
        target = await vscode.window.showSaveDialog({
          ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${preset}.convbert.json`) } : {}),
          filters: { 'ConvBERT spec': ['convbert.json'] },
          saveLabel: 'Create Spec',
        });
      }
      if (!target) return undefined;
      // Exactly one .convbert.json, however the dialog or the user wrote it; the spec's name has no extension.
      target = target.with({ path: specTargetPath(target.path, preset) });
      const name = specNameFor(target.path, preset);
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(presetSpecText(preset, name)));
      await vscode.window.showTextDocument(target);
      log.info(`new spec ${target.toString(true)} (extends ${preset})`);
      return target;
    }),

    reg(COMMANDS.validate, async (uri?: unknown) => {
      const doc = await specDocument(specs, uri);
      if (!doc) return undefined;
      const a = specs.refresh(doc) ?? specs.analysis(doc);
      const summary = `${vscode.workspace.asRelativePath(doc.uri)}: ${a.errors} error${a.errors === 1 ? '' : 's'}, ${a.warnings} warning${a.warnings === 1 ? '' : 's'}`;
      log.info(`validate ${summary}`);
      if (a.errors > 0) {
        void vscode.window.showErrorMessage(summary, 'Show Problems').then((c) => c && vscode.commands.executeCommand('workbench.actions.view.problems'));
      } else {
        void vscode.window.showInformationMessage(`${summary}${a.valid ? ' — ready to train' : ''}`);
      }
      return { errors: a.errors, warnings: a.warnings, diagnostics: a.diagnostics.length };
    }),

    // (uri, layer) from a CodeLens; (uri, selected uris) from the explorer: two specs selected are shown side by side.
    // The Costs tab then follows them as they are edited.
    reg(COMMANDS.showCosts, async (uri?: unknown, second?: unknown) => {
      const selected = Array.isArray(second) ? second.filter((u): u is vscode.Uri => u instanceof vscode.Uri && u.path.endsWith('.convbert.json')) : [];
      const docs = selected.length >= 2 ? await Promise.all(selected.slice(0, 2).map((u) => vscode.workspace.openTextDocument(u))) : [await specDocument(specs, uri)];
      if (docs.some((d) => !d)) return undefined;
      for (const doc of docs as vscode.TextDocument[]) {
        const a = specs.analysis(doc);
        if (!a.cost || !a.spec) {
          void vscode.window.showErrorMessage(`${vscode.workspace.asRelativePath(doc.uri)} has errors the cost model cannot get past; fix them first.`);
          return undefined;
        }
      }
      dashboard.showSpecCosts(specs, (docs as vscode.TextDocument[]).map((d) => d.uri));
      if (typeof second === 'number') log.debug(`show costs: layer ${second}`);
      return true;
    }),

    reg(COMMANDS.train, async (uri?: unknown, options?: unknown) => {
      const opts = options && typeof options === 'object' ? (options as { steps?: number; quiet?: boolean }) : {};
      const runId = await training.train(uri instanceof vscode.Uri ? uri : undefined, opts);
      if (runId) dashboard.select([runId]);
      return runId;
    }),

    reg(COMMANDS.stop, async (arg?: unknown) => {
      await training.stop(runIdOf(arg));
    }),

    reg(COMMANDS.resume, async (arg?: unknown, options?: unknown) => {
      const runId = runIdOf(arg) ?? (await pickRun('Resume which run?', (r) => r.resumable));
      if (!runId) return undefined;
      const opts = options && typeof options === 'object' ? (options as ResumeOptions) : {};
      const id = await training.resume(runId, opts);
      if (id) dashboard.select([id]);
      return id;
    }),

    reg(COMMANDS.openDashboard, (arg?: unknown) => {
      const runId = runIdOf(arg);
      dashboard.show(runId ? { runIds: [runId] } : {});
      return true;
    }),

    reg(COMMANDS.showLogs, () => log.show(true)),

    reg(COMMANDS.refreshRuns, () => registry.refresh()),

    reg(COMMANDS.openRun, async (arg?: unknown) => {
      const runId = runIdOf(arg) ?? (await pickRun('Open which run?', () => true));
      const run = runId ? registry.get(runId) : undefined;
      if (!run) return undefined;
      const costs = await runCosts(run, readSettings(vscode.workspace).memoryBudgetMiB);
      dashboard.show({ runIds: [run.runId], ...(costs ? { costs: [costs] } : {}) });
      return run.runId;
    }),

    reg(COMMANDS.compareRuns, async (arg?: unknown, selection?: unknown) => {
      let ids = Array.isArray(selection) ? selection.map(runIdOf).filter((x): x is string => !!x) : [];
      if (ids.length < 2) {
        const fromView = deps.runsView?.()?.selection.map((i) => i.run.runId) ?? [];
        ids = fromView.length >= 2 ? fromView : ids;
      }
      const first = runIdOf(arg) ?? ids[0];
      if (ids.length < 2 && first) {
        const other = await pickRun('Compare with which run?', (r) => r.runId !== first);
        ids = other ? [first, other] : [];
      }
      if (ids.length < 2) return undefined;
      const runs = ids.map((id) => registry.get(id)).filter((r): r is RunRecord => !!r);
      const budget = readSettings(vscode.workspace).memoryBudgetMiB;
      const costs = (await Promise.all(runs.slice(0, 2).map((r) => runCosts(r, budget)))).filter((c): c is CostEntry => !!c);
      dashboard.show({ runIds: runs.map((r) => r.runId), costs });
      return runs.map((r) => r.runId);
    }),

    reg(COMMANDS.renameRun, async (arg?: unknown, nameArg?: unknown) => {
      const runId = runIdOf(arg) ?? (await pickRun('Rename which run?', () => true));
      const run = runId ? registry.get(runId) : undefined;
      if (!run) return undefined;
      const name =
        typeof nameArg === 'string'
          ? nameArg
          : await vscode.window.showInputBox({
              title: `Rename run ${runTagOf(run)}`,
              prompt: `A name for this run (empty: the spec's name${run.specName ? `, ${run.specName}` : ''}). Written to its run.json.`,
              value: run.displayName ?? run.name,
              validateInput: (v) => (v.length > 256 ? 'At most 256 characters.' : undefined),
            });
      if (name === undefined) return undefined;
      const renamed = await registry.rename(run.runId, name);
      log.info(`renamed run ${run.runId} to ${renamed.name}`);
      return renamed.name;
    }),

    reg(COMMANDS.deleteRun, async (arg?: unknown, force?: unknown) => {
      const runId = runIdOf(arg) ?? (await pickRun('Delete which run?', (r) => !r.live));
      const run = runId ? registry.get(runId) : undefined;
      if (!run) return false;
      if (force !== true) {
        const ok = await vscode.window.showWarningMessage(`Delete run ${run.name} (${run.runId}) and its checkpoints?`, { modal: true, detail: run.dir }, 'Delete');
        if (ok !== 'Delete') return false;
      }
      await registry.delete(run.runId);
      log.info(`deleted run ${run.runId} (${run.dir})`);
      return true;
    }),
  ];
}
