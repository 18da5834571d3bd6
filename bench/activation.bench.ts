/**
 * How long the extension takes to activate: loading `dist/extension.js` (module evaluation) plus `activate()`,
 * each in a fresh Node process with a stub `vscode` module, for the bundle as `npm run build` makes it and as
 * `npm run package` makes it (minified). Also prints the `activate()` time measured inside the real extension
 * host by the last `npm run test:e2e` (code-server), when its log is there. Target: < 100 ms.
 *
 *   npm run bench:activation
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const TARGET_MS = 100;

/**
 * Runs in the child: a stub `vscode` (every member a callable, constructible proxy; a few values real), then
 * times require() and activate().
 */
const CHILD = String.raw`
const Module = require('module');
const path = require('path');
const handler = {
  get(target, key) {
    if (key === Symbol.toPrimitive) return () => '';
    if (key === Symbol.iterator) return function* () {};
    if (key === 'then') return undefined;
    if (key in target.values) return target.values[key];
    if (!(key in target.children)) target.children[key] = stub();
    return target.children[key];
  },
  set(target, key, value) { target.values[key] = value; return true; },
  apply() { return stub(); },
  construct() { return stub(); },
};
function stub(values = {}) {
  const f = function () {};
  f.values = values;
  f.children = {};
  return new Proxy(f, handler);
}
// A plain object with every member of the API (esbuild's interop copies own properties only).
const file = process.argv[1];
const vscode = {};
for (const name of process.argv[2].split(',')) vscode[name] = stub();
vscode.workspace = stub({ workspaceFolders: [], textDocuments: [], isTrusted: true });
vscode.window = stub({ activeTextEditor: undefined, visibleTextEditors: [] });
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const t0 = performance.now();
const ext = require(file);
const t1 = performance.now();
const api = ext.activate({ subscriptions: [], extensionPath: path.dirname(path.dirname(file)), extensionUri: stub(), globalState: stub(), workspaceState: stub() });
const t2 = performance.now();
process.stdout.write(JSON.stringify({ load: t1 - t0, activate: t2 - t1, own: api.activationMs }));
process.exit(0);
`;

interface Sample {
  load: number;
  activate: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** The names `vscode` exports, from its type declarations. */
function apiNames(): string {
  const dts = readFileSync(path.join(ROOT, 'node_modules/@types/vscode/index.d.ts'), 'utf8');
  return [...new Set([...dts.matchAll(/^\s+export (?:class|namespace|enum|function|const|let) (\w+)/gm)].map((m) => m[1] as string))].join(',');
}

function measure(bundle: string): Sample[] {
  const out: Sample[] = [];
  const names = apiNames();
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['-e', CHILD, bundle, names], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`activation run failed:\n${r.stderr}`);
    out.push(JSON.parse(r.stdout) as Sample);
  }
  return out;
}

async function build(dir: string, minify: boolean): Promise<string> {
  const outfile = path.join(dir, 'dist', minify ? 'extension.min.js' : 'extension.js');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/extension/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    external: ['vscode'],
    minify,
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-activation-'));
  try {
    console.log(`activation of the extension, ${RUNS} fresh Node ${process.versions.node} processes each (stub vscode), median:`);
    for (const minify of [false, true]) {
      const bundle = await build(dir, minify);
      const kib = (readFileSync(bundle).length / 1024).toFixed(0);
      const samples = measure(bundle);
      const load = median(samples.map((s) => s.load));
      const act = median(samples.map((s) => s.activate));
      const total = median(samples.map((s) => s.load + s.activate));
      console.log(
        `  ${minify ? 'packaged (minified)' : 'npm run build      '} ${kib.padStart(5)} KiB: load ${load.toFixed(1).padStart(5)} ms + activate() ${act.toFixed(1).padStart(5)} ms = ${total.toFixed(1).padStart(5)} ms ${total < TARGET_MS ? '(under' : '(OVER'} the ${TARGET_MS} ms target)`,
      );
    }
    const log = path.join(ROOT, '.e2e', 'run', 'host-tests.log');
    const inHost = existsSync(log) ? /activation: ([\d.]+) ms/.exec(readFileSync(log, 'utf8'))?.[1] : undefined;
    console.log(inHost ? `  activate() inside the real extension host (last npm run test:e2e): ${inHost} ms` : '  (run npm run test:e2e for the figure measured inside the real extension host)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
