/**
 * The dashboard panel: one WebviewPanel (`convbert.dashboard`) running the bundled app `dist/webview/dashboard.js`
 * under the strict CSP of `dashboardHtml` (a fresh `crypto` nonce per render, `localResourceRoots` limited to
 * `dist/webview`, no `retainContextWhenHidden`). The data lives in the host (`DashboardController`), which replays
 * it after the webview's `ready` and whenever the panel becomes visible again; the panel can be closed and reopened
 * at will, and `registerWebviewPanelSerializer` restores it after a reload.
 *
 * The Costs tab follows the specs it shows (`showSpecCosts`, after `trackSpecs`): every analysis of one of them
 * (as you type) replaces its report, and while it has errors its last report is marked stale. Showing one spec
 * (or none), it follows the active spec editor. Reports of runs (Open / Compare Runs) are fixed.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { CostEntry, DashboardView, SweepInfo } from '../../protocol/webview';
import type { Log } from '../log';
import { logAt } from '../log';
import type { RunRegistry } from '../runs/registry';
import { DASHBOARD_VIEW_TYPE } from '../ids';
import { isSpecDocument, type SpecService } from '../spec-service';
import { DashboardController } from './controller';
import { panelHtml } from './html';
import { specCostEntry } from './spec-costs';


export interface ShowOptions {
  runIds?: string[];
  costs?: CostEntry[];
  /** Switch to this tab; without it the panel stays on the tab it was on. */
  view?: DashboardView;
  preserveFocus?: boolean;
}

