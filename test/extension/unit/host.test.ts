/**
 * Host plumbing without VS Code: settings → paths, how the trainer is launched, the panel's HTML and CSP, the
 * package.json contributions against the code, and the extension bundle (no TF.js in the extension host).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SETTINGS, expandPath, runsRoot } from '../../../src/extension/config';
import { isCspSourceList, panelHtml } from '../../../src/extension/dashboard/html';
import { COMMANDS, RUNS_VIEW, DASHBOARD_VIEW_TYPE, SETTINGS } from '../../../src/extension/ids';
import { launchOptions, startOptions } from '../../../src/extension/training/launch';

const ROOT = path.resolve(__dirname, '../../..');

test('runs folders: relative to the workspace folder, absolute, ~ and ${workspaceFolder}', () => {
  assert.equal(runsRoot(DEFAULT_SETTINGS, '/w'), path.join('/w', '.convbert', 'runs'));
  assert.equal(runsRoot({ ...DEFAULT_SETTINGS, runsFolder: '/data/runs' }, '/w'), '/data/runs');
  assert.equal(expandPath('~/runs', '/w'), path.join(os.homedir(), 'runs'));
  assert.equal(expandPath('${workspaceFolder}/../runs', '/w/project'), path.join('/w', 'runs'));
});

test('the trainer runs on the host\'s runtime as plain Node, or on the configured Node; workspace node_modules are searched', () => {
  const base = { extensionPath: '/ext', workspaceFolder: '/w', cwd: '/w/specs', env: { NODE_PATH: '/opt/lib' } };
  const own = launchOptions({ ...base, settings: DEFAULT_SETTINGS });
  assert.equal(own.entry, path.join('/ext', 'dist', 'trainer.js'));
  assert.equal(own.execPath, undefined, 'process.execPath');
  assert.equal(own.env?.ELECTRON_RUN_AS_NODE, '1');
  assert.equal(own.env?.NODE_PATH, [path.join('/w', 'node_modules'), '/opt/lib'].join(path.delimiter));
  assert.equal(own.cwd, '/w/specs');
  assert.deepEqual(JSON.parse(own.env?.CONVBERT_MLM_JOB ?? '{}'), { specDir: '/w/specs' }, 'the masked-LM job resolves relative corpus paths from the spec\'s folder');
  const withCache = launchOptions({ ...base, settings: DEFAULT_SETTINGS, env: { CONVBERT_MLM_JOB: '{"cacheDir":"/c"}' } });
  assert.deepEqual(JSON.parse(withCache.env?.CONVBERT_MLM_JOB ?? '{}'), { specDir: '/w/specs', cacheDir: '/c' });
  const gpu = launchOptions({ ...base, settings: { ...DEFAULT_SETTINGS, nodePath: '~/node20/bin/node', backend: 'tfjs-node-gpu' } });
  assert.equal(gpu.execPath, path.join(os.homedir(), 'node20/bin/node'));
  assert.equal(gpu.env?.ELECTRON_RUN_AS_NODE, undefined);
  assert.deepEqual(startOptions({ ...DEFAULT_SETTINGS, backend: 'tfjs-node-gpu' }, false), { backend: 'tfjs-node-gpu' });
  assert.deepEqual(startOptions(DEFAULT_SETTINGS, true, 10), { resume: true, steps: 10 });
});

test('the panel HTML keeps the strict CSP for the desktop\'s and the web workbench\'s cspSource, and refuses injections', () => {
  const rest = { scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/dashboard.js', styleUri: 'https://x/dashboard.css', nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', title: 'ConvBERT Dashboard' };
  const desktop = panelHtml('https://*.vscode-cdn.net', rest);
  assert.match(desktop, /script-src &#39;nonce-AAAAAAAAAAAAAAAAAAAAAA==&#39;/);
  const web = panelHtml("'self' https://*.vscode-cdn.net", rest);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(web)?.[1]?.replace(/&#39;/g, "'");
  assert.equal(csp, "default-src 'none'; img-src 'self' https://*.vscode-cdn.net data:; style-src 'self' https://*.vscode-cdn.net 'nonce-AAAAAAAAAAAAAAAAAAAAAA=='; script-src 'nonce-AAAAAAAAAAAAAAAAAAAAAA=='; font-src 'self' https://*.vscode-cdn.net; connect-src 'none'");
  assert.doesNotMatch(web, /invalid/);
  for (const bad of ["'self'; script-src *", "'unsafe-eval'", 'https://a.b, *', "https://x 'unsafe-inline'", '']) {
    assert.equal(isCspSourceList(bad), false, bad);
    assert.throws(() => panelHtml(bad, rest), RangeError, bad);
  }
});

interface Manifest {
  main: string;
  activationEvents: string[];
  extensionKind: string[];
  capabilities: { untrustedWorkspaces: { supported: string | boolean } };
  contributes: {
    commands: { command: string; title: string; category: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    views: Record<string, { id: string }[]>;
    configuration: { properties: Record<string, unknown> };
    jsonValidation: { fileMatch: string; url: string }[];
    languages: { id: string; filenamePatterns: string[] }[];
  };
}

test('package.json contributes exactly the commands, view, settings and activation events the code uses', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
  assert.equal(pkg.main, './dist/extension.js');
  assert.deepEqual(pkg.extensionKind, ['workspace']);
  assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  assert.ok(!pkg.activationEvents.includes('*'), 'never activate on *');
  assert.ok(pkg.activationEvents.includes('onLanguage:jsonc'));
  assert.ok(pkg.activationEvents.includes('workspaceContains:**/*.convbert.json'));
  assert.ok(pkg.activationEvents.includes(`onWebviewPanel:${DASHBOARD_VIEW_TYPE}`));
  const contributed: string[] = pkg.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(contributed, [...Object.values(COMMANDS)].sort());
  for (const c of pkg.contributes.commands) assert.equal(c.category, 'ConvBERT');
  for (const [menu, items] of Object.entries(pkg.contributes.menus)) for (const i of items) assert.ok((contributed as string[]).includes(i.command), `${menu}: ${i.command}`);
  assert.deepEqual(Object.values(pkg.contributes.views).flat().map((v) => v.id), [RUNS_VIEW]);
  assert.deepEqual(Object.keys(pkg.contributes.configuration.properties).sort(), [...SETTINGS].sort());
  const train = pkg.contributes.menus.commandPalette?.find((m) => m.command === COMMANDS.train);
  assert.equal(train?.when, 'isWorkspaceTrusted', 'Train is gated by workspace trust');
  // Kept from the spec engineer's contributions.
  assert.deepEqual(pkg.contributes.jsonValidation, [
    { fileMatch: '*.convbert.json', url: './schemas/convbert.schema.json' },
    { fileMatch: '*.sweep.json', url: './schemas/sweep.schema.json' },
  ]);
  for (const v of pkg.contributes.jsonValidation) assert.ok(existsSync(path.join(ROOT, v.url)), v.url);
  assert.equal(pkg.contributes.languages[0]?.id, 'jsonc');
  for (const icon of ['media/icon.png', 'media/convbert.svg']) assert.ok(existsSync(path.join(ROOT, icon)), icon);
});

