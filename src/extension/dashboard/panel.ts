/**
 * The dashboard panel: one WebviewPanel (`convbert.dashboard`) running the bundled app `dist/webview/dashboard.js`
 * under the strict CSP of `dashboardHtml` (a fresh `crypto` nonce per render, `localResourceRoots` limited to
 * `dist/webview`, no `retainContextWhenHidden`). The data lives in the host (`DashboardController`), which replays
 * it after the webview's `ready` and whenever the panel becomes visible again; the panel can be closed and reopened
 * at will, and `registerWebviewPanelSerializer` restores it after a reload.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CostEntry, DashboardView } from '../../protocol/webview';
import type { Log } from '../log';
import { logAt } from '../log';
import type { RunRegistry } from '../runs/registry';
import { DASHBOARD_VIEW_TYPE } from '../ids';
import { DashboardController } from './controller';
import { panelHtml } from './html';


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
    if (options.costs) this.costs = options.costs;
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

/** A label for a cost column: the spec's name, else its file name. */
export function costLabel(name: string | undefined, file: string): string {
  const label = name?.trim() || path.basename(file, '.convbert.json');
  return label.slice(0, 256) || 'spec';
}
