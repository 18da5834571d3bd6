/**
 * What VS Code's JSON language features do with the generated schema (schemas/convbert.schema.json), through
 * vscode-json-languageservice, the library behind them: completions, hovers, and validation that agrees with
 * `validateSpecText` on the fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ClientCapabilities,
  getLanguageService,
  TextDocument,
  type CompletionItem,
  type CompletionList,
  type Diagnostic as LsDiagnostic,
  type MarkupContent,
} from 'vscode-json-languageservice';
import { diagnosticCategory, formatDiagnostic } from '../../src/core/spec/diagnostics';
import { PRESET_NAMES, PRESET_SUMMARIES } from '../../src/core/spec/preset-names';
import { SCHEMA_PATH, editorCompletedModelKeys } from '../../src/core/spec/artifacts';
import { modelKeyCompletions } from '../../src/extension/completion-content';
import { validateSpecText } from '../../src/core/validate/validate';

const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
const ls = getLanguageService({
  clientCapabilities: ClientCapabilities.LATEST,
  // For fixtures that name their schema with "$schema": a relative path, resolved against the file.
  workspaceContext: { resolveRelativePath: (relativePath, resource) => new URL(relativePath, resource).href },
  schemaRequestService: async (uri) => readFileSync(fileURLToPath(uri), 'utf8'),
});
ls.configure({
  validate: true,
  allowComments: true,
  schemas: [{ uri: String(schema.$id), fileMatch: ['*.convbert.json'], schema }],
});

let version = 0;
/** A document at `path` (relative to the repository), so that a relative "$schema" resolves. */
function doc(text: string, path = 'spec.convbert.json'): TextDocument {
  return TextDocument.create(pathToFileURL(resolve(path)).href, 'jsonc', ++version, text);
}

/** Completions at the `|` in `text`. */
async function complete(textWithCursor: string): Promise<CompletionItem[]> {
  const offset = textWithCursor.indexOf('|');
  assert.ok(offset >= 0, 'the text marks the cursor with |');
  const d = doc(textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1));
  const list = (await ls.doComplete(d, d.positionAt(offset), ls.parseJSONDocument(d))) as CompletionList | null;
  return list?.items ?? [];
}

function labels(items: CompletionItem[]): string[] {
  return items.map((i) => i.label);
}

function markdown(item: CompletionItem | undefined): string {
  const doc = item?.documentation as MarkupContent | string | undefined;
  assert.ok(doc && typeof doc === 'object', `${item?.label}: markdown documentation`);
  assert.equal(doc.kind, 'markdown');
  return doc.value;
}

function insertText(item: CompletionItem | undefined): string {
  return item?.textEdit?.newText ?? item?.insertText ?? '';
}

// ---------------------------------------------------------------------------------------------------------
// Completions

