/// <reference types="mocha" />
/**
 * Editing in the real VS Code: schema completions (VS Code's JSON features reading contributes.jsonValidation),
 * the semantic diagnostics with the validator's exact ranges, quick fixes, CodeLens totals against the cost
 * model, hovers, and the commands that need no trainer.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { computeCost } from '../../../src/core/cost';
import { diagnosticCategory } from '../../../src/core/spec/diagnostics';
import { PRESET_NAMES } from '../../../src/core/spec/preset-names';
import { validateSpecText } from '../../../src/core/validate/validate';
import { totalsTitle } from '../../../src/extension/lens-content';
import { api, fixture, labelOf, open, waitFor, workspaceRoot } from './util';

async function completionLabels(uri: vscode.Uri, position: vscode.Position, expect: string): Promise<string[]> {
  // The JSON language server starts asynchronously: poll until the schema's items show up.
  return waitFor(`completion "${expect}"`, async () => {
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, position);
    const labels = list.items.map(labelOf);
    return labels.includes(expect) ? labels : undefined;
  }, 60_000, 500);
}

async function writeSpec(name: string, text: string): Promise<vscode.Uri> {
  const uri = fixture(name);
  await fsp.writeFile(uri.fsPath, text);
  return uri;
}

suite('editing', () => {
  test('activates, cheaply', async () => {
    const a = await api();
    console.log(`activation: ${a.activationMs.toFixed(1)} ms (activate() inside the real extension host)`);
    assert.ok(a.activationMs < 1000, `activate() took ${a.activationMs} ms`);
  });

  test('completions offer the schema properties and one snippet per preset', async () => {
    const empty = await writeSpec('scratch-empty.convbert.json', '');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(empty));
    const labels = await completionLabels(empty, new vscode.Position(0, 0), 'preset: groupbert-base');
    for (const p of PRESET_NAMES) assert.ok(labels.includes(`preset: ${p}`), `preset: ${p} in ${JSON.stringify(labels)}`);

    const text = '{ "version": 1, "extends": "bert-base", "model": {  } }\n';
    const model = await writeSpec('scratch-model.convbert.json', text);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(model));
    const props = await completionLabels(model, new vscode.Position(0, text.indexOf('{  }') + 2), 'hiddenSize');
    for (const key of ['hiddenSize', 'numLayers', 'numHeads', 'layer', 'layerOverrides']) assert.ok(props.includes(key), `${key} in ${JSON.stringify(props)}`);
  });

  test('a bad spec gets the validator\'s semantic diagnostics, with its exact ranges and codes', async () => {
    const doc = await open('bad.convbert.json');
    const expected = validateSpecText(doc.getText()).diagnostics.filter((d) => diagnosticCategory(d.code) === 'semantic');
    assert.ok(expected.length >= 3, 'the fixture has several semantic errors');
    const got = await waitFor('convbert diagnostics', () => {
      const ds = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'convbert');
      return ds.length === expected.length ? ds : undefined;
    });
    const key = (code: unknown, r: { start: { line: number; character: number }; end: { line: number; character: number } }, message: string) =>
      `${String(code)} ${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character} ${message}`;
    assert.deepEqual(got.map((d) => key(d.code, d.range, d.message)).sort(), expected.map((d) => key(d.code, d.range, d.message)).sort());
    // hiddenSize 250 on line 5 (zero-based 4), the value's three characters.
    const hidden = got.find((d) => d.code === 'heads-divisibility');
    assert.ok(hidden);
    assert.equal(doc.getText(hidden.range), '250');
    assert.equal(hidden.severity, vscode.DiagnosticSeverity.Error);
  });

  test('quick fixes offer the candidates the message names, and applying one clears the diagnostic', async () => {
    const uri = await writeSpec('scratch-fix.convbert.json', '{\n  "version": 1,\n  "extends": "bert-mini",\n  "model": { "numHeads": 5 }\n}\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const diag = await waitFor('heads diagnostic', () => vscode.languages.getDiagnostics(uri).find((d) => d.code === 'heads-divisibility'));
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, diag.range, vscode.CodeActionKind.QuickFix.value);
    const titles = actions.map((a) => a.title);
    assert.ok(titles.includes('Set numHeads to 4'), JSON.stringify(titles));
    assert.ok(titles.includes('Set numHeads to 8'), JSON.stringify(titles));
    const preferred = actions.find((a) => a.isPreferred);
    assert.equal(preferred?.title, 'Set numHeads to 4');
    assert.ok(preferred?.edit && (await vscode.workspace.applyEdit(preferred.edit)));
    assert.match(doc.getText(), /"numHeads": 4/);
    await waitFor('the diagnostic to clear', () => !vscode.languages.getDiagnostics(uri).some((d) => d.source === 'convbert' && d.severity === vscode.DiagnosticSeverity.Error) || undefined);
    await doc.save();
  });

  test('CodeLens above model shows the cost model\'s totals, ▶ Train and Show costs; one per module', async () => {
    const doc = await open('model.convbert.json');
    const lenses = await waitFor('code lenses', async () => {
      const ls = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
      return ls.length >= 3 ? ls : undefined;
    });
    const result = validateSpecText(doc.getText());
    assert.ok(result.spec, 'the fixture is valid');
    const expectedTitle = totalsTitle(computeCost(result.spec));
    const modelLine = doc.getText().split('\n').findIndex((l) => l.includes('"model"'));
    const onModel = lenses.filter((l) => l.range.start.line === modelLine).map((l) => l.command?.title);
    assert.deepEqual(onModel, [expectedTitle, '▶ Train', 'Show costs']);
    assert.match(expectedTitle, /^253 k params · 0\.396 MFLOPs\/token$/);

    const groupbert = await writeSpec('scratch-groupbert.convbert.json', '{\n  "version": 1,\n  "extends": "groupbert-base",\n  "model": {\n    "layer": { "modules": [{ "type": "conv" }, { "type": "gffn" }, { "type": "attention" }, { "type": "gffn" }] }\n  }\n}\n');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(groupbert));
    const gl = await waitFor('groupbert lenses', async () => {
      const ls = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', groupbert, 100);
      return ls.length >= 8 ? ls : undefined;
    });
    const titles = gl.map((l) => l.command?.title ?? '');
    assert.ok(titles.some((t) => t.startsWith('per layer: ') && t.endsWith('× 12')), JSON.stringify(titles));
    assert.deepEqual(titles.filter((t) => /^(conv|gffn|attention): /.test(t)).map((t) => t.split(':')[0]), ['conv', 'gffn', 'attention', 'gffn']);
    assert.ok(titles.includes('161 M params · 0.284 GFLOPs/token'), JSON.stringify(titles));
  });

  test('hovers on size properties show derived shapes and costs', async () => {
    const doc = await open('model.convbert.json');
    const line = doc.getText().split('\n').findIndex((l) => l.includes('"hiddenSize"'));
    const col = (doc.lineAt(line).text.indexOf('"hiddenSize"') as number) + 3;
    const text = await waitFor('our hover', async () => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(line, col));
      const all = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : '')));
      const ours = all.find((s) => s.includes('**ConvBERT**'));
      return ours;
    });
    assert.match(text, /head size 32/);
    assert.match(text, /`\[8, 32, 64\]`/);
    assert.match(text, /253,442 parameters/);
  });

  test('Validate and New Spec from Preset', async () => {
    const result = await vscode.commands.executeCommand<{ errors: number; warnings: number }>('convbert.validate', fixture('bad.convbert.json'));
    assert.ok(result && result.errors >= 3, JSON.stringify(result));
    const target = vscode.Uri.file(path.join(workspaceRoot(), 'scratch-new.convbert.json'));
    const made = await vscode.commands.executeCommand<vscode.Uri>('convbert.newSpec', 'groupbert-mini', target);
    assert.equal(made?.fsPath, target.fsPath);
    const text = await fsp.readFile(target.fsPath, 'utf8');
    assert.deepEqual(JSON.parse(text), { version: 1, name: 'scratch-new', extends: 'groupbert-mini' });
    const ok = await vscode.commands.executeCommand<{ errors: number }>('convbert.validate', target);
    assert.equal(ok?.errors, 0);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const f of ['scratch-empty', 'scratch-model', 'scratch-fix', 'scratch-groupbert', 'scratch-new']) await fsp.rm(path.join(workspaceRoot(), `${f}.convbert.json`), { force: true });
  });
});
