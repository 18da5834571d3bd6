/**
 * Property tests: whatever the text, `validateSpecText` returns (never throws), reports at most
 * MAX_DIAGNOSTICS known codes, and every range lies inside the text with offset/length agreeing with
 * line/character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import '../fast-check-seed';
import { DIAGNOSTIC_CODES } from '../../src/core/spec/diagnostics';
import { MODULE_KINDS } from '../../src/core/spec/schema';
import { PRESET_NAMES } from '../../src/core/spec/preset-names';
import { MAX_DIAGNOSTICS, validateSpecText } from '../../src/core/validate/validate';
import { naivePosition } from './text-positions';

const SEED = 20240611;
const RUNS = 250;


/** Validates and checks the invariants; returns the result for further checks. */
function check(text: string, options?: { memoryBudgetMiB?: number }) {
  const result = validateSpecText(text, options);
  assert.ok(Array.isArray(result.diagnostics));
  assert.ok(result.diagnostics.length <= MAX_DIAGNOSTICS);
  for (const d of result.diagnostics) {
    assert.ok(d.code in DIAGNOSTIC_CODES, `unknown code ${d.code}`);
    assert.notEqual(d.code, 'internal-error', `internal error: ${d.message}`);
    assert.ok(d.severity === 'error' || d.severity === 'warning' || d.severity === 'info');
    assert.ok(d.message.length > 0);
    const { offset, length } = d.range;
    assert.ok(Number.isInteger(offset) && Number.isInteger(length), 'integer offset and length');
    assert.ok(offset >= 0 && length >= 0 && offset + length <= text.length, `range ${offset}+${length} outside ${text.length}`);
    assert.deepEqual(d.range.start, naivePosition(text, offset));
    assert.deepEqual(d.range.end, naivePosition(text, offset + length));
  }
  if (result.spec) assert.ok(result.file, 'a spec comes with its file');
  if (result.spec) assert.ok(!result.diagnostics.some((d) => d.severity === 'error'));
  return result;
}

const TOKENS = [
  '{', '}', '[', ']', ':', ',', ' ', '\n', '\r\n', '\r', '\t', '"', '\\', '//', '/*', '*/', 'true', 'false', 'null', 'NaN',
  '0', '-0', '1', '7', '768', '1e308', '1e400', '-1', '0.5', '"version"', '"model"', '"training"', '"extends"', '"layers"',
  '"modules"', '"type"', '"conv"', '"attention"', '"hiddenSize"', '"numHeads"', '"numLayers"', '"0-3"', '"groupbert-base"',
  'é', '🧪', '\u2028', '\u0000', "'", 'x',
];

test('random JSON-ish token soup never throws and yields well-formed ranges', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }), (tokens) => {
      check(tokens.join(''));
    }),
    { seed: SEED, numRuns: RUNS * 2 },
  );
});

test('arbitrary strings and arbitrary JSON values never throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      check(s);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
      check(JSON.stringify(value, null, pretty ? 2 : undefined) ?? 'null');
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

const FIXTURE_TEXTS = ['test/fixtures/valid', 'test/fixtures/invalid'].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.convbert.json'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8')),
);

type Mutation = { kind: 'delete' | 'insert' | 'replace' | 'duplicate' | 'swap'; at: number; len: number; token: string };

function mutate(text: string, mutations: Mutation[]): string {
  let t = text;
  for (const m of mutations) {
    const at = t.length === 0 ? 0 : m.at % (t.length + 1);
    const len = Math.min(m.len, t.length - at);
    switch (m.kind) {
      case 'delete':
        t = t.slice(0, at) + t.slice(at + len);
        break;
      case 'insert':
        t = t.slice(0, at) + m.token + t.slice(at);
        break;
      case 'replace':
        t = t.slice(0, at) + m.token + t.slice(at + len);
        break;
      case 'duplicate':
        t = t.slice(0, at + len) + t.slice(at, at + len) + t.slice(at + len);
        break;
      case 'swap': {
        // Replace a number literal near `at` with the token (often another number).
        const rest = t.slice(at);
        const match = /-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(rest);
        if (match) t = t.slice(0, at + match.index) + m.token + t.slice(at + match.index + match[0].length);
        break;
      }
    }
  }
  return t;
}

