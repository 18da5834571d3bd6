/**
 * The editor features' content, without VS Code: the analysis, the CodeLens entries (against the cost model),
 * the hovers and the quick fixes (applied, then re-validated).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { computeCost } from '../../../src/core/cost';
import { resolveSpec } from '../../../src/core/spec/resolve';
import { PRESETS } from '../../../src/core/spec/presets';
import { analyzeSpecText, totalForwardFlopsPerToken } from '../../../src/extension/analysis';
import { flopsPerTokenLabel, paramsLabel } from '../../../src/format';
import { buildHover } from '../../../src/extension/hover-content';
import { buildLenses, totalsTitle } from '../../../src/extension/lens-content';
import { applyEdits, parseCandidates, parseNumberList, quickFixes } from '../../../src/extension/quick-fixes';

const fixture = (name: string) => readFileSync(`test/fixtures/${name}`, 'utf8');
const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length - 1;

test('the analysis of a valid spec has the resolved spec and the cost at its own S and B', () => {
  const text = '{ "version": 1, "extends": "bert-base", "training": { "sequenceLength": 64, "batchSize": 4 } }';
  const a = analyzeSpecText(text);
  assert.equal(a.valid, true);
  assert.equal(a.cost?.sequenceLength, 64);
  assert.equal(a.cost?.batchSize, 4);
  assert.equal(a.cost?.totals.params, 110_106_428);
});

test('semantic errors still give approximate costs; syntax errors give none', () => {
  const semantic = analyzeSpecText(fixture('invalid/hidden-not-divisible.convbert.json'));
  assert.equal(semantic.valid, false);
  assert.ok(semantic.errors >= 3);
  assert.ok(semantic.cost, 'costed with the real-valued formulas');
  const syntax = analyzeSpecText(fixture('invalid/syntax-missing-comma.convbert.json'));
  assert.equal(syntax.cost, undefined);
  const lenses = buildLenses(syntax);
  assert.match(lenses[0]?.title ?? '', /error/);
  assert.deepEqual(lenses.slice(1).map((l) => l.title), ['▶ Train', 'Show costs']);
});

test('the totals lens above model matches the cost model, with ▶ Train and Show costs beside it', () => {
  const text = fixture('valid/bert-tiny.convbert.json');
  const a = analyzeSpecText(text);
  assert.ok(a.spec && a.cost);
  const lenses = buildLenses(a);
  const expected = computeCost(a.spec);
  const top = lenses.slice(0, 3);
  assert.deepEqual(top.map((l) => l.command), ['convbert.showCosts', 'convbert.train', 'convbert.showCosts']);
  assert.equal(top[0]?.title, `${paramsLabel(expected.totals.params)} · ${flopsPerTokenLabel(totalForwardFlopsPerToken(expected))}`);
  assert.equal(top[0]?.title, totalsTitle(expected));
  const modelKey = text.indexOf('"model"');
  if (modelKey >= 0) assert.equal(top[0]?.offset, modelKey);
  else assert.equal(top[0]?.offset, text.indexOf('"extends"'));
  assert.match(top[0]?.tooltip ?? '', /parameters/);
});

test('BERT-Base and GroupBERT-Base: totals, a per-layer lens on the template and one per module', () => {
  const bert = computeCost(resolveSpec(PRESETS['bert-base']));
  assert.equal(totalsTitle(bert), '110 M params · 0.183 GFLOPs/token');
  const text = [
    '{',
    '  "version": 1,',
    '  "extends": "groupbert-base",',
    '  "model": {',
    '    "layer": { "modules": [{ "type": "conv" }, { "type": "gffn" }, { "type": "attention" }, { "type": "gffn" }] },',
    '    "layerOverrides": [{ "layers": "6-11", "modules": [{ "type": "attention" }, { "type": "ffn" }] }]',
    '  }',
    '}',
  ].join('\n');
  const a = analyzeSpecText(text);
  assert.equal(a.valid, true);
  const lenses = buildLenses(a);
  const titles = lenses.map((l) => `${lineOf(text, l.offset)}: ${l.title}`);
  const perLayer = lenses.find((l) => l.title.startsWith('per layer: '));
  assert.ok(perLayer, JSON.stringify(titles));
  assert.match(perLayer.title, / · × 6$/, 'the template makes layers 0–5');
  assert.equal(perLayer.layer, 0);
  const override = lenses.find((l) => l.title.startsWith('layers 6–11: '));
  assert.ok(override, JSON.stringify(titles));
  assert.equal(override.layer, 6);
  const layer6 = a.cost!.layers[6]!;
  assert.equal(override.title, `layers 6–11: ${paramsLabel(layer6.params)} · ${flopsPerTokenLabel((layer6.forward.matmul + layer6.forward.elementwise) / a.cost!.tokensPerStep)} each`);
  const modules = lenses.filter((l) => /^(attention|conv|gffn|ffn): /.test(l.title)).map((l) => `${lineOf(text, l.offset)} ${l.title.split(':')[0]}`);
  assert.deepEqual(modules, ['4 conv', '4 gffn', '4 attention', '4 gffn', '5 attention', '5 ffn']);
});

test('lenses on a spec with semantic errors are marked approximate', () => {
  const a = analyzeSpecText(fixture('invalid/conv-and-gffn-groups.convbert.json'));
  const lenses = buildLenses(a);
  assert.ok(lenses[0]?.title.startsWith('≈ '), lenses[0]?.title);
  assert.match(lenses[0]?.tooltip ?? '', /errors/);
});

test('hovers: hiddenSize shows shapes and totals; a conv module field shows its groups, kernel and cost', () => {
  const text = '{\n  "version": 1,\n  "extends": "groupbert-mini",\n  "model": {\n    "hiddenSize": 256,\n    "layer": { "modules": [{ "type": "conv", "kernelSize": 5 }, { "type": "gffn" }, { "type": "attention" }, { "type": "gffn" }] }\n  },\n  "training": { "sequenceLength": 64, "batchSize": 2 }\n}\n';
  const a = analyzeSpecText(text);
  assert.equal(a.valid, true);
  const hidden = buildHover(a, text.indexOf('"hiddenSize"') + 2);
  assert.ok(hidden);
  assert.match(hidden.markdown, /`\[2, 64, 256\]`/);
  assert.match(hidden.markdown, /head size 64/);
  assert.equal(text.slice(hidden.offset, hidden.offset + hidden.length), '"hiddenSize"');
  const onValue = buildHover(a, text.indexOf('256') + 1);
  assert.equal(onValue && text.slice(onValue.offset, onValue.offset + onValue.length), '256');

  const kernel = buildHover(a, text.indexOf('"kernelSize"') + 3);
  assert.ok(kernel);
  assert.match(kernel.markdown, /16 groups of 16 channels, kernel 5/);
  assert.match(kernel.markdown, /layers 0–3/);
  const convCost = a.cost!.layers[0]!.modules[0]!;
  assert.match(kernel.markdown, new RegExp(`${convCost.params.toLocaleString('en-US')} parameters`));

  const seq = buildHover(a, text.indexOf('"sequenceLength"') + 3);
  assert.match(seq?.markdown ?? '', /128 tokens per micro-batch \(2 × 64\)/);
  assert.equal(buildHover(a, text.indexOf('"version"') + 2), undefined, 'not a size property');
});

test('candidates are read from the messages', () => {
  assert.deepEqual(parseNumberList('768, 776 or 784'), [768, 776, 784]);
  assert.deepEqual(parseCandidates('hiddenSize 770 is not divisible by numHeads 12 (from groupbert-base): the head size would be 64.17; use 768 or 780, or set numHeads to 11 or 14'), {
    values: [768, 780],
    other: { name: 'numHeads', values: [11, 14] },
  });
  assert.deepEqual(parseCandidates('kernelSize 8 … needs an odd kernel; use 7 or 9, or set "padding": "causal"'), { values: [7, 9] });
  assert.deepEqual(parseCandidates('no candidates here'), { values: [] });
});

/** Applies each fix and checks the diagnostic it names is gone at that place. */
function checkFixes(text: string, code: string, expectTitles: string[]) {
  const a = analyzeSpecText(text);
  const d = a.diagnostics.find((x) => x.code === code);
  assert.ok(d, `${code} in ${JSON.stringify(a.diagnostics.map((x) => x.code))}`);
  const fixes = quickFixes(text, d);
  for (const t of expectTitles) assert.ok(fixes.some((f) => f.title === t), `${t} in ${JSON.stringify(fixes.map((f) => f.title))}`);
  assert.equal(fixes.filter((f) => f.preferred).length, 1, 'one preferred fix');
  for (const f of fixes) {
    const after = analyzeSpecText(applyEdits(text, f.edits));
    assert.ok(!after.diagnostics.some((x) => x.code === code && x.message === d.message), `${f.title} fixes "${d.message}"`);
    assert.ok(!after.diagnostics.some((x) => x.code === 'syntax'), `${f.title} keeps the JSON valid`);
  }
  return fixes;
}

