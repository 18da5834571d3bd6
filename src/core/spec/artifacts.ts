/**
 * The files generated from `schema.ts`: the JSON Schema VS Code loads through `contributes.jsonValidation`,
 * and the Markdown reference of every property. `scripts/generate-schema.ts` writes them; the drift test
 * compares them with these renderings.
 */
import { ModelSchema, SpecFileSchema } from './schema';

export const SCHEMA_PATH = 'schemas/convbert.schema.json';
export const REFERENCE_PATH = 'docs/spec-reference.md';

/**
 * The model's number properties (`hiddenSize`, `numHeads`, …): the editor completes these itself with the value the
 * spec has now (inherited from its preset or a default), so the JSON Schema marks them `doNotSuggest` and VS Code's
 * JSON features, which could only insert the schema's `default` (or `0`), do not offer them a second time.
 */
export function editorCompletedModelKeys(): string[] {
  const props = ModelSchema.properties as Record<string, { type?: unknown }>;
  return Object.keys(props).filter((key) => props[key]?.type === 'integer' || props[key]?.type === 'number');
}

/** The schema as plain JSON (TypeBox's symbol keys dropped), draft-07 as VS Code and ajv both read it. */
export function schemaJson(): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(SpecFileSchema)) as { properties: { model: { properties: Record<string, Record<string, unknown>> } } };
  for (const key of editorCompletedModelKeys()) json.properties.model.properties[key] = { ...json.properties.model.properties[key], doNotSuggest: true };
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...(json as unknown as Record<string, unknown>) };
}

export function renderSchemaFile(): string {
  return `${JSON.stringify(schemaJson(), null, 2)}\n`;
}

type Node = Record<string, unknown>;

function typeLabel(node: Node): string {
  if (Array.isArray(node.enum)) return (node.enum as unknown[]).map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (Array.isArray(node.oneOf)) return 'module (`type` selects the kind)';
  if (Array.isArray(node.anyOf)) return (node.anyOf as Node[]).map(typeLabel).join(' or ');
  if (node.type === 'array') return `array of ${node.items ? typeLabel(node.items as Node) : 'values'}`;
  if (node.type === 'integer' || node.type === 'number') {
    const range = node.minimum !== undefined ? ` (${String(node.minimum)}–${String(node.maximum)})` : '';
    return `${String(node.type)}${range}`;
  }
  return String(node.type ?? 'value');
}

function cell(text: unknown): string {
  return String(text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(node: Node, prefix: string, out: string[]): void {
  const props = (node.properties ?? {}) as Record<string, Node>;
  for (const [key, child] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const dflt = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    out.push(`| \`${path}\` | ${cell(typeLabel(child))} | ${dflt} | ${cell(child.markdownDescription ?? child.description)} |`);
    if (child.type === 'object' && child.properties) rows(child, path, out);
    if (child.type === 'array' && (child.items as Node | undefined)?.properties) rows(child.items as Node, `${path}[]`, out);
  }
}

export function renderReference(): string {
  const schema = schemaJson();
  const out = [
    '# `*.convbert.json` reference',
    '',
    '<!-- Generated from src/core/spec/schema.ts by `npm run generate:schema`. Do not edit by hand. -->',
    '',
    String(schema.markdownDescription),
    '',
    '| property | type | default | meaning |',
    '|---|---|---|---|',
  ];
  rows(schema, '', out);
  const moduleSchema = ((((schema.properties as Node).model as Node).properties as Node).layer as Node).properties as Node;
  const kinds = (((moduleSchema.modules as Node).items as Node).oneOf ?? []) as Node[];
  out.push('', '## Layer modules', '', 'Each entry of `model.layer.modules` and `model.layerOverrides[].modules` is one of:', '');
  for (const kind of kinds) {
    const type = ((kind.properties as Node).type as Node).const as string;
    out.push(`### \`${type}\``, '', String(kind.markdownDescription), '', '| property | type | default | meaning |', '|---|---|---|---|');
    rows(kind, '', out);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
