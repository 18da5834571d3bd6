import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIAGNOSTIC_CODES, closestMatch, formatIndexList, nearestDivisors, nearestMultiples, type Diagnostic } from '../../src/core/spec/diagnostics';
import { resolveSpec } from '../../src/core/spec/resolve';
import { MAX_DIAGNOSTICS, formatDiagnostic, validateSpecText, type ValidationResult } from '../../src/core/validate/validate';
import { naivePosition } from './text-positions';

const VALID = 'test/fixtures/valid';
const INVALID = 'test/fixtures/invalid';

function fixtures(dir: string): { name: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.convbert.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

interface Expected {
  code: string;
  severity: string;
  path: (string | number)[];
  /** 1-based line:column of the range start, as `formatDiagnostic` prints it. */
  at: string;
  /** The exact source text the range covers. */
  text: string;
  /** Text the message must contain (the whole message, or a part of it). */
  message: string;
}


function assertWellFormed(text: string, result: ValidationResult): void {
  assert.ok(result.diagnostics.length <= MAX_DIAGNOSTICS, `at most ${MAX_DIAGNOSTICS} diagnostics`);
  for (const d of result.diagnostics) {
    assert.ok(d.code in DIAGNOSTIC_CODES, `unknown code ${d.code}`);
    assert.ok(['error', 'warning', 'info'].includes(d.severity));
    assert.ok(typeof d.message === 'string' && d.message.length > 0);
    assert.ok(Array.isArray(d.path));
    const { offset, length, start, end } = d.range;
    assert.ok(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= text.length, `range ${offset}+${length} inside ${text.length}`);
    assert.deepEqual(start, naivePosition(text, offset));
    assert.deepEqual(end, naivePosition(text, offset + length));
  }
}

function at(d: Diagnostic): string {
  return `${d.range.start.line + 1}:${d.range.start.character + 1}`;
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

for (const { name, text } of fixtures(VALID)) {
  test(`valid fixture ${name}: no diagnostics, and the resolved spec`, () => {
    const result = validateSpecText(text);
    assert.deepEqual(result.diagnostics.map((d) => formatDiagnostic(name, d)), []);
    assert.ok(result.file, 'file is set');
    assert.ok(result.spec, 'spec is set');
    assert.deepEqual(result.spec, resolveSpec(result.file));
  });
}

for (const { name, text } of fixtures(INVALID)) {
  test(`invalid fixture ${name}: the expected diagnostics, at the exact ranges`, () => {
    const expected = JSON.parse(readFileSync(join(INVALID, name.replace(/\.convbert\.json$/, '.expected.json')), 'utf8')) as Expected[];
    assert.ok(expected.length > 0, 'an invalid fixture expects at least one diagnostic');
    const result = validateSpecText(text);
    assertWellFormed(text, result);
    const got = result.diagnostics;
    assert.equal(got.length, expected.length, `diagnostics:\n${got.map((d) => formatDiagnostic(name, d)).join('\n')}`);
    expected.forEach((e, i) => {
      const d = got[i] as Diagnostic;
      const where = `#${i} ${formatDiagnostic(name, d)}`;
      assert.equal(d.code, e.code, where);
      assert.equal(d.severity, e.severity, where);
      assert.deepEqual(d.path, e.path, where);
      assert.equal(at(d), e.at, where);
      assert.equal(text.slice(d.range.offset, d.range.offset + d.range.length), e.text, where);
      assert.ok(d.message.includes(e.message), `${where}\n  expected the message to contain: ${e.message}`);
    });
    const hasError = got.some((d) => d.severity === 'error');
    assert.equal(result.spec === undefined, hasError, 'spec is set exactly when there are no errors');
  });
}

test('every expected file belongs to a fixture', () => {
  const specs = new Set(readdirSync(INVALID).filter((f) => f.endsWith('.convbert.json')));
  for (const f of readdirSync(INVALID).filter((f) => f.endsWith('.expected.json'))) {
    assert.ok(specs.has(f.replace(/\.expected\.json$/, '.convbert.json')), `${f} has no fixture`);
  }
});

test('the examples have no errors', () => {
  for (const { name, text } of fixtures('examples')) {
    const result = validateSpecText(text);
    assertWellFormed(text, result);
    assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(name, d)), []);
    assert.ok(result.spec, name);
  }
});

// ---------------------------------------------------------------------------------------------------------
// API details

test('formatDiagnostic prints file:line:col: severity: message [code], 1-based', () => {
  const result = validateSpecText('{\n  "version": 1,\n  "extends": "bert-tiny",\n  "modle": {}\n}\n');
  assert.deepEqual(
    result.diagnostics.map((d) => formatDiagnostic('a.convbert.json', d)),
    ['a.convbert.json:4:3: error: unknown property "modle" at the top level; did you mean "model"? [unknown-property]'],
  );
});

test('ranges count lines the same with \\n, \\r\\n and \\r, and characters in UTF-16 code units', () => {
  const lf = '{\n  "version": 1,\n  "description": "🧪 ünïcode", "extends": "bert-tiny", "modle": {}\n}\n';
  for (const eol of ['\n', '\r\n', '\r']) {
    const text = lf.replace(/\n/g, eol);
    const result = validateSpecText(text);
    assertWellFormed(text, result);
    const d = result.diagnostics[0] as Diagnostic;
    assert.equal(text.slice(d.range.offset, d.range.offset + d.range.length), '"modle"');
    assert.deepEqual(d.range.start, { line: 2, character: lf.split('\n')[2]!.indexOf('"modle"') });
  }
});

