/// <reference types="mocha" />
/**
 * Issue #9, findings 14 and 15 in the real VS Code (h5): two real runs of the SAME spec, one trained at batch 8
 * and one (after an edit of the spec) at batch 4, are told apart in the Runs view (short id and start time, newest
 * first, "best val" / "best train" and a tooltip that names each loss), in what the host sends the Loss tab (each
 * run's start time), and in Compare Runs, whose Costs columns are labelled with each run's short id and carry each
 * run's own batch × sequence (from its own spec snapshot).
 *
 * Not observable from the host, so left to the headless webview tests: the colour each run gets (the webview
 * derives it from the order the host lists the runs: test/webview/loss.test.ts) and the "FLOPs per step of
 * B × T tokens" note under each Costs column (test/webview/costs.test.ts).
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRunInfo, runPaths } from '../../../src/run-format';
import type { RunRecord } from '../../../src/extension/runs/registry';
import { RunsTreeProvider } from '../../../src/extension/runs/tree';
import { api, waitFor, workspaceRoot } from './util';

const TRAIN_TIMEOUT = 240_000;
const SPEC_FILE = 'runs-apart.convbert.json';

/** The e2e fixture's tiny GroupBERT (model.convbert.json), 2 steps with an evaluation at the last one. */
const specText = (batchSize: number) =>
  `${JSON.stringify(
    {
      version: 1,
      name: 'runs-apart',
      extends: 'groupbert-tiny',
      model: { vocabSize: 1024, maxPositions: 64, hiddenSize: 64 },
      training: { tokenizer: { vocabSize: 1024 }, sequenceLength: 32, batchSize, steps: 2, evalInterval: 2, evalBatches: 1, checkpointInterval: 2, seed: 7 },
    },
    null,
    2,
  )}\n`;

/** The random suffix of a run id ("20261204-211500-123-3fa9c1" → "3fa9c1"), worked out here, not by the product. */
const suffixOf = (runId: string) => runId.slice(runId.lastIndexOf('-') + 1);