const mutationArb = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('delete', 'insert', 'replace', 'duplicate', 'swap'),
  at: fc.nat(20_000),
  len: fc.nat(40),
  token: fc.oneof(fc.constantFrom(...TOKENS), fc.constantFrom('0', '3', '5', '10', '13', '770', '1023', '65537', '1e9', '2.5', '-3', '"same"', '"causal"')),
});

test('mutated fixtures never throw and yield well-formed ranges', () => {
  fc.assert(
    fc.property(fc.constantFrom(...FIXTURE_TEXTS), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), (text, mutations) => {
      check(mutate(text, mutations));
    }),
    { seed: SEED, numRuns: RUNS * 2 },
  );
});

// Structured specs: mostly plausible values, some absurd ones, so the semantic checks run often.
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(1, 2, 3, 4, 7, 8, 12, 16, 64, 100, 128, 256, 512, 768, 770, 1024, 4096) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 65536, 1_000_000, 1e308)) },
);
const moduleArb = fc.oneof(
  fc.record({ type: fc.constant('attention'), heads: sizeArb, qkvBias: fc.boolean() }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('conv'), kernelSize: sizeArb, channelsPerGroup: sizeArb, padding: fc.constantFrom('same', 'causal', 'valid') }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('gffn'), groups: sizeArb, intermediateSize: sizeArb, mixer: fc.boolean() }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('ffn'), intermediateSize: sizeArb }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constantFrom(...MODULE_KINDS, 'conv2d', ''), kernelSise: sizeArb }, { requiredKeys: [] }),
);
const selectionArb = fc.oneof(
  fc.array(fc.integer({ min: -2, max: 40 }), { maxLength: 5 }),
  fc.tuple(fc.nat(30), fc.nat(30)).map(([a, b]) => `${a}-${b}`),
  fc.constantFrom('0', '0-3,8', '5-', 'all', '2,4-99999999'),
);
const specArb = fc.record(
  {
    version: fc.constantFrom(1, 1, 1, 2, '1'),
    name: fc.constantFrom('x', 'my-model', '', '-bad'),
    extends: fc.constantFrom(...PRESET_NAMES, 'bert-huge'),
    model: fc.record(
      {
        hiddenSize: sizeArb,
        numLayers: sizeArb,
        numHeads: sizeArb,
        intermediateSize: sizeArb,
        vocabSize: sizeArb,
        maxPositions: sizeArb,
        normPlacement: fc.constantFrom('pre', 'post', 'mid'),
        heads: fc.record({ mlm: fc.boolean(), nsp: fc.boolean(), pooler: fc.boolean() }, { requiredKeys: [] }),
        layer: fc.record({ modules: fc.array(moduleArb, { maxLength: 5 }) }),
        layerOverrides: fc.array(fc.record({ layers: selectionArb, modules: fc.array(moduleArb, { maxLength: 4 }) }, { requiredKeys: [] }), { maxLength: 4 }),
      },
      { requiredKeys: [] },
    ),
    training: fc.record(
      {
        sequenceLength: sizeArb,
        batchSize: sizeArb,
        memoryBudgetMiB: sizeArb,
        tokenizer: fc.record({ vocabSize: sizeArb }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['version'] },
);

test('structured random specs never throw, and a spec comes back exactly when there are no errors', () => {
  fc.assert(
    fc.property(specArb, fc.option(fc.integer({ min: 16, max: 100_000 }), { nil: undefined }), (spec, budget) => {
      const text = JSON.stringify(spec, null, 2);
      const result = check(text, budget === undefined ? {} : { memoryBudgetMiB: budget });
      const hasError = result.diagnostics.some((d) => d.severity === 'error');
      assert.equal(result.spec !== undefined, !hasError);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('deep nesting of any kind is refused cleanly', () => {
  fc.assert(
    fc.property(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom('[', '{"a":', '[{"b":'), fc.boolean(), (depth, open, close) => {
      const text = open.repeat(depth) + (close ? '1' + (open === '[' ? ']' : '}').repeat(depth) : '');
      check(text);
    }),
    { seed: SEED, numRuns: 40 },
  );
});
