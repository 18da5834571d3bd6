/// <reference types="mocha" />
/**
 * Issue #9, finding 6, in the real VS Code: Train refuses a spec whose memory estimate is past the backend's hard
 * limit before any trainer is forked (no run directory, no live run), with the estimate, the limit and what to
 * change; a spec past every backend's limit on this machine is an error diagnostic on the value to change.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUNS_DIR } from '../../../src/run-format/run-dir';
import { fitVerdict } from '../../../src/extension/analysis';
import { api, fixture, waitFor, workspaceRoot } from './util';

const OVER_WASM = 'fit-over-wasm.convbert.json';
const OVER_ALL = 'fit-over-all.convbert.json';
const BAD_CORPUS = 'fit-bad-corpus.convbert.json';

suite('fit', () => {
  const runsDir = () => path.join(workspaceRoot(), RUNS_DIR);
  const runIds = () => (existsSync(runsDir()) ? readdirSync(runsDir()).sort() : []);

  suiteTeardown(async () => {
    for (const f of [OVER_WASM, OVER_ALL, BAD_CORPUS]) await fsp.rm(fixture(f).fsPath, { force: true });
  });

  test('fit: Train refuses a spec past the wasm hard limit, before any trainer starts', async () => {
    const a = await api();
    // groupbert-base at batch 64: about 13 GiB, past what wasm can address (3840 MiB).
    await fsp.writeFile(fixture(OVER_WASM).fsPath, '{\n  "version": 1,\n  "name": "fit-over-wasm",\n  "extends": "groupbert-base",\n  "training": { "batchSize": 64, "backend": "wasm" }\n}\n');
    const doc = await vscode.workspace.openTextDocument(fixture(OVER_WASM));
    await vscode.window.showTextDocument(doc);
    const analysis = a.specs.refresh(doc) ?? a.specs.analysis(doc);
    assert.ok(analysis.spec, 'the spec resolves');
    const machineMemory = a.specs.machine.memoryBytes ?? 0;
    const overEvery = machineMemory < 14 * 2 ** 30; // a small machine: the validator already says no backend can
    assert.equal(analysis.valid, !overEvery, JSON.stringify(analysis.diagnostics.map((d) => d.message)));

    const before = runIds();
    const liveBefore = a.training.liveRunIds.length;
    const runId = await vscode.commands.executeCommand<string | undefined>('convbert.train', fixture(OVER_WASM), { quiet: true });
    assert.equal(runId, undefined, 'no run is started');
    assert.deepEqual(runIds(), before, 'no run directory was created');
    assert.equal(a.training.liveRunIds.length, liveBefore, 'no trainer was forked');
    assert.ok(!a.registry.list().some((r) => r.name === 'fit-over-wasm'), 'the registry has no such run');

    if (!overEvery) {
      // What the editor told the user: the numbers and what to change, with no way to start it.
      const verdict = fitVerdict(analysis.spec, 'spec', undefined, a.specs.machine);
      assert.ok(verdict.kind === 'refuse', verdict.kind);
      assert.match(verdict.message, /^Cannot train fit-over-wasm: estimated training memory 13 GiB .* exceeds the hard limit of the wasm backend, 3840 MiB/);
      assert.match(verdict.message, /lower training\.batchSize from 64 to \d+/);
      assert.match(verdict.message, /another backend: tfjs-node/);
    }
  });

  test('fit: a spec past every backend on this machine is an error on the batch size, and Train refuses it', async () => {
    const a = await api();
    // Activations grow with the batch: pick one whose estimate is past this machine's memory.
    const machineMemory = a.specs.machine.memoryBytes ?? 0;
    assert.ok(machineMemory > 0, 'the machine memory is known in the editor');
    const perSequence = 13.3 * 2 ** 30 / 64; // groupbert-base, sequence 128: about 210 MiB of activations each
    const batch = Math.min(1_000_000, Math.ceil((2 * machineMemory) / perSequence));
    const text = `{\n  "version": 1,\n  "name": "fit-over-all",\n  "extends": "groupbert-base",\n  "training": { "batchSize": ${batch} }\n}\n`;
    await fsp.writeFile(fixture(OVER_ALL).fsPath, text);
    const doc = await vscode.workspace.openTextDocument(fixture(OVER_ALL));
    await vscode.window.showTextDocument(doc);
    const diagnostic = await waitFor('the memory diagnostic', () =>
      vscode.languages.getDiagnostics(doc.uri).find((d) => d.code === 'memory-over-every-backend'),
    );
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(diagnostic.range), String(batch), 'the range is the batch size to change');
    assert.match(diagnostic.message, /over every backend's hard limit, wasm's 3840 MiB and the machine's/);
    const before = runIds();
    const runId = await vscode.commands.executeCommand<string | undefined>('convbert.train', fixture(OVER_ALL), { quiet: true });
    assert.equal(runId, undefined);
    assert.deepEqual(runIds(), before);
  });

  test('corpus: a missing corpus file is a warning at its path while editing, relative to the spec', async () => {
    await fsp.writeFile(fixture(BAD_CORPUS).fsPath, '{\n  "version": 1,\n  "extends": "bert-tiny",\n  "training": { "corpus": ["model.convbert.json", "no-such-corpus.txt"] }\n}\n');
    const doc = await vscode.workspace.openTextDocument(fixture(BAD_CORPUS));
    await vscode.window.showTextDocument(doc);
    const d = await waitFor('the corpus-path diagnostic', () => vscode.languages.getDiagnostics(doc.uri).find((x) => x.code === 'corpus-path'));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(doc.getText(d.range), '"no-such-corpus.txt"');
    assert.equal(d.message, `no file ${path.join(workspaceRoot(), 'no-such-corpus.txt')} (paths are relative to the spec's folder); training would stop here`);
    assert.equal(vscode.languages.getDiagnostics(doc.uri).filter((x) => x.code === 'corpus-path').length, 1, 'the existing file is fine');
  });
});
