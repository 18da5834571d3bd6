/**
 * The Runs view: one item per run directory, newest first: its name (its own, after Rename Run, else the spec's),
 * then its short id and start time (what tells two runs of one spec apart), state, backend, step and best loss,
 * labelled train or val. The
 * item's `contextValue` (`convbert.run.<state>[.resumable]`) drives the inline and context-menu actions in
 * package.json (open, compare, resume, stop, delete).
 */
import * as vscode from 'vscode';
import { runStartDate, runTimeLabel, type RunState } from '../../protocol/webview';
import { lossLabel } from '../../format';
import { runDescription } from './labels';
import type { RunRecord, RunRegistry } from './registry';


const ICONS: Record<RunState, [string, string?]> = {
  starting: ['loading~spin'],
  running: ['sync~spin', 'charts.blue'],
  paused: ['debug-pause', 'charts.yellow'],
  stopping: ['loading~spin'],
  completed: ['pass', 'testing.iconPassed'],
  stopped: ['debug-stop'],
  cancelled: ['circle-slash'],
  nonfinite: ['warning', 'problemsWarningIcon.foreground'],
  error: ['error', 'problemsErrorIcon.foreground'],
  interrupted: ['debug-disconnect', 'problemsWarningIcon.foreground'],
};

export function runContextValue(r: RunRecord): string {
  const live = r.live || r.state === 'running' || r.state === 'starting' || r.state === 'paused' || r.state === 'stopping';
  return `convbert.run.${live ? 'live' : r.state}${r.resumable ? '.resumable' : ''}`;
}

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunRecord) {
    super(run.name === run.runId ? run.runId : run.name, vscode.TreeItemCollapsibleState.None);
    this.id = run.runId;
    this.description = runDescription(run);
    const [icon, color] = ICONS[run.state] ?? ['circle-outline'];
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    this.contextValue = runContextValue(run);
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${run.name}** — \`${run.runId}\`\n\n`);
    if (run.displayName && run.specName) tip.appendMarkdown(`- spec: ${run.specName}\n`);
    const started = runTimeLabel(runStartDate(run.runId, run.createdAt));
    if (started) tip.appendMarkdown(`- started: ${started}\n`);
    tip.appendMarkdown(`- state: ${run.state}${run.message ? ` (${run.message.replace(/[\r\n]+/g, ' ').slice(0, 300)})` : ''}\n`);
    if (run.backend) tip.appendMarkdown(`- backend: ${run.backend}${run.backendDescription ? ` — ${run.backendDescription.replace(/[\r\n]+/g, ' ').slice(0, 200)}` : ''}\n`);
    if (run.backendLimits) tip.appendMarkdown(`- device limits: ${run.backendLimits.replace(/[\r\n]+/g, ' ').slice(0, 400)}\n`);
    tip.appendMarkdown(`- step: ${run.step}${run.totalSteps ? ` of ${run.totalSteps}` : ''}\n`);
    if (run.bestLoss !== undefined) tip.appendMarkdown(`- best ${run.bestKind === 'val' ? 'validation' : 'training'} loss: ${lossLabel(run.bestLoss)}\n`);
    if (run.lastLoss !== undefined) tip.appendMarkdown(`- last training loss: ${lossLabel(run.lastLoss)}\n`);
    if (run.lastCheckpoint) tip.appendMarkdown(`- checkpoint: \`${run.lastCheckpoint}\`\n`);
    tip.appendMarkdown(`- folder: \`${run.dir}\``);
    this.tooltip = tip;
    this.command = { title: 'Open run', command: 'convbert.runs.open', arguments: [this] };
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly unsubscribe: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly registry: RunRegistry) {
    // Points arrive every step; the tree is refreshed at most 4 times a second.
    this.unsubscribe = registry.onDidChange(() => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.emitter.fire();
      }, 250);
    });
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: RunItem): RunItem[] {
    if (item) return [];
    return this.registry.list().map((r) => new RunItem(r));
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe();
    this.emitter.dispose();
  }
}
