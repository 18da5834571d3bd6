/**
 * The files generated from the engine registry (src/engines/index.ts): the list of backends core reads (core may
 * not import engines), and the `convbert.trainer.backend` setting in package.json. `npm run generate:engines`
 * (scripts/generate-engines.ts) writes them, then `npm run generate:schema` the schema and the docs from core's copy;
 * test/unit/engines-registry.test.ts fails when any of them drifts.
 */
import { ENGINES } from '.';

export const CORE_BACKENDS_PATH = 'src/core/spec/backends.generated.ts';
export const MANIFEST_PATH = 'package.json';
export const BACKEND_SETTING = 'convbert.trainer.backend';

function backendsInOrder() {
  return ENGINES.flatMap((e) => e.backends.map((b) => ({ engine: e.id, name: b.name, description: b.description, memory: { limit: b.memory.limit, why: b.memory.why } })));
}

export function renderCoreBackends(): string {
  const q = (v: unknown) => JSON.stringify(v);
  const rows = backendsInOrder().map(
    (b) =>
      `  {\n    engine: ${q(b.engine)},\n    name: ${q(b.name)},\n    description: ${q(b.description)},\n    memory: { limit: ${q(b.memory.limit)}, why: ${q(b.memory.why)} },\n  },`,
  );
  return [
    '/**',
    ' * Every engine\'s backends, in the order `auto` tries them, with what the spec schema and the fit check need.',
    ' * Generated from the engine registry (src/engines/index.ts) by `npm run generate:engines`. Do not edit by hand.',
    ' */',
    'export const ENGINE_BACKENDS = [',
    ...rows,
    '] as const;',
    '',
  ].join('\n');
}

/** `a, b, c, then d` */
function thenList(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')}, then ${names[names.length - 1]}`;
}

/** The `convbert.trainer.backend` setting's contribution. */
export function backendSettingJson(): Record<string, unknown> {
  const backends = ENGINES.flatMap((e) => e.backends);
  return {
    type: 'string',
    enum: ['spec', 'auto', ...backends.map((b) => b.name)],
    default: 'spec',
    scope: 'resource',
    enumDescriptions: ["The spec's training.backend.", `The fastest that loads: ${thenList(backends.map((b) => b.name))}.`, ...backends.map((b) => b.summary)],
    markdownDescription: "The TF.js backend for training, overriding the spec's `training.backend`.",
  };
}

interface Manifest {
  contributes: { configuration: { properties: Record<string, unknown> } };
}

/** package.json with the generated settings in place (the rest as it is). */
export function renderManifest(current: string): string {
  const pkg = JSON.parse(current) as Manifest;
  pkg.contributes.configuration.properties[BACKEND_SETTING] = backendSettingJson();
  return `${JSON.stringify(pkg, null, 2)}\n`;
}