export class DashboardManager implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private controller: DashboardController | undefined;
  private costs: CostEntry[] = [];
  private selected: string[] = [];
  private sweeps: SweepInfo[] = [];
  /** The specs whose costs are shown and followed; undefined while the costs are fixed (a run's). */
  private specSources: vscode.Uri[] | undefined;
  private specs: SpecService | undefined;
  /** The last entry of each followed spec (by URI), for the stale mark while it has errors. */
  private specEntries = new Map<string, CostEntry>();
  private readonly webviewRoot: vscode.Uri;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly registry: RunRegistry,
    private readonly log: Log,
  ) {
    this.webviewRoot = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** The controller of the open panel (tests read what it sent). */
  get current(): DashboardController | undefined {
    return this.controller;
  }

  registerSerializer(): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        this.log.info('dashboard: restored after a reload');
        this.attach(panel);
      },
    });
  }

  show(options: ShowOptions = {}): void {
    if (options.costs) {
      this.costs = options.costs;
      this.specSources = undefined;
    } else if (this.costs.length === 0 && !this.specSources) {
      // Nothing on the Costs tab yet: the spec being edited, followed from now on.
      const doc = vscode.window.activeTextEditor?.document;
      if (doc && isSpecDocument(doc) && this.specs) {
        this.specSources = [doc.uri];
        this.updateSpecCosts(false);
      }
    }
    if (options.runIds) this.selected = options.runIds;
    if (this.panel) {
      this.panel.reveal(undefined, options.preserveFocus ?? false);
    } else {
      const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'ConvBERT Dashboard', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: options.preserveFocus ?? false }, this.webviewOptions());
      this.attach(panel);
    }
    if (options.costs) this.controller?.setCosts(this.costs);
    if (options.runIds) this.controller?.select(this.selected);
    if (options.view) this.controller?.showView(options.view);
  }

  /** Selects runs in the open panel (no-op when closed; remembered for when it opens). */
  select(runIds: string[]): void {
    this.selected = runIds;
    this.controller?.select(runIds);
  }

  setCosts(costs: CostEntry[]): void {
    this.costs = costs;
    this.controller?.setCosts(costs);
  }

  /** The sweeps the Sweep tab shows (kept for when the panel opens). */
  setSweeps(sweeps: SweepInfo[]): void {
    this.sweeps = sweeps;
    this.controller?.setSweeps(sweeps);
  }

  /** The specs shown on the Costs tab (followed as they change), in order. */
  get followedSpecs(): readonly vscode.Uri[] {
    return this.specSources ?? [];
  }

  /** Follows the specs' analyses (as you type) and the active spec editor. */
  trackSpecs(specs: SpecService): vscode.Disposable {
    this.specs = specs;
    return vscode.Disposable.from(
      specs.onDidAnalyze((doc) => {
        if (this.specSources?.some((u) => u.toString() === doc.uri.toString())) this.updateSpecCosts();
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        const doc = editor?.document;
        if (!doc || !isSpecDocument(doc)) return;
        const following = this.specSources ? this.specSources.length <= 1 : this.costs.length === 0;
        if (!following || this.specSources?.[0]?.toString() === doc.uri.toString()) return;
        this.specSources = [doc.uri];
        this.updateSpecCosts();
      }),
    );
  }

  /** Shows the costs of one spec, or two side by side, on the Costs tab, and follows them from now on. */
  showSpecCosts(specs: SpecService, uris: vscode.Uri[], options: { preserveFocus?: boolean } = {}): void {
    this.specs = specs;
    const sources = uris.slice(0, 2);
    this.specSources = sources;
    this.updateSpecCosts(false);
    this.show({ costs: this.costs, view: 'costs', preserveFocus: options.preserveFocus ?? false });
    this.specSources = sources; // show() with costs stops following: these are followed
  }

  /** Recomputes the followed specs' entries from their current analyses (the open documents'). */
  private updateSpecCosts(push = true): void {
    const specs = this.specs;
    const sources = this.specSources;
    if (!specs || !sources) return;
    const costs: CostEntry[] = [];
    const entries = new Map<string, CostEntry>();
    for (const uri of sources) {
      const key = uri.toString();
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
      const before = this.specEntries.get(key);
      const a = doc ? specs.analysis(doc) : undefined;
      const entry = a ? specCostEntry(a.spec?.name, uri.path, a.cost, before) : before;
      if (entry) {
        costs.push(entry);
        entries.set(key, entry);
      }
    }
    this.specEntries = entries;
    this.costs = costs;
    if (push) this.controller?.setCosts(costs);
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [this.webviewRoot], retainContextWhenHidden: false, enableFindWidget: false };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    panel.webview.options = this.webviewOptions();
    const controller = new DashboardController(this.registry, {
      post: (message) => panel.webview.postMessage(message),
      saveFile: (name, kind, bytes) => this.saveFile(name, kind, bytes),
      log: (level, message) => logAt(this.log, level, message),
    });
    this.controller = controller;
    controller.setCosts(this.costs);
    controller.setSweeps(this.sweeps);
    controller.select(this.selected);
    const subs = [
      panel.webview.onDidReceiveMessage((raw: unknown) => void controller.receive(raw)),
      panel.onDidChangeViewState(() => controller.setVisible(panel.visible)),
    ];
    panel.onDidDispose(() => {
      for (const s of subs) s.dispose();
      controller.dispose();
      if (this.panel === panel) {
        this.panel = undefined;
        this.controller = undefined;
      }
    });
    panel.webview.html = this.html(panel.webview);
  }

  private html(webview: vscode.Webview): string {
    return panelHtml(webview.cspSource, {
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'dashboard.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'dashboard.css')).toString(),
      nonce: randomBytes(16).toString('base64'),
      title: 'ConvBERT Dashboard',
    });
  }

  private async saveFile(name: string, kind: 'png' | 'csv', bytes: Uint8Array): Promise<string | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
      filters: kind === 'png' ? { 'PNG image': ['png'] } : { 'CSV table': ['csv'] },
      saveLabel: 'Export',
      title: `Export ${name}`,
    });
    if (!uri) return undefined;
    await vscode.workspace.fs.writeFile(uri, bytes);
    return uri.scheme === 'file' ? uri.fsPath : uri.toString();
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

export { costLabel } from './spec-costs';
