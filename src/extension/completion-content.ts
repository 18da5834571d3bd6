/**
 * Property-key completions under `model` with the value the spec has now: in a spec extending groupbert-mini,
 * `hiddenSize` inserts `"hiddenSize": 256` and says "inherited from groupbert-mini: 256" (the JSON Schema alone
 * can only insert its `default`, or `0` where there is none). These keys are exactly the model's number
 * properties in the schema, which the generated JSON Schema marks `doNotSuggest` (see `core/spec/artifacts.ts`),
 * so VS Code's JSON features do not offer them a second time. Pure: `(text, offset) → items`; `providers.ts` wraps it.
 */
import { getLocation, parse, parseTree, findNodeAtLocation } from 'jsonc-parser';
import { editorCompletedModelKeys } from '../core/spec/artifacts';
import { isPresetName } from '../core/spec/preset-names';
import { PRESETS } from '../core/spec/presets';
import { resolveSpec, type ResolvedModel } from '../core/spec/resolve';
import { ModelSchema, type SpecFile } from '../core/spec/schema';

export interface KeyCompletion {
  key: string;
  /** The effective value inserted with the key. */
  value: number;
  /** Where the value comes from: "inherited from groupbert-mini", "default (4·hiddenSize)". */
  origin: string;
  /** The text that replaces [offset, offset + length): `"key": value` plus a comma when a property follows. */
  insertText: string;
  offset: number;
  length: number;
  /** The schema's description, then where the value comes from. */
  markdown: string;
}

/** Defaults the resolver derives rather than reads from the schema. */
const DERIVED: Partial<Record<string, string>> = { intermediateSize: '4·hiddenSize' };

/** The spec file as far as it parses (a half-typed key is dropped by the tolerant parser). */
function fileOf(text: string): SpecFile | undefined {
  const file = parse(text, [], { allowTrailingComma: true }) as unknown;
  return file && typeof file === 'object' && !Array.isArray(file) ? (file as SpecFile) : undefined;
}

/** The resolved model; while the file does not resolve (half-typed values), its preset's (or the defaults). */
function resolvedModel(file: SpecFile): ResolvedModel {
  try {
    return resolveSpec(file).model;
  } catch {
    return resolveSpec({ version: 1, ...(isPresetName(file.extends) ? { extends: file.extends } : {}) } as SpecFile).model;
  }
}

/** The value the spec's preset sets for a model property, if it extends one that sets it. */
export function presetModelValue(file: { extends?: unknown } | undefined, key: string): { preset: string; value: unknown } | undefined {
  if (!file || !isPresetName(file.extends)) return undefined;
  const value = (PRESETS[file.extends].model as Record<string, unknown> | undefined)?.[key];
  return value === undefined ? undefined : { preset: file.extends, value };
}

export function modelKeyCompletions(text: string, offset: number): KeyCompletion[] {
  const loc = getLocation(text, offset);
  if (!loc.isAtPropertyKey || loc.path.length !== 2 || loc.path[0] !== 'model') return [];
  const file = fileOf(text);
  if (!file) return [];
  const model = resolvedModel(file);
  // The range a half-typed key takes: from its opening quote to the cursor (and its closing quote, if typed).
  const prev = loc.previousNode;
  const start = prev && prev.offset < offset && text[prev.offset] === '"' ? prev.offset : offset;
  const end = text[offset] === '"' && start < offset ? offset + 1 : offset;
  const rest = text.slice(end).trimStart();
  const hasColon = rest.startsWith(':');
  const comma = !hasColon && rest.startsWith('"') ? ',' : '';
  // Keys already written in this model object (other than the one being typed) are not offered again.
  const root = parseTree(text, [], { allowTrailingComma: true });
  const modelNode = root ? findNodeAtLocation(root, ['model']) : undefined;
  const written = new Set((modelNode?.children ?? []).map((p) => p.children?.[0]).filter((k) => k && !(k.offset <= offset && offset <= k.offset + k.length)).map((k) => String(k?.value)));
  const props = ModelSchema.properties as Record<string, { markdownDescription?: string; description?: string }>;
  return editorCompletedModelKeys()
    .filter((key) => !written.has(key))
    .flatMap((key) => {
      const value = (model as unknown as Record<string, unknown>)[key];
      if (typeof value !== 'number') return [];
      const preset = presetModelValue(file, key);
      const origin = preset ? `inherited from ${preset.preset}` : `default${DERIVED[key] ? ` (${DERIVED[key]})` : ''}`;
      const description = props[key]?.markdownDescription ?? props[key]?.description ?? '';
      return [
        {
          key,
          value,
          origin,
          insertText: hasColon ? JSON.stringify(key) : `${JSON.stringify(key)}: ${value}${comma}`,
          offset: start,
          length: end - start,
          markdown: `${description}\n\n${origin}: \`${value}\``,
        },
      ];
    });
}
