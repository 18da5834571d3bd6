import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REFERENCE_PATH, SCHEMA_PATH, renderReference, renderSchemaFile, schemaJson } from '../../src/core/spec/artifacts';
import { PRESET_NAMES } from '../../src/core/spec/preset-names';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  contributes: { jsonValidation: { fileMatch: string; url: string }[]; languages: { id: string; filenamePatterns: string[] }[] };
};

test('the shipped JSON Schema is what schema.ts generates (run `npm run generate:schema` after changing it)', () => {
  assert.equal(readFileSync(SCHEMA_PATH, 'utf8'), renderSchemaFile());
});

test('the property reference is what schema.ts generates', () => {
  assert.equal(readFileSync(REFERENCE_PATH, 'utf8'), renderReference());
});

test('package.json points VS Code at the generated schema for *.convbert.json, as JSON with comments', () => {
  assert.deepEqual(manifest.contributes.jsonValidation, [{ fileMatch: '*.convbert.json', url: `./${SCHEMA_PATH}` }]);
  const jsonc = manifest.contributes.languages.find((l) => l.id === 'jsonc');
  assert.ok(jsonc?.filenamePatterns.includes('*.convbert.json'));
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
