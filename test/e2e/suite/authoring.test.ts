/// <reference types="mocha" />
/**
 * Issue #9, findings 10–12, in the real VS Code: New Spec from Preset writes exactly one `.convbert.json` and a
 * `name` without an extension; completing `hiddenSize` in a spec extending groupbert-mini inserts the inherited 256
 * (once: the schema no longer offers it too); the quick fixes at `hiddenSize 250` are one list without duplicates,
 * the preferred one clears every error, and each suggestion a message makes has its fix.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import { validateSpecText } from '../../../src/core/validate/validate';
import { api, fixture, labelOf, waitFor } from './util';

const SCRATCH = ['groupbert-mini.convbert.json', 'groupbert-mini.convbert.json.convbert.json', 'typed-name.convbert.json', 'authoring-complete.convbert.json', 'authoring-fix.convbert.json'];

async function openSpec(name: string, text: string): Promise<vscode.TextEditor> {
  await fsp.writeFile(fixture(name).fsPath, text);
  const doc = await vscode.workspace.openTextDocument(fixture(name));
  return vscode.window.showTextDocument(doc);
}

const convbertErrors = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'convbert' && d.severity === vscode.DiagnosticSeverity.Error);

suite('authoring', () => {
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const f of SCRATCH) await fsp.rm(fixture(f).fsPath, { force: true });
  });

  test('authoring: New Spec from Preset writes one .convbert.json and a name without extension, whatever the dialog returned', async () => {
    await api();
    // What code-server's save dialog returns when the suggested name is accepted: the filter's extension appended.
    const fromDialog = fixture('groupbert-mini.convbert.json.convbert.json');
    const written = await vscode.commands.executeCommand<vscode.Uri>('convbert.newSpec', 'groupbert-mini', fromDialog);
    assert.ok(written);
    assert.equal(written.fsPath, fixture('groupbert-mini.convbert.json').fsPath);
    assert.equal(existsSync(fromDialog.fsPath), false, 'no doubled file');
    const text = await fsp.readFile(written.fsPath, 'utf8');
    const result = validateSpecText(text);
    assert.equal(result.spec?.name, 'groupbert-mini');
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, written.fsPath, 'the new spec is opened');

    // A name typed without the extension.
    const typed = await vscode.commands.executeCommand<vscode.Uri>('convbert.newSpec', 'bert-tiny', fixture('typed-name'));
    assert.equal(typed?.fsPath, fixture('typed-name.convbert.json').fsPath);
    assert.equal(validateSpecText(await fsp.readFile(typed.fsPath, 'utf8')).spec?.name, 'typed-name');
  });

  test('authoring: completing hiddenSize under groupbert-mini inserts the inherited 256, offered once', async () => {
    await api();
    const text = '{\n  "version": 1,\n  "extends": "groupbert-mini",\n  "model": {\n    \n  }\n}\n';
    const editor = await openSpec('authoring-complete.convbert.json', text);
    const uri = editor.document.uri;
    const position = new vscode.Position(4, 4);
    // The JSON language server starts asynchronously: wait for one of its schema items (layer) to be there too.
    const items = await waitFor('the schema and our completions', async () => {
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, position);
      const labels = list.items.map(labelOf);
      return labels.includes('layer') && labels.includes('hiddenSize') ? list.items : undefined;
    }, 60_000, 500);
    const hidden = items.filter((i) => labelOf(i) === 'hiddenSize');
    assert.equal(hidden.length, 1, `hiddenSize offered ${hidden.length} times`);
    const item = hidden[0] as vscode.CompletionItem;
    assert.match(String(item.detail), /inherited from groupbert-mini: 256/);
    assert.match((item.documentation as vscode.MarkdownString).value, /inherited from groupbert-mini: `256`/);
    // Accept it as the editor does: its insert text over its range.
    const insert = item.insertText instanceof vscode.SnippetString ? item.insertText.value : String(item.insertText ?? labelOf(item));
    const range = item.range instanceof vscode.Range ? item.range : item.range ? item.range.replacing : new vscode.Range(position, position);
    assert.ok(await editor.edit((e) => e.replace(range, insert)));
    assert.match(editor.document.getText(), /"hiddenSize": 256\b/);
    await editor.document.save();
    const a = await api();
    const analysis = a.specs.refresh(editor.document) ?? a.specs.analysis(editor.document);
    assert.equal(analysis.errors, 0, JSON.stringify(analysis.diagnostics.map((d) => d.message)));
    assert.equal(analysis.spec?.model.hiddenSize, 256);
    // The CodeLens shows the costs, not "1 error".
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
    const titles = lenses.map((l) => l.command?.title ?? '');
    assert.ok(titles.some((t) => /params · .*FLOPs\/token/.test(t)), JSON.stringify(titles));
    assert.ok(!titles.some((t) => /error/.test(t)), JSON.stringify(titles));
  });

  test('authoring: quick fixes at hiddenSize 250 are one list; the preferred clears every error; every suggestion has its fix', async () => {
    await api();
    const text = '{\n  "version": 1,\n  "extends": "groupbert-mini",\n  "model": { "hiddenSize": 250 }\n}\n';
    const editor = await openSpec('authoring-fix.convbert.json', text);
    const uri = editor.document.uri;
    const diags = await waitFor('three errors at 250', () => {
      const ds = convbertErrors(uri);
      return ds.length === 3 ? ds : undefined;
    });
    const at = (diags[0] as vscode.Diagnostic).range;
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, at, vscode.CodeActionKind.QuickFix.value);
    const titles = actions.map((x) => x.title);
    assert.equal(new Set(titles).size, titles.length, `duplicates: ${JSON.stringify(titles)}`);
    for (const d of diags) {
      const m = /; use ([\d, or]+?)(?:, or set (\w+) to ([\d, or]+?))?$/.exec(d.message);
      assert.ok(m, d.message);
      for (const v of (m[1] as string).split(/, | or /)) assert.ok(titles.includes(`Set hiddenSize to ${v}`), `hiddenSize ${v}: ${JSON.stringify(titles)}`);
      for (const v of (m[3] ?? '').split(/, | or /).filter(Boolean)) assert.ok(titles.includes(`Set ${m[2]} to ${v}`), `${m[2]} ${v}: ${JSON.stringify(titles)}`);
    }
    const preferred = actions.filter((x) => x.isPreferred);
    assert.equal(preferred.length, 1);
    assert.equal(actions[0], preferred[0], 'the preferred fix comes first');
    console.log(`quick fixes at hiddenSize 250: ${titles.join(', ')}`);
    // Applying the preferred fix leaves no error at all.
    assert.ok(await vscode.workspace.applyEdit((preferred[0] as vscode.CodeAction).edit as vscode.WorkspaceEdit));
    await waitFor('every error to clear', () => convbertErrors(uri).length === 0, 10_000);
    assert.equal(validateSpecText(editor.document.getText()).diagnostics.filter((d) => d.severity === 'error').length, 0);
    await editor.document.save();
  });
});
