/**
 * Issue #9, finding 12: the quick fixes at one place are one list without duplicates, ordered by the errors each
 * leaves (re-validated), with a fix for each suggestion a message makes — including module properties the preset
 * sets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSpecText } from '../../../src/core/validate/validate';
import { applyEdits, FIXABLE_CODES, rankFixes } from '../../../src/extension/quick-fixes';

const errorsIn = (t: string) => validateSpecText(t).diagnostics.filter((d) => d.severity === 'error');
const countErrors = (t: string) => errorsIn(t).length;

function fixesAtHidden(text: string) {
  const at = text.indexOf('250');
  const here = validateSpecText(text).diagnostics.filter((d) => FIXABLE_CODES.has(d.code) && d.range.offset <= at && at < d.range.offset + d.range.length);
  return { here, fixes: rankFixes(text, here, countErrors) };
}

test('hiddenSize 250 on groupbert-mini: one list, no duplicates, a fix for every suggestion, the preferred clears every error', () => {
  const text = '{\n  "version": 1,\n  "extends": "groupbert-mini",\n  "model": { "hiddenSize": 250 }\n}\n';
  const { here, fixes } = fixesAtHidden(text);
  assert.equal(here.length, 3, 'three errors at the value');
  const titles = fixes.map((f) => f.title);
  assert.equal(new Set(titles).size, titles.length, `duplicates in ${JSON.stringify(titles)}`);
  const results = fixes.map((f) => applyEdits(text, f.edits));
  assert.equal(new Set(results).size, results.length, 'every fix changes the text differently');
  // Every number every message suggests has its fix.
  for (const d of here) {
    const m = /; use ([\d, or]+?)(?:, or set (\w+) to ([\d, or]+?))?$/.exec(d.message);
    assert.ok(m, d.message);
    for (const v of (m[1] as string).split(/, | or /)) assert.ok(titles.includes(`Set hiddenSize to ${v}`), `hiddenSize ${v} in ${JSON.stringify(titles)}`);
    for (const v of (m[3] ?? '').split(/, | or /).filter(Boolean)) assert.ok(titles.includes(`Set ${m[2]} to ${v}`), `${m[2]} ${v} in ${JSON.stringify(titles)}`);
  }
  assert.ok(titles.includes('Set channelsPerGroup to 10') && titles.includes('Set groups to 5'), JSON.stringify(titles));
  // Ordered by the errors left, re-validated here independently of the ranking.
  const left = results.map(countErrors);
  assert.deepEqual(left, fixes.map((f) => f.errorsLeft));
  assert.deepEqual(left, [...left].sort((a, b) => a - b), `ordered by errors left: ${JSON.stringify(titles.map((t, i) => `${t}:${left[i]}`))}`);
  // The preferred one is first, alone, and clears every error; among those, the nearest value.
  assert.deepEqual(fixes.filter((f) => f.preferred).map((f) => f.title), [titles[0]]);
  assert.equal(left[0], 0);
  const clearing = titles.filter((_, i) => left[i] === 0);
  assert.deepEqual(clearing, ['Set hiddenSize to 256', 'Set hiddenSize to 240']);
  // The module fixes write the preset's module list with the one value changed, and clear their own error.
  const cpg = results[titles.indexOf('Set channelsPerGroup to 10')] as string;
  assert.deepEqual(JSON.parse(cpg).model.layer.modules, [
    { type: 'conv', kernelSize: 7, channelsPerGroup: 10 },
    { type: 'gffn', groups: 4 },
    { type: 'attention' },
    { type: 'gffn', groups: 4 },
  ]);
  assert.ok(!errorsIn(cpg).some((d) => d.code === 'conv-group-divisibility'));
  const groups = results[titles.indexOf('Set groups to 5')] as string;
  assert.ok(!errorsIn(groups).some((d) => d.code === 'gffn-group-divisibility'), 'both gffn modules changed');
});

test('module fixes change the modules the file writes (template and overrides), not the preset list', () => {
  const text = JSON.stringify({
    version: 1,
    extends: 'groupbert-mini',
    model: {
      hiddenSize: 250,
      layer: { modules: [{ type: 'conv', channelsPerGroup: 16 }, { type: 'attention', heads: 5 }] },
      layerOverrides: [{ layers: '0', modules: [{ type: 'conv', kernelSize: 5 }] }],
    },
  }, null, 2);
  const { fixes } = fixesAtHidden(text);
  const fix = fixes.find((f) => f.title === 'Set channelsPerGroup to 25');
  assert.ok(fix, JSON.stringify(fixes.map((f) => f.title)));
  const after = JSON.parse(applyEdits(text, fix.edits));
  assert.deepEqual(after.model.layer.modules, [{ type: 'conv', channelsPerGroup: 25 }, { type: 'attention', heads: 5 }]);
  assert.deepEqual(after.model.layerOverrides[0].modules, [{ type: 'conv', kernelSize: 5, channelsPerGroup: 25 }]);
  assert.equal(countErrors(applyEdits(text, fix.edits)), 0);
});

test('a single diagnostic keeps its own preferred fix when several clear it (numHeads 5 on bert-mini)', () => {
  const text = '{ "version": 1, "extends": "bert-mini", "model": { "numHeads": 5 } }';
  const d = validateSpecText(text).diagnostics.filter((x) => x.code === 'heads-divisibility');
  const fixes = rankFixes(text, d, countErrors);
  assert.equal(fixes[0]?.title, 'Set numHeads to 4');
  assert.equal(fixes[0]?.preferred, true);
  assert.ok(fixes.every((f) => f.errorsLeft === 0));
});

test('no preferred fix when nothing improves the error count', () => {
  const text = '{ "version": 1, "extends": "bert-mini", "model": { "numHeads": 5 } }';
  const d = validateSpecText(text).diagnostics.filter((x) => x.code === 'heads-divisibility');
  const fixes = rankFixes(text, d, () => 5);
  assert.ok(fixes.length > 0 && fixes.every((f) => !f.preferred));
});