test('the extension bundle does not contain TF.js: the host never trains', async () => {
  // Bundled as scripts/build.mjs does, in memory, so the check does not depend on a stale dist/.
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/extension/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    external: ['vscode'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((i) => i.includes('src/extension/main.ts')));
  // The TF.js engine's declaration modules (TF.js-free: engine, launch plan, backend declarations) are allowed.
  const declaration = /^src\/engines\/tfjs\/(index|entry|backends\/(registry|resolver|backend|[^/]+\/index))\.ts$/;
  const tf = inputs.filter((i) => /@tensorflow|tfjs/.test(i) && !declaration.test(i));
  assert.deepEqual(tf, [], 'no TF.js module in the extension bundle');
  assert.ok(!inputs.some((i) => /src\/engines\/tfjs\/(trainer\/(loop|process|main|backend|jobs)|evaluate|backends\/[^/]+\/load)\.ts$/.test(i)), 'only the trainer client, not the trainer');
  // Probe files are read through the TF-free format module, never through core/train/probes.ts (which imports TF.js).
  assert.ok(inputs.some((i) => i.endsWith('src/core/train/probe-format.ts')), 'the probe format module is bundled');
  assert.ok(!inputs.some((i) => i.endsWith('src/core/train/probes.ts')), 'core/train/probes.ts is not bundled');
  const text = result.outputFiles[0]!.text;
  assert.doesNotMatch(text, /_tfengine|registerKernel\(/);
  // The built bundle too, when there is one.
  const built = path.join(ROOT, 'dist/extension.js');
  if (existsSync(built)) assert.doesNotMatch(readFileSync(built, 'utf8'), /_tfengine|registerKernel\(/);
});
