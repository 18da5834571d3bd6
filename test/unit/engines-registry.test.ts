/**
 * The engine registry is the single source of the engine and backend lists: core's generated copy, the spec
 * schema's `training.backend`, the docs, the `convbert.trainer.backend` setting in package.json, `--backend`, and
 * the backend folders all agree with it (run `npm run generate:engines` after changing it). Also: launch plans,
 * machine facts from the registry, and traits declared by the backends as they load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ENGINES, allBackends, findEngine, DEFAULT_ENGINE } from '../../src/engines';
import { BACKEND_SETTING, CORE_BACKENDS_PATH, ENGINE_SETTING, MANIFEST_PATH, backendSettingJson, engineSettingJson, renderCoreBackends, renderManifest } from '../../src/engines/artifacts';
import { machineFacts } from '../../src/engines/machine';
import { BACKEND_LOADERS } from '../../src/engines/tfjs/backends/loaders';
import { TFJS_BACKENDS } from '../../src/engines/tfjs/backends/registry';
import { LaunchError, TRAINER_ENTRY_ENV } from '../../src/engines/trainer/entry';
import { schemaJson, REFERENCE_PATH } from '../../src/core/spec/artifacts';
import { BACKEND_DESCRIPTIONS, BACKEND_MEMORY_LIMITS } from '../../src/core/spec/schema';
import { backendTraits, DEFAULT_TRAITS } from '../../src/core/ops/traits';
import { explicitTransposes } from '../../src/core/ops/custom';
import { BACKEND_CHOICES } from '../../src/cli/train-command';
import { BACKEND_SETTINGS, ENGINE_SETTINGS } from '../../src/extension/config';

const ROOT = path.resolve(__dirname, '../..');
const names = allBackends().map((b) => b.name);

test('core\'s list of backends is what the registry generates (run `npm run generate:engines`)', () => {
  assert.equal(readFileSync(path.join(ROOT, CORE_BACKENDS_PATH), 'utf8'), renderCoreBackends());
  assert.deepEqual(Object.keys(BACKEND_DESCRIPTIONS), ['auto', ...names]);
  assert.deepEqual(Object.keys(BACKEND_MEMORY_LIMITS), names);
  for (const b of allBackends()) assert.deepEqual(BACKEND_MEMORY_LIMITS[b.name as keyof typeof BACKEND_MEMORY_LIMITS], { limit: b.memory.limit, why: b.memory.why });
});

test('package.json\'s convbert.trainer.backend setting is what the registry generates', () => {
  const text = readFileSync(path.join(ROOT, MANIFEST_PATH), 'utf8');
  const pkg = JSON.parse(text) as { contributes: { configuration: { properties: Record<string, unknown> } } };
  assert.deepEqual(pkg.contributes.configuration.properties[BACKEND_SETTING], backendSettingJson());
  assert.equal(text, renderManifest(text), 'package.json as the generator writes it');
  assert.deepEqual([...BACKEND_SETTINGS], ['spec', 'auto', ...names]);
});

test('package.json\'s convbert.trainer.engine setting is what the registry generates, just before the backend setting', () => {
  const text = readFileSync(path.join(ROOT, MANIFEST_PATH), 'utf8');
  const properties = (JSON.parse(text) as { contributes: { configuration: { properties: Record<string, { enum: string[]; enumDescriptions: string[] }> } } }).contributes.configuration.properties;
  const setting = properties[ENGINE_SETTING];
  assert.deepEqual(setting, engineSettingJson());
  assert.deepEqual(setting?.enum, ['spec', 'auto', ...ENGINES.map((e) => e.id)]);
  assert.equal(setting?.enumDescriptions.length, setting?.enum.length, 'one description per value');
  assert.deepEqual([...ENGINE_SETTINGS], setting?.enum, 'the extension accepts exactly the values package.json offers');
  const keys = Object.keys(properties);
  assert.equal(keys.indexOf(ENGINE_SETTING) + 1, keys.indexOf(BACKEND_SETTING));
  // Generating into a manifest without the setting inserts it at the same place; generating again changes nothing.
  const without = JSON.parse(text) as { contributes: { configuration: { properties: Record<string, unknown> } } };
  delete without.contributes.configuration.properties[ENGINE_SETTING];
  assert.equal(renderManifest(`${JSON.stringify(without, null, 2)}\n`), text);
});

test('the spec schema, the docs and --backend list the registry\'s backends, auto first', () => {
  const training = (schemaJson().properties as Record<string, { properties: Record<string, { enum: string[]; enumDescriptions: string[] }> }>).training!;
  assert.deepEqual(training.properties.backend!.enum, ['auto', ...names]);
  assert.equal(training.properties.backend!.enumDescriptions.length, names.length + 1);
  const row = readFileSync(path.join(ROOT, REFERENCE_PATH), 'utf8').split('\n').find((l) => l.startsWith('| `training.backend` |'));
  assert.ok(row, 'the docs have a training.backend row');
  for (const n of ['auto', ...names]) assert.ok(row.includes(`\`"${n}"\``), `docs: ${n}`);
  assert.deepEqual([...BACKEND_CHOICES], ['auto', ...names]);
});

test('every backend folder is declared in the registry, has a loader, and only those', () => {
  const dir = path.join(ROOT, 'src/engines/tfjs/backends');
  const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(folders, TFJS_BACKENDS.map((b) => b.name).sort());
  for (const f of folders) for (const file of ['index.ts', 'load.ts']) assert.ok(existsSync(path.join(dir, f, file)), `${f}/${file}`);
  assert.deepEqual(Object.keys(BACKEND_LOADERS).sort(), folders);
  assert.deepEqual(ENGINES.map((e) => e.id), ['tfjs', 'torch']);
  assert.equal(findEngine(DEFAULT_ENGINE)?.backends, TFJS_BACKENDS);
});

test('machine facts: auto picks the first backend whose optional package resolves', () => {
  const resolver = (present: string[]) => ({ resolve: (p: string) => (present.includes(p) ? `/x/${p}` : undefined), load: async () => undefined });
  assert.equal(machineFacts(resolver([])).autoBackend, 'wasm');
  assert.equal(machineFacts(resolver(['@tensorflow/tfjs-node'])).autoBackend, 'tfjs-node');
  assert.equal(machineFacts(resolver(['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'])).autoBackend, 'tfjs-node-gpu');
  assert.ok((machineFacts(resolver([])).memoryBytes ?? 0) > 0);
});

test('the TF.js engine plans its launch: the CLI\'s entry, the installed bundle, the configured Node', () => {
  const engine = findEngine('tfjs')!;
  const cli = engine.launch({ cwd: '/w', specDir: '/w/specs', env: {} });
  assert.equal(cli.transport, 'ipc');
  assert.ok(cli.transport === 'ipc' && /trainer(\/main\.ts|\.js)$/.test(cli.script), 'dist/trainer.js or the source entry');
  assert.deepEqual(JSON.parse(cli.env.CONVBERT_MLM_JOB ?? '{}'), { specDir: '/w/specs' });
  assert.equal(cli.command, undefined);
  const installed = engine.launch({ cwd: '/w', specDir: '/w', env: {}, installedAt: '/ext', runtimePath: '/usr/bin/node', modulePaths: ['/w/node_modules'], electronHost: true });
  assert.ok(installed.transport === 'ipc');
  assert.equal(installed.script, path.join('/ext', 'dist', 'trainer.js'));
  assert.equal(installed.command, '/usr/bin/node');
  assert.equal(installed.env.NODE_PATH, '/w/node_modules');
  assert.equal(installed.env.ELECTRON_RUN_AS_NODE, undefined);
  assert.throws(() => engine.launch({ cwd: '/w', specDir: '/w', env: { [TRAINER_ENTRY_ENV]: '/nope/trainer.js' } }), LaunchError);
});

test('a backend declares its traits as it loads; the ops read them for the active backend', async () => {
  await tf.setBackend('cpu');
  assert.deepEqual(backendTraits(), DEFAULT_TRAITS, 'nothing declared yet for a backend no loader brought up');
  const outcome = await BACKEND_LOADERS.cpu({ log: () => {}, resolver: { resolve: () => undefined, load: async () => undefined }, threads: 1, threadsRequested: false, preference: "auto" });
  assert.equal(outcome.attempt.ok, true);
  const cpu = TFJS_BACKENDS.find((b) => b.name === 'cpu')!;
  assert.deepEqual(backendTraits(), cpu.traits);
  assert.equal(explicitTransposes(), cpu.traits.explicitTransposes);
  const wasm = TFJS_BACKENDS.find((b) => b.name === 'wasm')!;
  assert.equal(wasm.traits.explicitTransposes, true, 'wasm: XNNPACK has no transposed GEMM');
  assert.equal(wasm.traits.fusedKernels, true);
});
