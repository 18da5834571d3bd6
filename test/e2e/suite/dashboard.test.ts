/// <reference types="mocha" />
/**
 * The dashboard panel in the real VS Code: the bundled webview loads under its CSP and says `ready`, the host
 * answers with a snapshot, Show Costs sends the spec's cost report and switches to the Costs tab, a saved probe is
 * served, and a snapshot is replayed when the panel becomes visible again.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, fixture, open, waitFor } from './util';

const REFERENCE_RUN = process.env.CONVBERT_E2E_REFERENCE_RUN;

function dashboardTab(): vscode.Tab | undefined {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'ConvBERT Dashboard');
}

suite('dashboard', () => {
  test('Open Dashboard shows the panel; the webview loads and gets a snapshot', async () => {
    const a = await api();
    await vscode.commands.executeCommand('convbert.openDashboard');
    await waitFor('a ConvBERT Dashboard tab', () => dashboardTab(), 10_000);
    const controller = await waitFor('the webview to say ready', () => (a.dashboard.current?.isReady ? a.dashboard.current : undefined), 60_000, 250);
    assert.ok((controller.sent.get('snapshot') ?? 0) >= 1, 'a snapshot after ready');
  });

  test('Show Costs sends the spec\'s cost report and switches the dashboard to its Costs tab', async () => {
    const a = await api();
    const before = a.dashboard.current?.sent.get('costs') ?? 0;
    const viewsBefore = a.dashboard.current?.sent.get('showView') ?? 0;
    assert.equal(await vscode.commands.executeCommand('convbert.showCosts', fixture('model.convbert.json')), true);
    const c = a.dashboard.current;
    assert.ok(c);
    assert.equal(c.costEntries.length, 1);
    assert.equal(c.costEntries[0]?.label, 'e2e-tiny');
    assert.equal(c.costEntries[0]?.report.totals.params, 253_442);
    await waitFor('a costs message', () => (c.sent.get('costs') ?? 0) > before || (c.sent.get('snapshot') ?? 0) > 0);
    await waitFor('a showView message', () => (c.sent.get('showView') ?? 0) > viewsBefore);
  });

  test('a run\'s saved probe is served to the webview', async function () {
    if (!REFERENCE_RUN) this.skip();
    const a = await api();
    await a.registry.refresh();
    const run = a.registry.get(REFERENCE_RUN as string);
    assert.ok(run, `the reference run ${REFERENCE_RUN}`);
    assert.deepEqual(a.registry.probeSteps(run.runId), [10, 20]);
    const c = a.dashboard.current;
    assert.ok(c);
    const before = c.sent.get('probe') ?? 0;
    await vscode.commands.executeCommand('convbert.runs.open', run.runId);
    await waitFor('a probe message', () => (c.sent.get('probe') ?? 0) > before, 15_000);
  });

  test('hidden, then visible again: the host replays a snapshot', async () => {
    const a = await api();
    const c = a.dashboard.current;
    assert.ok(c);
    const tab = dashboardTab();
    assert.ok(tab);
    // Cover the panel with an editor in its group, then bring it back.
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(fixture('model.convbert.json')), { viewColumn: tab.group.viewColumn, preview: false });
    await waitFor('the panel to be hidden', () => !dashboardTab()?.isActive || undefined, 10_000);
    const before = c.sent.get('snapshot') ?? 0;
    await vscode.commands.executeCommand('convbert.openDashboard');
    await waitFor('a replayed snapshot', () => (c.sent.get('snapshot') ?? 0) > before, 30_000);
    void open;
  });

  test('closing and reopening the panel keeps the runs (the host owns the data)', async () => {
    const a = await api();
    const runs = a.registry.list().length;
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor('the panel to close', () => !a.dashboard.isOpen || undefined, 10_000);
    await vscode.commands.executeCommand('convbert.openDashboard');
    const c = await waitFor('the new webview to say ready', () => (a.dashboard.current?.isReady ? a.dashboard.current : undefined), 60_000);
    assert.ok((c.sent.get('snapshot') ?? 0) >= 1);
    assert.equal(a.registry.list().length, runs);
  });
});
