/**
 * The files generated from the engine registry (src/engines/index.ts): the list of backends core reads (core may
 * not import engines), and the `convbert.trainer.engine` and `convbert.trainer.backend` settings in package.json. `npm run generate:engines`
 * (scripts/generate-engines.ts) writes them, then `npm run generate:schema` the schema and the docs from core's copy;
 * test/unit/engines-registry.test.ts fails when any of them drifts.
 */
import { DEFAULT_ENGINE, ENGINES } from '.';
import type { Engine, EngineBackend } from './engine';

export const CORE_BACKENDS_PATH = 'src/core/spec/backends.generated.ts';
export const MANIFEST_PATH = 'package.json';
export const BACKEND_SETTING = 'convbert.trainer.backend';
export const ENGINE_SETTING = 'convbert.trainer.engine';

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
    '/** Every engine, in the registry\'s order (the first is the default when `auto` prefers none). */',
    'export const ENGINE_DESCRIPTIONS = [',
    ...ENGINES.map((e) => `  { id: ${q(e.id)}, description: ${q(e.description)} },`),
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
  const backends: readonly EngineBackend[] = (ENGINES as readonly Engine[]).flatMap((e) => e.backends);
  return {
    type: 'string',
    enum: ['spec', 'auto', ...backends.map((b) => b.name)],
    default: 'spec',
    scope: 'resource',
    enumDescriptions: ["The spec's training.backend.", `The fastest that loads, of the engine chosen: ${thenList(backends.map((b) => b.name))}.`, ...backends.map((b) => b.summary)],
    markdownDescription: "The backend for training (a TF.js backend, or a PyTorch device, which chooses the torch engine), overriding the spec's `training.backend`.",
  };
}

/** The `convbert.trainer.engine` setting's contribution: 'spec', 'auto' and every engine. */
export function engineSettingJson(): Record<string, unknown> {
  const engines: readonly Engine[] = ENGINES;
  return {
    type: 'string',
    enum: ['spec', 'auto', ...engines.map((e) => e.id)],
    default: 'spec',
    scope: 'resource',
    enumDescriptions: [
      "The spec's training.engine.",
      `The engine of the backend asked for; else ${engines.filter((e) => e.preferredByAuto).map((e) => e.id).join(', ') || 'none'} where it runs on a GPU here; else ${DEFAULT_ENGINE}.`,
      ...engines.map((e) => e.description),
    ],
    markdownDescription:
      "The engine that trains, overriding the spec's `training.engine`. An engine asked for by name that cannot run here (e.g. `torch` without Python and PyTorch) is an error; `auto` falls back to TF.js. A backend from the spec that belongs to another engine is replaced by `auto`.",
  };
}

interface Manifest {
  contributes: { configuration: { properties: Record<string, unknown> } };
}

/** package.json with the generated settings in place (the rest as it is). */
export function renderManifest(current: string): string {
  const pkg = JSON.parse(current) as Manifest;
  const props = pkg.contributes.configuration.properties;
  if (!(ENGINE_SETTING in props)) {
    // New: placed just before the backend setting (the settings UI shows them in this order).
    const entries = Object.entries(props);
    const at = entries.findIndex(([k]) => k === BACKEND_SETTING);
    entries.splice(at < 0 ? entries.length : at, 0, [ENGINE_SETTING, undefined]);
    pkg.contributes.configuration.properties = Object.fromEntries(entries);
  }
  pkg.contributes.configuration.properties[ENGINE_SETTING] = engineSettingJson();
  pkg.contributes.configuration.properties[BACKEND_SETTING] = backendSettingJson();
  return `${JSON.stringify(pkg, null, 2)}\n`;
}