test('quick fixes: round hidden size to a multiple of the heads, or change the heads', () => {
  const fixes = checkFixes('{ "version": 1, "extends": "bert-mini", "model": { "hiddenSize": 250 } }', 'heads-divisibility', ['Set hiddenSize to 248', 'Set hiddenSize to 252', 'Set numHeads to 2', 'Set numHeads to 5']);
  assert.equal(fixes.find((f) => f.preferred)?.title, 'Set hiddenSize to 248');
  // numHeads is not in the file: the fix inserts it into "model".
  const insert = fixes.find((f) => f.title === 'Set numHeads to 5')!;
  assert.match(applyEdits('{ "version": 1, "extends": "bert-mini", "model": { "hiddenSize": 250 } }', insert.edits), /"numHeads": 5/);
});

test('quick fixes: a module\'s heads, a valid channelsPerGroup, GFFN groups, an odd kernel or causal padding', () => {
  checkFixes(fixture('invalid/heads-not-divisor.convbert.json'), 'heads-divisibility', ['Set numHeads to 8', 'Set numHeads to 12']);
  const text = fixture('invalid/conv-and-gffn-groups.convbert.json');
  checkFixes(text, 'even-kernel-same-padding', ['Set kernelSize to 7', 'Set kernelSize to 9', 'Use "causal" padding']);
  checkFixes(text, 'conv-group-divisibility', ['Set channelsPerGroup to 16', 'Set channelsPerGroup to 32', 'Set hiddenSize to 240', 'Set hiddenSize to 264']);
  checkFixes(text, 'gffn-group-divisibility', ['Set groups to 4', 'Set groups to 8']);
});

