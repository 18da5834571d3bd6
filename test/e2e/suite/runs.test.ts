/// <reference types="mocha" />
/**
 * Issue #9 in the real VS Code (h4): the Costs tab follows the spec as it is edited (and two specs side by side),
 * and Rename Run names a run in its run.json, in the Runs view's registry and in the dashboard.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { newRunId, readRunInfo, RUNS_DIR } from '../../../src/run-format/run-dir';
import { STALE_MARK } from '../../../src/extension/dashboard/spec-costs';
import { runDescription } from '../../../src/extension/runs/labels';
import { api, waitFor, workspaceRoot } from './util';

async function writeSpec(name: string, text: string): Promise<vscode.Uri> {
  const uri = vscode.Uri.file(path.join(workspaceRoot(), name));
  await fsp.writeFile(uri.fsPath, text);
  return uri;
}

/** Replaces the whole text of an open document, as typing would. */
async function setText(doc: vscode.TextDocument, text: string): Promise<void> {
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), text);
  assert.ok(await vscode.workspace.applyEdit(edit));
}

const spec = (name: string, layers: number | string) => `{\n  "version": 1,\n  "name": "${name}",\n  "extends": "bert-mini",\n  "model": { "numLayers": ${layers} }\n}\n`;

suite('issue 9: costs follow edits; runs are told apart and renamed', () => {
  test('the Costs tab follows edits of the spec it shows, marks it stale while it has errors, and keeps it across reopening', async () => {
    const a = await api();
    const uri = await writeSpec('costs-follow.convbert.json', spec('costs-follow', 4));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    assert.equal(await vscode.commands.executeCommand('convbert.showCosts', uri), true);
    const costs = () => a.dashboard.current?.costEntries ?? [];
    await waitFor('the 4-layer report', () => costs()[0]?.report.layers.length === 4);
    const params4 = costs()[0]!.report.totals.params;

    await vscode.window.showTextDocument(doc);
    await setText(doc, spec('costs-follow', 8));
    const after = await waitFor('the report to follow the edit to 8 layers', () => (costs()[0]?.report.layers.length === 8 ? costs()[0] : undefined), 10_000);
    assert.equal(after.label, 'costs-follow');
    assert.ok(after.report.totals.params > params4);
    // The same figure as the editor's own analysis (what the CodeLens says).
    assert.equal(after.report.totals.params, a.specs.analysis(doc).cost?.totals.params);

    // Errors: the last report stays, marked stale with the spec's name.
    await setText(doc, spec('costs-follow', '"eight"'));
    const stale = await waitFor('the stale mark', () => (costs()[0]?.label.includes(STALE_MARK) ? costs()[0] : undefined), 10_000);
    assert.match(stale.label, /^costs-follow /);
    assert.equal(stale.report.layers.length, 8);

    // Closed and reopened: the current figures, not the ones of the first Show Costs.
    await setText(doc, spec('costs-follow', 6));
    await waitFor('6 layers', () => costs()[0]?.report.layers.length === 6 && !costs()[0]?.label.includes(STALE_MARK), 10_000);
    a.dashboard.dispose();
    assert.equal(a.dashboard.isOpen, false);
    await setText(doc, spec('costs-follow', 5));
    await waitFor('the analysis of the edit', () => a.specs.analysis(doc).cost?.layers.length === 5);
    await new Promise((r) => setTimeout(r, 600)); // past the analysis debounce
    await vscode.commands.executeCommand('convbert.openDashboard');
    await waitFor('the reopened panel with 5 layers', () => a.dashboard.isOpen && costs()[0]?.report.layers.length === 5, 10_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('two specs side by side (explorer selection), each followed as it is edited, without training', async () => {
    const a = await api();
    const u1 = await writeSpec('costs-a.convbert.json', spec('costs-a', 2));
    const u2 = await writeSpec('costs-b.convbert.json', spec('costs-b', 3));
    assert.equal(await vscode.commands.executeCommand('convbert.showCosts', u1, [u1, u2]), true);
    const costs = () => a.dashboard.current?.costEntries ?? [];
    await waitFor('two reports', () => costs().length === 2);
    assert.deepEqual(costs().map((c) => [c.label, c.report.layers.length]), [['costs-a', 2], ['costs-b', 3]]);
    const doc2 = await vscode.workspace.openTextDocument(u2);
    await vscode.window.showTextDocument(doc2);
    await setText(doc2, spec('costs-b', 7));
    await waitFor('the second column to follow', () => costs()[1]?.report.layers.length === 7, 10_000);
    assert.equal(costs()[0]?.report.layers.length, 2, 'the first stays');
    assert.equal(costs().length, 2, 'focusing one of them does not drop the comparison');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Rename Run writes a name into run.json; the registry, the Runs view text and the dashboard use it', async () => {
    const a = await api();
    const root = path.join(workspaceRoot(), RUNS_DIR);
    const make = async (runId: string) => {
      const dir = path.join(root, runId);
      await fsp.mkdir(dir, { recursive: true });
      const now = new Date().toISOString();
      await fsp.writeFile(path.join(dir, 'run.json'), JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId, name: 'twin', state: 'completed', createdAt: now, updatedAt: now, step: 30, totalSteps: 30, versions: { protocol: 1, node: process.version } }));
      return dir;
    };
    const first = newRunId(new Date(Date.now() - 60_000));
    const second = newRunId();
    const dir = await make(first);
    await make(second);
    await a.registry.refresh();
    const [r1, r2] = [a.registry.get(first)!, a.registry.get(second)!];
    assert.notEqual(runDescription(r1), runDescription(r2), 'two runs of one spec read differently');
    const ids = a.registry.list().map((r) => r.runId);
    assert.ok(ids.indexOf(second) < ids.indexOf(first), 'the newer first');

    assert.equal(await vscode.commands.executeCommand('convbert.runs.rename', first, 'baseline lr 1e-3'), 'baseline lr 1e-3');
    assert.equal((await readRunInfo(dir))?.displayName, 'baseline lr 1e-3');
    assert.equal(a.registry.get(first)?.name, 'baseline lr 1e-3');
    assert.equal(a.registry.dashboardInfo(first)?.name, 'baseline lr 1e-3');
    await a.registry.refresh();
    assert.equal(a.registry.get(first)?.name, 'baseline lr 1e-3', 'after a rescan too');
    await vscode.commands.executeCommand('convbert.runs.delete', first, true);
    await vscode.commands.executeCommand('convbert.runs.delete', second, true);
  });
});
