/**
 * Issue #9, finding 11: completing `hiddenSize` in a spec extending groupbert-mini inserts the inherited 256 (the
 * JSON Schema alone inserted `0`), says where it comes from, and the schema no longer offers the same keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editorCompletedModelKeys, schemaJson } from '../../../src/core/spec/artifacts';
import { resolveSpec } from '../../../src/core/spec/resolve';
import { validateSpecText } from '../../../src/core/validate/validate';
import { analyzeSpecText } from '../../../src/extension/analysis';
import { modelKeyCompletions } from '../../../src/extension/completion-content';
import { buildHover } from '../../../src/extension/hover-content';
import { applyEdits } from '../../../src/extension/quick-fixes';

const at = (withCursor: string) => ({ text: withCursor.replace('|', ''), offset: withCursor.indexOf('|') });
const accept = (text: string, c: { offset: number; length: number; insertText: string }) => applyEdits(text, [{ offset: c.offset, length: c.length, content: c.insertText }]);

test('hiddenSize in a groupbert-mini spec inserts "hiddenSize": 256, inherited from groupbert-mini', () => {
  const { text, offset } = at('{\n  "version": 1,\n  "extends": "groupbert-mini",\n  "model": {\n    |\n  }\n}\n');
  const items = modelKeyCompletions(text, offset);
  const hidden = items.find((c) => c.key === 'hiddenSize');
  assert.ok(hidden, JSON.stringify(items.map((c) => c.key)));
  assert.equal(hidden.value, 256);
  assert.equal(hidden.origin, 'inherited from groupbert-mini');
  assert.match(hidden.markdown, /inherited from groupbert-mini: `256`/);
  const after = accept(text, hidden);
  assert.match(after, /"hiddenSize": 256\b/);
  const result = validateSpecText(after);
  assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), [], 'the spec stays valid');
  assert.equal(result.spec?.model.hiddenSize, 256);
  // Every offered value is the resolved spec's.
  const model = resolveSpec({ version: 1, extends: 'groupbert-mini' }).model as unknown as Record<string, number>;
  for (const c of items) assert.equal(c.value, model[c.key], c.key);
  assert.equal(items.find((c) => c.key === 'intermediateSize')?.origin, 'default (4·hiddenSize)');
  assert.equal(items.find((c) => c.key === 'intermediateSize')?.value, 1024);
});

test('a half-typed key is replaced, quotes included; a following property gets a comma; written keys are not offered', () => {
  const typed = at('{ "version": 1, "extends": "bert-base", "model": { "numLayers": 4, "hid| } }');
  const h = modelKeyCompletions(typed.text, typed.offset).find((c) => c.key === 'hiddenSize');
  assert.ok(h);
  assert.equal(accept(typed.text, h), '{ "version": 1, "extends": "bert-base", "model": { "numLayers": 4, "hiddenSize": 768 } }');
  assert.ok(!modelKeyCompletions(typed.text, typed.offset).some((c) => c.key === 'numLayers'), 'numLayers is written already');

  const before = at('{ "version": 1, "extends": "bert-mini", "model": { | "numLayers": 2 } }');
  const n = modelKeyCompletions(before.text, before.offset).find((c) => c.key === 'numHeads');
  assert.ok(n);
  const after = accept(before.text, n);
  assert.equal(after, '{ "version": 1, "extends": "bert-mini", "model": { "numHeads": 4, "numLayers": 2 } }');
  assert.equal(validateSpecText(after).spec?.model.numHeads, 4);
});

test('only keys directly under model, only at a key position', () => {
  for (const c of ['{ "model": { "hiddenSize": | } }', '{ "model": { "heads": { | } } }', '{ | }', '{ "training": { | } }']) {
    const { text, offset } = at(c);
    assert.deepEqual(modelKeyCompletions(text, offset), [], c);
  }
});

test('the JSON Schema leaves exactly those keys to the editor (no duplicate suggestions)', () => {
  const keys = editorCompletedModelKeys();
  assert.ok(keys.includes('hiddenSize') && keys.includes('numHeads') && keys.includes('layerNormEps'));
  const props = (schemaJson() as { properties: { model: { properties: Record<string, { doNotSuggest?: boolean }> } } }).properties.model.properties;
  assert.deepEqual(Object.keys(props).filter((k) => props[k]?.doNotSuggest).sort(), [...keys].sort());
  const { text, offset } = at('{ "version": 1, "extends": "bert-tiny", "model": { | } }');
  assert.deepEqual(modelKeyCompletions(text, offset).map((c) => c.key).sort(), [...keys].sort(), 'every key the schema leaves out is offered');
});

test('the hover on a model size says which preset value it overrides', () => {
  const text = '{ "version": 1, "extends": "groupbert-mini", "model": { "hiddenSize": 128, "numLayers": 4 } }';
  const a = analyzeSpecText(text);
  assert.match(buildHover(a, text.indexOf('hiddenSize') + 2)?.markdown ?? '', /overrides groupbert-mini's 256/);
  assert.match(buildHover(a, text.indexOf('numLayers') + 2)?.markdown ?? '', /the same as groupbert-mini's: 4/);
});
