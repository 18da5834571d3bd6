import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { REFERENCE_PATH, SCHEMA_PATH, renderReference, renderSchemaFile, schemaJson } from '../../src/core/spec/artifacts';
import { PRESET_NAMES } from '../../src/core/spec/preset-names';
import { RUN_FORMAT_SCHEMA_FILES, renderRunFormatSchema } from '../../src/run-format/schema';
import { createRunDir } from '../../src/run-format/run-dir';
import { SWEEP_SCHEMA_PATH, renderSweepSchemaFile, sweepSchemaJson } from '../../src/core/sweep/schema';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  contributes: { jsonValidation: { fileMatch: string; url: string }[]; languages: { id: string; filenamePatterns: string[] }[] };
};

test('the shipped JSON Schema is what schema.ts generates (run `npm run generate:schema` after changing it)', () => {
  assert.equal(readFileSync(SCHEMA_PATH, 'utf8'), renderSchemaFile());
});

test('the property reference is what schema.ts generates', () => {
  assert.equal(readFileSync(REFERENCE_PATH, 'utf8'), renderReference());
});

test('package.json points VS Code at the generated schemas for *.convbert.json and *.sweep.json, as JSON with comments', () => {
  assert.deepEqual(manifest.contributes.jsonValidation, [
    { fileMatch: '*.convbert.json', url: `./${SCHEMA_PATH}` },
    { fileMatch: '*.sweep.json', url: `./${SWEEP_SCHEMA_PATH}` },
  ]);
  const jsonc = manifest.contributes.languages.find((l) => l.id === 'jsonc');
  assert.ok(jsonc?.filenamePatterns.includes('*.convbert.json'));
  assert.ok(jsonc?.filenamePatterns.includes('*.sweep.json'));
});

test('the shipped sweep JSON Schema is what src/core/sweep/schema.ts generates (run `npm run generate:schema`)', () => {
  assert.equal(readFileSync(SWEEP_SCHEMA_PATH, 'utf8'), renderSweepSchemaFile());
});

type Node = Record<string, unknown>;

/** Every property schema reachable from the root, with its path. */
function* properties(node: Node, path: string): Generator<[string, Node]> {
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    yield [`${path}.${key}`, child];
    yield* properties(child, `${path}.${key}`);
    if (child.items) yield* properties(child.items as Node, `${path}.${key}[]`);
  }
  for (const branch of [...((node.oneOf ?? []) as Node[]), ...((node.anyOf ?? []) as Node[])]) yield* properties(branch, path);
  if (node.items) yield* properties(node.items as Node, `${path}[]`);
}

test('every property a user can write is documented for hovers and completions', () => {
  const undocumented = [...properties(schemaJson(), '')]
    .filter(([, s]) => typeof s.markdownDescription !== 'string' || (s.markdownDescription as string).length < 10)
    .map(([p]) => p);
  assert.deepEqual(undocumented, []);
});

test('every property of the sweep file (and of its inline specs) is documented for hovers and completions', () => {
  const schema = sweepSchemaJson();
  const inline = (schema.definitions as Record<string, Node>).spec as Node;
  const undocumented = [...properties(schema, ''), ...properties(inline, 'definitions.spec')]
    .filter(([, s]) => typeof s.markdownDescription !== 'string' || (s.markdownDescription as string).length < 10)
    .map(([p]) => p);
  assert.deepEqual(undocumented, []);
  // An inline spec is a spec file whose version may be left out.
  assert.ok(!((inline.required as string[] | undefined) ?? []).includes('version'));
  assert.deepEqual(Object.keys(inline.properties as object), Object.keys(schemaJson().properties as object));
});

test('every enum carries one description per value', () => {
  const bad = [...properties(schemaJson(), '')]
    .filter(([, s]) => Array.isArray(s.enum) && (!Array.isArray(s.enumDescriptions) || (s.enumDescriptions as unknown[]).length !== (s.enum as unknown[]).length))
    .map(([p]) => p);
  assert.deepEqual(bad, []);
});

test('there is a snippet for every preset and for every module kind', () => {
  const schema = schemaJson() as Node;
  const presetSnippets = (schema.defaultSnippets as { body: { extends: string } }[]).map((s) => s.body.extends);
  assert.deepEqual(presetSnippets, [...PRESET_NAMES]);
  const json = JSON.stringify(schema);
  for (const kind of ['attention', 'conv', 'gffn', 'ffn']) assert.match(json, new RegExp(`"label":"${kind} module`));
});

// The run format (src/run-format/schema.ts): JSON Schemas for writers in other languages.

test('the run format JSON Schemas are what src/run-format/schema.ts generates (run `npm run generate:schema`)', () => {
  for (const file of Object.keys(RUN_FORMAT_SCHEMA_FILES) as (keyof typeof RUN_FORMAT_SCHEMA_FILES)[]) {
    assert.equal(readFileSync(file, 'utf8'), renderRunFormatSchema(file), file);
  }
});

test('the generated run format schemas accept what the TypeScript writers write (ajv, as another language would)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbert-run-format-'));
  try {
    const { info } = await createRunDir(dir, { spec: { version: 1, extends: 'bert-tiny' }, name: 'tiny', seed: 1, specHash: 'abc' });
    const ajv = new Ajv({ strict: false });
    const runSchema = JSON.parse(readFileSync('schemas/run.schema.json', 'utf8')) as object;
    assert.ok(ajv.validate(runSchema, info), ajv.errorsText());
    assert.ok(!ajv.validate(runSchema, { ...info, state: 'sleeping' }), 'an unknown state is rejected');
    const eventSchema = JSON.parse(readFileSync('schemas/metrics-event.schema.json', 'utf8')) as object;
    assert.ok(ajv.validate(eventSchema, { v: 1, type: 'warning', message: 'low memory', hint: 'lower batchSize' }), ajv.errorsText());
    assert.ok(ajv.validate(eventSchema, { v: 1, type: 'metrics', step: 1, loss: 2.5, mlmLoss: 2.5, learningRate: 1e-4, gradNorm: 1, tokensPerSecond: 10, stepMs: 5, flopsPerSecond: 0, memoryBytes: 0 }), ajv.errorsText());
    assert.ok(!ajv.validate(eventSchema, { v: 1, type: 'progress', step: 1 }), 'progress is not history');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
