/// <reference types="mocha" />
/**
 * Sweeps in the real VS Code (docs/sweeps.md): a `*.sweep.json` gets the planner's diagnostics, "ConvBERT: Run
 * Sweep" runs the bundled CLI as a task (not in the extension host) to the end, and the dashboard gets the sweep:
 * both runs, live from their run directories, with the crossing table built from their metrics.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SweepExecution } from '../../../src/extension/sweeps/run-sweep';
import { api, EXTENSION_ID, workspaceRoot, waitFor } from './util';

/** Two tiny runs at one budget: e2e-tiny (GroupBERT, 304 MFLOP a step: 10 steps) and a BERT of the same width. */
function tinySweep(): Promise<string> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext);
  return fsp.readFile(path.join(ext.extensionPath, 'test', 'e2e', 'fixtures', 'sweep', 'tiny.sweep.json'), 'utf8');
}

const RUN_IDS = ['e2e-sweep--gb-s1', 'e2e-sweep--bert-s1'];

suite('sweep', () => {
  test('sweep: a *.sweep.json naming a spec file that is not there gets the planner\'s spec-file error at the run\'s spec', async () => {
    await api();
    const file = path.join(workspaceRoot(), 'broken.sweep.json');
    await fsp.writeFile(file, (await tinySweep()).replace('"model.convbert.json"', '"missing.convbert.json"').replace('"e2e-sweep"', '"e2e-broken"'));
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    const diags = await waitFor('the spec-file diagnostic', () => {
      const d = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.code === 'spec-file');
      return d.length > 0 ? d : undefined;
    }, 20_000);
    assert.equal(diags.length, 1);
    assert.equal(diags[0]!.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(diags[0]!.range), '"missing.convbert.json"', 'the range is the run\'s spec value');
    assert.match(diags[0]!.message, /missing\.convbert\.json/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await fsp.rm(file);
  });

  test('sweep: Run Sweep runs the 2-run sweep with the CLI to the end; the dashboard gets both runs and the crossing table', async function () {
    this.timeout(240_000);
    const a = await api();
    const file = path.join(workspaceRoot(), 'tiny.sweep.json');
    await fsp.writeFile(file, await tinySweep());
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    // A valid sweep: nothing from the planner but its warnings.
    await new Promise((r) => setTimeout(r, 1000));
    const errors = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
    assert.deepEqual(errors.map((d) => d.message), [], 'the tiny sweep has no errors');

    const execution = await vscode.commands.executeCommand<SweepExecution | undefined>('convbert.runSweep', doc.uri);
    assert.ok(execution, 'Run Sweep started a task');
    assert.ok(vscode.tasks.taskExecutions.some((t) => t.task.definition.type === 'convbert-sweep'), 'the sweep runs as a convbert-sweep task');
    const code = await Promise.race([execution.done, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 200_000))]);
    assert.equal(code, 0, 'convbert sweep exits 0');

    const ws = workspaceRoot();
    const state = JSON.parse(await fsp.readFile(path.join(ws, '.convbert', 'sweeps', 'e2e-sweep', 'state.json'), 'utf8')) as { runs: Record<string, unknown> };
    assert.deepEqual(Object.keys(state.runs), RUN_IDS);
    await a.registry.refresh();
    for (const id of RUN_IDS) assert.equal(a.registry.get(id)?.state, 'completed', `${id} is completed in the run registry`);

    // The dashboard (opened by Run Sweep on its Sweep tab) gets the sweep.
    const c = await waitFor('the dashboard to say ready', () => (a.dashboard.current?.isReady ? a.dashboard.current : undefined), 60_000);
    await a.sweeps.refresh();
    const info = await waitFor('the sweep in the dashboard', () => c.sweepInfos.find((s) => s.name === 'e2e-sweep' && s.crossings?.length), 20_000);
    assert.deepEqual(info.runIds, RUN_IDS);
    assert.ok((c.sent.get('sweeps') ?? 0) >= 1, 'a sweeps message was sent');
    const crossing = info.crossings![0]!;
    assert.equal(crossing.groupbert, 'gb');
    assert.equal(crossing.bert, 'bert');
    // The target is BERT's last validation MLM loss, as metrics.jsonl has it (the model also has an NSP head).
    const evals = (await fsp.readFile(path.join(ws, '.convbert', 'runs', 'e2e-sweep--bert-s1', 'metrics.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"type":"eval"'))
      .map((l) => JSON.parse(l) as { step: number; loss: number; mlmLoss?: number });
    assert.ok(evals.at(-1)!.mlmLoss !== undefined, 'evaluations record their MLM loss');
    assert.equal(crossing.target, evals.at(-1)!.mlmLoss);
  });
});