test('file is set once the schema passes; spec only without errors', () => {
  const semantic = validateSpecText('{ "version": 1, "extends": "bert-tiny", "model": { "hiddenSize": 129 } }');
  assert.ok(semantic.file);
  assert.equal(semantic.spec, undefined);
  assert.ok(semantic.diagnostics.some((d) => d.code === 'heads-divisibility'));
  const schema = validateSpecText('{ "version": 1, "extends": "bert-tiny", "model": { "hiddenSize": "129" } }');
  assert.equal(schema.file, undefined);
  const warned = validateSpecText('{ "version": 1, "extends": "groupbert-large" }');
  assert.ok(warned.spec, 'warnings do not withhold the spec');
  assert.deepEqual(warned.diagnostics.map((d) => d.code), ['memory-over-budget']);
});

test('memoryBudgetMiB in the options overrides the file', () => {
  const text = readFileSync(join(VALID, 'groupbert-base-small-batch.convbert.json'), 'utf8');
  const tight = validateSpecText(text, { memoryBudgetMiB: 1024 });
  assert.deepEqual(tight.diagnostics.map((d) => d.code), ['memory-over-budget']);
  assert.match(tight.diagnostics[0]!.message, /1024 MiB budget set by the editor or command line/);
  assert.equal(tight.diagnostics[0]!.severity, 'warning');
  const large = validateSpecText('{ "version": 1, "extends": "groupbert-large" }', { memoryBudgetMiB: 1_000_000 });
  assert.deepEqual(large.diagnostics, []);
});

test('with syntax errors, schema problems before the first one are reported, but not "missing" ones', () => {
  const result = validateSpecText('{ "extends": "bert-tiny", "model": { "hiddenSize": -5,\n "numLayers": 2 "numHeads": 3 },\n "trainig": {} }');
  assert.deepEqual(
    result.diagnostics.map((d) => [d.code, d.range.start.line]),
    [
      ['out-of-range', 0],
      ['syntax', 1],
    ],
  );
  assert.equal(result.file, undefined);
});

test('a "__proto__" key is an unknown property, not a prototype', () => {
  const result = validateSpecText('{ "version": 1, "extends": "bert-tiny", "model": { "__proto__": { "hiddenSize": 5 } } }');
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.path]), [['unknown-property', ['model', '__proto__']]]);
  assert.equal(({} as Record<string, unknown>).hiddenSize, undefined);
});

test('it never throws, and caps its work', () => {
  const hostile: string[] = [
    '',
    ' \n\t ',
    '/* unterminated',
    'null',
    'true',
    '"a string"',
    '1e308',
    '-0',
    'NaN',
    '{',
    '}',
    '{"version":',
    '['.repeat(10_000),
    '{"a":'.repeat(10_000),
    `{"version": 1, "extends": "bert-tiny", "description": "${'x'.repeat(2_000_000)}"}`,
    `{"version": 1, "extends": "bert-tiny", "${'k'.repeat(100_000)}": 1}`,
    '{"version": 1e999999, "model": {"hiddenSize": 1e308, "numLayers": -1e308, "numHeads": 0.0000001}}',
    '\u0000\uFFFF\uD800',
    '{"version": 1, "extends": "bert-tiny", "model": {"layerOverrides": [{"layers": "0-999999999999999999999999", "modules": [{"type": "ffn"}]}]}}',
  ];
  for (const text of hostile) {
    const t0 = performance.now();
    const result = validateSpecText(text);
    const ms = performance.now() - t0;
    assertWellFormed(text, result);
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms on ${JSON.stringify(text.slice(0, 40))}`);
    assert.ok(!result.diagnostics.some((d) => d.code === 'internal-error'), `internal error on ${JSON.stringify(text.slice(0, 40))}: ${result.diagnostics[0]?.message}`);
  }
  assert.deepEqual(validateSpecText('['.repeat(10_000)).diagnostics.map((d) => d.code), ['too-deep']);
  // Not a string at all (a JavaScript caller that ignores the types).
  assertWellFormed('undefined', validateSpecText(undefined as unknown as string));

  const many = `{"version": 1, "extends": "bert-tiny", "model": {${Array.from({ length: 500 }, (_, i) => `"unknown${i}": ${i}`).join(', ')}}}`;
  const capped = validateSpecText(many);
  assertWellFormed(many, capped);
  assert.equal(capped.diagnostics.length, MAX_DIAGNOSTICS);
  assert.equal(capped.diagnostics.at(-1)!.code, 'too-many-diagnostics');
});

test('message helpers: close matches, nearest multiples and divisors, index lists', () => {
  assert.equal(closestMatch('hiddenSzie', ['hiddenSize', 'numHeads']), 'hiddenSize');
  assert.equal(closestMatch('hidden', ['hiddenSize', 'numHeads']), 'hiddenSize');
  assert.equal(closestMatch('convolution', ['attention', 'conv']), 'conv');
  assert.equal(closestMatch('NUMHEADS', ['numHeads']), 'numHeads');
  assert.equal(closestMatch('xyz', ['hiddenSize', 'numHeads']), undefined);
  assert.deepEqual(nearestMultiples(770, 12), [768, 780]);
  assert.deepEqual(nearestMultiples(8, 12), [12]);
  assert.deepEqual(nearestDivisors(768, 10), [8, 12]);
  assert.deepEqual(nearestDivisors(768, 1000), [768]);
  assert.equal(formatIndexList([3, 0, 1, 2, 8, 10, 11]), '0–3, 8, 10–11');
});

test('a GroupBERT-Large spec written in full (every field, 24 overrides) validates clean', () => {
  // Its speed is measured by `npm run bench:cost`, not asserted here.
  const result = validateSpecText(readFileSync(join(VALID, 'groupbert-large-full.convbert.json'), 'utf8'));
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.spec?.model.layers.length, 24);
});
