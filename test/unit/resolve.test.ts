import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge, parseLayerSelection, resolveSpec } from '../../src/core/spec/resolve';
import { PRESETS } from '../../src/core/spec/presets';

test('deepMerge merges objects key by key and lets arrays replace', () => {
  assert.deepEqual(deepMerge({ a: 1, b: { c: 2, d: [1, 2] } }, { b: { d: [3] }, e: 4 }), { a: 1, b: { c: 2, d: [3] }, e: 4 });
  assert.deepEqual(deepMerge({ a: { b: 1 } }, { a: 5 }), { a: 5 });
});

test('parseLayerSelection reads lists and ranges, and rejects malformed ones', () => {
  assert.deepEqual(parseLayerSelection('0-3,8, 2'), [0, 1, 2, 3, 8]);
  assert.deepEqual(parseLayerSelection([5, 1, 5]), [1, 5]);
  assert.equal(parseLayerSelection('3-1'), undefined);
  assert.equal(parseLayerSelection('a'), undefined);
});

test('extends merges the preset under the file, and overrides replace modules per layer', () => {
  const spec = resolveSpec({
    version: 1,
    extends: 'groupbert-base',
    model: { hiddenSize: 512, layerOverrides: [{ layers: '10-11', modules: [{ type: 'attention', heads: 8 }, { type: 'ffn' }] }] },
  });
  assert.equal(spec.model.hiddenSize, 512);
  assert.equal(spec.model.numLayers, 12);
  assert.equal(spec.model.normPlacement, 'pre');
  assert.equal(spec.model.intermediateSize, 2048, 'presets leave intermediateSize at 4·hidden, so it follows hiddenSize');
  assert.deepEqual(spec.model.layers[0]!.modules.map((m) => m.type), ['conv', 'gffn', 'attention', 'gffn']);
  assert.equal(spec.model.layers[0]!.sources[0], undefined, 'template modules come from the preset');
  assert.deepEqual(spec.model.layers[11]!.modules.map((m) => m.type), ['attention', 'ffn']);
  assert.deepEqual(spec.model.layers[11]!.sources[0], ['model', 'layerOverrides', 0, 'modules', 0]);
  assert.equal((spec.model.layers[11]!.modules[0] as { heads: number }).heads, 8);
});

test('without extends, defaults fill in: BERT layer, intermediate 4·hidden, maxPredictions from the mask rate', () => {
  const spec = resolveSpec({ version: 1, model: { hiddenSize: 64, numLayers: 2, numHeads: 2 }, training: { sequenceLength: 64 } });
  assert.equal(spec.model.intermediateSize, 256);
  assert.deepEqual(spec.model.layers.map((l) => l.modules.map((m) => m.type)), [['attention', 'ffn'], ['attention', 'ffn']]);
  assert.equal(spec.training.maxPredictions, Math.ceil(0.15 * 64));
  assert.equal(spec.training.tokenizer.vocabSize, spec.model.vocabSize);
});

test('every preset resolves to its stated depth and width', () => {
  for (const [name, file] of Object.entries(PRESETS)) {
    const spec = resolveSpec(file);
    assert.equal(spec.model.layers.length, file.model!.numLayers, name);
    assert.equal(spec.model.intermediateSize, 4 * spec.model.hiddenSize, name);
  }
});