test('an empty file offers one snippet per preset, inserting version, name and extends', async () => {
  const items = await complete('|');
  for (const preset of PRESET_NAMES) {
    const item = items.find((i) => i.label === `preset: ${preset}`);
    assert.ok(item, `preset: ${preset}`);
    const text = insertText(item);
    assert.match(text, /"version": 1/);
    assert.match(text, new RegExp(`"extends": "${preset}"`));
    assert.match(text, /"name": "\$\{1:my-/);
  }
  assert.ok(items.find((i) => i.label === 'preset: groupbert-base'));
});

test('the top level offers its properties, with markdown docs', async () => {
  const items = await complete('{ "version": 1, | }');
  for (const key of ['extends', 'model', 'training', 'name', 'description', '$schema']) assert.ok(labels(items).includes(key), key);
  assert.ok(!labels(items).includes('version'), 'properties already present are not offered again');
  assert.match(markdown(items.find((i) => i.label === 'extends')), /Start from a preset/);
});

test('model offers every model property once: the schema the structured ones, the editor the numbers with their effective values', async () => {
  const text = '{ "version": 1, "extends": "bert-base", "model": { | } }';
  const items = await complete(text);
  const ours = modelKeyCompletions(text.replace('|', ''), text.indexOf('|'));
  const expected = ['vocabSize', 'maxPositions', 'tokenTypes', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'layerNormEps', 'normPlacement', 'hiddenDropout', 'attentionDropout', 'activation', 'initializerRange', 'heads', 'layer', 'layerOverrides'];
  const fromSchema = labels(items);
  const fromEditor = ours.map((c) => c.key);
  assert.deepEqual(fromSchema.filter((k) => fromEditor.includes(k)), [], 'no key is offered twice');
  assert.deepEqual([...fromSchema, ...fromEditor].sort(), [...expected].sort());
  assert.deepEqual([...fromEditor].sort(), [...editorCompletedModelKeys()].sort(), 'the keys the schema hides are the ones the editor completes');
  assert.match(ours.find((c) => c.key === 'hiddenSize')?.markdown ?? '', /Model width H/);
  assert.match(markdown(items.find((i) => i.label === 'normPlacement')), /LayerNorm/);
  assert.match(ours.find((c) => c.key === 'vocabSize')?.insertText ?? '', /"vocabSize": 30522/, "the preset's value is inserted");
});

test('enum values come with their descriptions: normPlacement, activation, backend, extends', async () => {
  const norm = await complete('{ "version": 1, "model": { "normPlacement": | } }');
  assert.deepEqual(labels(norm), ['"post"', '"pre"']);
  assert.match(markdown(norm.find((i) => i.label === '"pre"')), /GroupBERT/);
  assert.match(markdown(norm.find((i) => i.label === '"post"')), /BERT/);

  const act = await complete('{ "version": 1, "model": { "activation": "|" } }');
  assert.deepEqual(labels(act), ['"gelu"', '"gelu_tanh"', '"relu"', '"swish"']);
  assert.match(markdown(act.find((i) => i.label === '"gelu_tanh"')), /tanh approximation/);

  const backend = await complete('{ "version": 1, "training": { "backend": | } }');
  assert.deepEqual(labels(backend), ['"auto"', '"tfjs-node-gpu"', '"webgpu"', '"tfjs-node"', '"blas"', '"wasm"', '"cpu"', '"cuda"', '"mps"', '"torch-cpu"']);

  const engine = await complete('{ "version": 1, "training": { "engine": | } }');
  assert.deepEqual(labels(engine), ['"auto"', '"tfjs"', '"torch"']);
  assert.match(markdown(engine.find((i) => i.label === '"torch"')), /PyTorch/);
  assert.match(markdown(engine.find((i) => i.label === '"auto"')), /GPU/);
  const precision = await complete('{ "version": 1, "training": { "precision": | } }');
  assert.deepEqual(labels(precision), ['"fp32"', '"tf32"', '"bf16"']);

  const ext = await complete('{ "version": 1, "extends": | }');
  assert.deepEqual(labels(ext), PRESET_NAMES.map((p) => `"${p}"`));
  const base = ext.find((i) => i.label === '"groupbert-base"');
  const docText = typeof base?.documentation === 'string' ? base.documentation : (base?.documentation as MarkupContent | undefined)?.value;
  assert.equal(docText, PRESET_SUMMARIES['groupbert-base']);
});

test('a modules array offers the module snippets; its value offers BERT and GroupBERT layers', async () => {
  const inArray = await complete('{ "version": 1, "model": { "layer": { "modules": [ | ] } } }');
  assert.deepEqual(labels(inArray), ['attention module', 'conv module (GroupBERT)', 'gffn module (GroupBERT)', 'ffn module (BERT)']);
  assert.match(insertText(inArray.find((i) => i.label === 'conv module (GroupBERT)')), /"type": "conv",\s*"kernelSize": 7,\s*"channelsPerGroup": 16/);

  const inOverride = await complete('{ "version": 1, "extends": "groupbert-base", "model": { "layerOverrides": [ { "layers": "0-3", "modules": [ { "type": "gffn" }, | ] } ] } }');
  assert.ok(labels(inOverride).includes('attention module'));

  const value = await complete('{ "version": 1, "model": { "layer": { "modules": | } } }');
  assert.deepEqual(labels(value), ['BERT layer', 'GroupBERT layer']);
  assert.match(insertText(value.find((i) => i.label === 'GroupBERT layer')), /"conv"[\s\S]*"gffn"[\s\S]*"attention"[\s\S]*"gffn"/);

  const overrides = await complete('{ "version": 1, "model": { "layerOverrides": [ | ] } }');
  assert.deepEqual(labels(overrides), ['override some layers']);
});

test('inside a module, the properties of its kind; "type" offers the kinds', async () => {
  const conv = await complete('{ "version": 1, "model": { "layer": { "modules": [ { "type": "conv", | } ] } } }');
  assert.deepEqual(labels(conv), ['kernelSize', 'channelsPerGroup', 'glu', 'norm', 'bias', 'padding']);
  assert.match(markdown(conv.find((i) => i.label === 'kernelSize')), /GroupBERT uses \*\*7\*\*/);

  const attention = await complete('{ "version": 1, "model": { "layer": { "modules": [ { "type": "attention", | } ] } } }');
  assert.deepEqual(labels(attention), ['heads', 'qkvBias', 'projectionBias']);

  const kinds = await complete('{ "version": 1, "model": { "layer": { "modules": [ { "type": | } ] } } }');
  assert.deepEqual(labels(kinds), ['"attention"', '"conv"', '"gffn"', '"ffn"']);
});

// ---------------------------------------------------------------------------------------------------------
// Hovers

async function hover(text: string, target: string, delta = 2): Promise<string> {
  const d = doc(text);
  const offset = text.indexOf(target);
  assert.ok(offset >= 0, target);
  const h = await ls.doHover(d, d.positionAt(offset + delta), ls.parseJSONDocument(d));
  const contents = h?.contents;
  if (!contents) return '';
  if (typeof contents === 'string') return contents;
  if (Array.isArray(contents)) return contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
  return (contents as MarkupContent).value;
}

test('hovers show the markdownDescription', async () => {
  const text = '{ "version": 1, "extends": "groupbert-base", "model": { "hiddenSize": 768, "layer": { "modules": [ { "type": "conv", "kernelSize": 7 } ] } }, "training": { "batchSize": 8 } }';
  assert.match(await hover(text, '"hiddenSize"'), /Model width H\. Parameters grow as H²/);
  assert.match(await hover(text, '"kernelSize"'), /GroupBERT uses \*\*7\*\*\. Must be odd with `"same"` padding/);
  assert.match(await hover(text, '"extends"'), /Start from a preset/);
  assert.match(await hover(text, '"batchSize"'), /Sequences per optimizer step/);
  assert.match(await hover(text, '"conv"'), /Grouped 1-D convolution module/);
});

// ---------------------------------------------------------------------------------------------------------
// Validation agreement

async function lsValidate(text: string, path: string): Promise<LsDiagnostic[]> {
  const d = doc(text, path);
  return ls.doValidation(d, ls.parseJSONDocument(d), { comments: 'ignore', trailingCommas: 'ignore', schemaValidation: 'error', schemaRequest: 'error' });
}

function fixtures(dir: string): { name: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.convbert.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

/** Codes whose problems the language service also finds (it knows the schema and JSON syntax, not our semantics). */
function isSchemaLevel(code: string): boolean {
  const category = diagnosticCategory(code);
  return category === 'schema' || (category === 'syntax' && code === 'syntax');
}

test('valid fixtures are clean for the language service too', async () => {
  for (const { name, text } of fixtures('test/fixtures/valid')) {
    const theirs = await lsValidate(text, join('test/fixtures/valid', name));
    assert.deepEqual(theirs.map((d) => `${d.range.start.line + 1}: ${d.message}`), [], name);
    assert.deepEqual(validateSpecText(text).diagnostics, [], name);
  }
});

test('a relative "$schema" in a fixture loads the same schema', async () => {
  const text = '{ "$schema": "../../../schemas/convbert.schema.json", "version": 2, "extends": "bert-tiny" }';
  const theirs = await lsValidate(text, 'test/fixtures/valid/probe.convbert.json');
  assert.deepEqual(theirs.map((d) => d.message), ['Expected 1: the only spec format version so far.']);
});

test('every schema-level error we report on a fixture, the language service reports on the same line', async () => {
  let compared = 0;
  for (const { name, text } of fixtures('test/fixtures/invalid')) {
    const ours = validateSpecText(text).diagnostics.filter((d) => d.severity === 'error' && isSchemaLevel(d.code));
    const theirs = await lsValidate(text, join('test/fixtures/invalid', name));
    const lines = new Set(theirs.map((d) => d.range.start.line));
    for (const d of ours) {
      compared++;
      assert.ok(
        lines.has(d.range.start.line),
        `${formatDiagnostic(name, d)}\n  the language service says:\n${theirs.map((t) => `    ${t.range.start.line + 1}:${t.range.start.character + 1} ${t.message}`).join('\n')}`,
      );
    }
    // The other way round: where we find no schema problem, the language service finds no error either.
    if (ours.length === 0 && !validateSpecText(text).diagnostics.some((d) => d.code === 'empty-file')) {
      const errors = theirs.filter((t) => t.severity === 1);
      assert.deepEqual(errors.map((t) => `${t.range.start.line + 1}: ${t.message}`), [], `${name}: only semantic problems, so the schema passes`);
    }
  }
  assert.ok(compared >= 35, `compared ${compared} diagnostics`);
});