/** A start time as a person reads it, in local time to the minute ("2026-12-04 21:15"). */
function localMinute(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function trainToCompletion(uri: vscode.Uri): Promise<RunRecord> {
  const a = await api();
  const runId = await vscode.commands.executeCommand<string>('convbert.train', uri, { quiet: true });
  assert.ok(runId, 'Train returns the run id');
  return waitFor(`run ${runId} to complete`, () => {
    const r = a.registry.get(runId);
    if (r && !r.live && ['error', 'interrupted', 'nonfinite'].includes(r.state)) throw new Error(`run ended ${r.state}: ${r.message ?? ''}`);
    return r?.state === 'completed' && !r.live ? r : undefined;
  }, TRAIN_TIMEOUT, 300);
}

suite('issue 9 (14, 15): two runs of one spec told apart', () => {
  const ids: string[] = [];

  suiteTeardown(async () => {
    for (const id of ids) await vscode.commands.executeCommand('convbert.runs.delete', id, true).then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await fsp.rm(path.join(workspaceRoot(), SPEC_FILE), { force: true });
  });

  test('apart: two real runs of the same spec (batch 8, then batch 4) read differently in the Runs view, newest first, with train/val named', async function () {
    this.timeout(2 * TRAIN_TIMEOUT + 60_000);
    const a = await api();
    const uri = vscode.Uri.file(path.join(workspaceRoot(), SPEC_FILE));
    await fsp.writeFile(uri.fsPath, specText(8));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);

    const first = await trainToCompletion(uri);
    ids.push(first.runId);
    // The same spec file, edited to batch 4 (Train saves it), trained again.
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), specText(4));
    assert.ok(await vscode.workspace.applyEdit(edit));
    const second = await trainToCompletion(uri);
    ids.push(second.runId);
    assert.notEqual(first.runId, second.runId);
    await a.registry.refresh(); // what a reload would show: the run directories

    // The Runs view, through the extension's own tree data provider over its registry.
    const provider = new RunsTreeProvider(a.registry);
    try {
      const items = provider.getChildren().filter((i) => ids.includes(i.run.runId));
      assert.deepEqual(items.map((i) => i.run.runId), [second.runId, first.runId], 'the newer run is listed first');
      const [newer, older] = items as [(typeof items)[0], (typeof items)[0]];
      assert.equal(newer.label, older.label, 'both are named after their spec');
      assert.equal(newer.label, 'runs-apart');
      for (const item of [newer, older]) {
        const info = await readRunInfo(item.run.dir);
        assert.ok(info?.createdAt, 'run.json has its start time');
        const text = String(item.description);
        assert.ok(text.includes(`#${suffixOf(item.run.runId)}`), `the description names the short id: ${text}`);
        assert.ok(text.includes(localMinute(info.createdAt)), `the description names the start time ${localMinute(info.createdAt)}: ${text}`);
        assert.match(text, /· best val \d/, `the best loss says it is the validation loss: ${text}`);
        assert.doesNotMatch(text, /best \d/);
        const tip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : String(item.tooltip);
        assert.match(tip, /best validation loss: \d/, `the tooltip names the best loss: ${tip}`);
        assert.match(tip, /last training loss: \d/, `the tooltip names the last loss: ${tip}`);
        assert.doesNotMatch(tip, /best loss:|; last:/, 'no unnamed losses');
      }
      assert.notEqual(newer.description, older.description, 'the two rows read differently');
    } finally {
      provider.dispose();
    }

    // What the host sends the Loss tab's run list (snapshot / run messages): each run with its start time, newest first.
    const series = a.registry.series().filter((s) => ids.includes(s.id));
    assert.deepEqual(series.map((s) => s.id), [second.runId, first.runId]);
    for (const s of series) {
      const info = await readRunInfo(a.registry.get(s.id)!.dir);
      assert.equal(s.createdAt, info?.createdAt, `the dashboard gets the start time of ${s.id}`);
      assert.equal(a.registry.dashboardInfo(s.id)?.createdAt, info?.createdAt);
    }
  });

  test('apart: Compare Runs of the batch-8 and the batch-4 run sends each column its own run, batch and sequence', async () => {
    const a = await api();
    assert.equal(ids.length, 2, 'the first test trained two runs');
    const [first, second] = ids as [string, string];
    // The spec snapshots say 8 and 4.
    for (const [id, batch] of [[first, 8], [second, 4]] as const) {
      const snapshot = JSON.parse(await fsp.readFile(runPaths(a.registry.get(id)!.dir).spec, 'utf8')) as { training?: { batchSize?: number } };
      assert.equal(snapshot.training?.batchSize, batch, `the spec snapshot of ${id}`);
    }
    const compared = await vscode.commands.executeCommand<string[]>('convbert.runs.compare', first, [first, second]);
    assert.deepEqual(compared, [first, second]);
    const c = await waitFor('the dashboard with two cost columns', () => (a.dashboard.current && a.dashboard.current.costEntries.length === 2 ? a.dashboard.current : undefined), 30_000);
    assert.deepEqual([...c.selectedRunIds].sort(), [first, second].sort());
    const [col8, col4] = c.costEntries as [(typeof c.costEntries)[0], (typeof c.costEntries)[0]];
    assert.deepEqual([col8.report.batchSize, col8.report.sequenceLength], [8, 32], 'the first column: batch 8 × 32');
    assert.deepEqual([col4.report.batchSize, col4.report.sequenceLength], [4, 32], 'the second column: batch 4 × 32');
    assert.ok(col8.report.totals.trainingFlopsPerStep > col4.report.totals.trainingFlopsPerStep, 'twice the tokens per step, more FLOPs per step');
    // Each column says which run it is: the same short id as the Runs view (the spec's name alone is the same).
    assert.ok(col8.label.includes(`#${suffixOf(first)}`), `the batch-8 column names its run: ${col8.label}`);
    assert.ok(col4.label.includes(`#${suffixOf(second)}`), `the batch-4 column names its run: ${col4.label}`);
    assert.notEqual(col8.label, col4.label);
    await waitFor('the costs to reach the webview', () => (c.sent.get('costs') ?? 0) + (c.sent.get('snapshot') ?? 0) > 0, 30_000);
  });
});