test('quick fixes: when the preset sets the bad value, the fix writes it into the file', () => {
  // groupbert-base with 10 heads: numHeads is in the file, the hidden size comes from the preset.
  const text = '{ "version": 1, "extends": "groupbert-base", "model": { "numHeads": 10 } }';
  checkFixes(text, 'heads-divisibility', ['Set numHeads to 8', 'Set numHeads to 12']);
});

test('quick fixes: typos, the pooler, the sequence length', () => {
  const typo = fixture('invalid/unknown-property-typo.convbert.json');
  const d = analyzeSpecText(typo).diagnostics.find((x) => x.code === 'unknown-property' && x.message.includes('hiddenSzie'))!;
  const [rename] = quickFixes(typo, d);
  assert.equal(rename?.title, 'Rename to "hiddenSize"');
  assert.match(applyEdits(typo, rename!.edits), /"hiddenSize"/);

  const enumText = fixture('invalid/enum-values.convbert.json');
  const act = analyzeSpecText(enumText).diagnostics.find((x) => x.code === 'invalid-value' && x.message.includes('gleu'))!;
  assert.equal(quickFixes(enumText, act)[0]?.title, 'Change to "gelu"');

  checkFixes('{ "version": 1, "extends": "bert-tiny", "model": { "heads": { "pooler": false } } }', 'nsp-needs-pooler', ['Turn the pooler on', 'Turn the NSP head off']);
  checkFixes('{ "version": 1, "extends": "bert-tiny", "training": { "sequenceLength": 1024 } }', 'sequence-too-long', ['Set training.sequenceLength to 512', 'Set model.maxPositions to 1024']);
});
