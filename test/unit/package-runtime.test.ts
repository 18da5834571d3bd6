/**
 * scripts/package-runtime.mjs's per-platform packaging: the vsce target → native folder/package table against what
 * is installed (drift), the webgpu file filter (exactly the target's dawn.node), the closure for a foreign target,
 * the .vsix contents check on small hand-made zips, and the command line's one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

const ROOT = path.join(import.meta.dirname, '../..');
const NODE_MODULES = path.join(ROOT, 'node_modules');

interface Root {
  name: string;
  modules: string[];
}
interface Runtime {
  target: string;
  missingNative: string[];
  packages: { name: string; rel: string; files: Set<string> }[];
}
interface PackageRuntime {
  TARGETS: Record<string, { webgpu: string; resvg: string }>;
  ROOTS: Root[];
  REQUIRED: string[];
  hostTarget(platform?: string, arch?: string): string | undefined;
  selectFiles(root: Root, target: string, files: string[]): string[];
  targetNatives(target: string): { required: string[]; allowedDirs: string[] };
  collectRuntime(target?: string): Runtime;
  checkVsix(file: string, target: string): { files: number };
  parseArgs(args: string[]): Record<string, unknown>;
  vsixName(target: string): string;
}

// A variable specifier: the script is plain JavaScript, typed here by the interface above.
const SCRIPT = path.join(ROOT, 'scripts/package-runtime.mjs');
const load = async (): Promise<PackageRuntime> => (await import(SCRIPT)) as PackageRuntime;

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : listFiles(p, base);
    return [path.relative(base, p).split(path.sep).join('/')];
  });
}

test('the target table covers every platform folder of webgpu, every resvg binary it names exists, and vsce knows every target', async () => {
  const { TARGETS } = await load();
  const folders = readdirSync(path.join(NODE_MODULES, 'webgpu', 'dist'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(folders, ['darwin-universal', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64'], 'webgpu 0.6.2 ships these five');
  assert.deepEqual([...new Set(Object.values(TARGETS).map((t) => t.webgpu))].sort(), folders);
  const binding = readFileSync(path.join(NODE_MODULES, '@resvg', 'resvg-js', 'js-binding.js'), 'utf8');
  for (const [target, { resvg }] of Object.entries(TARGETS)) assert.ok(binding.includes(`"@resvg/resvg-js-${resvg}"`), `${target}: resvg loads no @resvg/resvg-js-${resvg}`);
  const vsce = readFileSync(path.join(NODE_MODULES, '@vscode', 'vsce', 'out', 'package.js'), 'utf8');
  const known = [...(/exports\.Targets = new Set\(\[([^\]]*)\]/.exec(vsce)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]);
  assert.ok(known.includes('linux-x64'), 'vsce target list not found');
  for (const target of Object.keys(TARGETS)) assert.ok(known.includes(target), `vsce has no target ${target}`);
});

test('hostTarget follows webgpu index.js: <platform>-<arch>, macOS universal; unknown platforms have none', async () => {
  const { TARGETS, hostTarget } = await load();
  assert.equal(hostTarget('linux', 'x64'), 'linux-x64');
  assert.equal(hostTarget('darwin', 'arm64'), 'darwin-arm64');
  assert.equal(hostTarget('win32', 'arm64'), 'win32-arm64');
  assert.equal(hostTarget('linux', 'ia32'), undefined);
  assert.equal(hostTarget('freebsd', 'x64'), undefined);
  for (const [target, { webgpu }] of Object.entries(TARGETS)) {
    const [platform, arch] = target.split('-') as [string, string];
    assert.equal(webgpu, `${platform}-${platform === 'darwin' ? 'universal' : arch}`, target);
  }
});

test('the webgpu file filter selects exactly the target\'s dawn.node (and, on Windows, the DLLs beside it)', async () => {
  const { TARGETS, ROOTS, selectFiles } = await load();
  const webgpu = ROOTS.find((r) => r.name === 'webgpu');
  assert.ok(webgpu);
  const files = listFiles(path.join(NODE_MODULES, 'webgpu'));
  assert.equal(files.filter((f) => f.endsWith('/dawn.node')).length, 5);
  for (const [target, { webgpu: folder }] of Object.entries(TARGETS)) {
    const picked = selectFiles(webgpu, target, files);
    assert.deepEqual(picked.filter((f) => f.endsWith('dawn.node')), [`dist/${folder}/dawn.node`], target);
    assert.ok(picked.every((f) => f.startsWith(`dist/${folder}/`)), `${target}: ${picked.join(', ')}`);
  }
  assert.deepEqual(selectFiles(webgpu, 'linux-x64', files), ['dist/linux-x64/dawn.node']);
  assert.deepEqual(selectFiles(webgpu, 'win32-x64', files).sort(), ['d3dcompiler_47.dll', 'dawn.node', 'dxcompiler-LICENSE.TXT', 'dxcompiler-ThirdPartyNotices.txt', 'dxcompiler.dll'].map((f) => `dist/win32-x64/${f}`));
  assert.throws(() => selectFiles(webgpu, 'linux-armhf', files), /unknown target "linux-armhf": expected one of linux-x64,/);
});

const packaging = existsSync(path.join(ROOT, 'dist', 'node_modules')) && 'a packaging run\'s dist/node_modules exists (resolution from dist/ would find it)';

test('the closure for another platform: its webgpu folder only, the WebGPU backend, and no resvg binary (not installed here)', { skip: packaging }, async () => {
  const { collectRuntime } = await load();
  const runtime = collectRuntime('win32-arm64');
  const byName = new Map(runtime.packages.map((p) => [p.name, p]));
  assert.deepEqual([...(byName.get('webgpu')?.files ?? [])].sort(), [
    'LICENSE.md', 'dist/win32-arm64/d3dcompiler_47.dll', 'dist/win32-arm64/dawn.node', 'dist/win32-arm64/dxcompiler-LICENSE.TXT',
    'dist/win32-arm64/dxcompiler-ThirdPartyNotices.txt', 'dist/win32-arm64/dxcompiler.dll', 'index.js', 'package.json',
  ]);
  const backend = JSON.parse(readFileSync(path.join(NODE_MODULES, '@tensorflow/tfjs-backend-webgpu/package.json'), 'utf8')) as { main: string };
  assert.ok(byName.get('@tensorflow/tfjs-backend-webgpu')?.files.has(backend.main));
  assert.ok(byName.has('@tensorflow/tfjs-core'), 'the backend\'s dependency is in the closure');
  assert.ok(byName.has('@resvg/resvg-js'));
  assert.deepEqual(runtime.packages.filter((p) => p.name.startsWith('@resvg/resvg-js-')).map((p) => p.name), []);
  assert.deepEqual(runtime.missingNative, ['@resvg/resvg-js-win32-arm64-msvc']);
  assert.ok(!byName.has('debug') && !byName.has('@webgpu/types'), 'webgpu\'s declared dependencies are never loaded');
});

/** A zip of stored (uncompressed) entries: enough for checkVsix's reader. */
function zip(entries: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const n = Buffer.from(name);
    const data = Buffer.from(text);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt32LE(crc32(data), 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    central.push(dir, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

test('checkVsix: the target\'s dawn.node and TargetPlatform pass; another platform\'s binary, a second dawn.node or a wrong manifest fail', async () => {
  const { REQUIRED, targetNatives, checkVsix } = await load();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-vsix-check-'));
  try {
    const make = (target: string, manifestTarget: string | undefined, extra: string[] = []): string => {
      const entries: Record<string, string> = {
        '[Content_Types].xml': '<Types/>',
        'extension.vsixmanifest': `<PackageManifest><Metadata><Identity Id="convbert-studio" Version="0.1.0" Publisher="convbert-studio"${manifestTarget ? ` TargetPlatform="${manifestTarget}"` : ''}/></Metadata></PackageManifest>`,
      };
      for (const f of [...REQUIRED, ...targetNatives(target).required, ...extra]) entries[`extension/${f}`] = 'x';
      const file = path.join(dir, `${target}-${manifestTarget}-${extra.length}.vsix`);
      writeFileSync(file, zip(entries));
      return file;
    };
    assert.deepEqual(targetNatives('win32-x64').required, ['dawn.node', 'd3dcompiler_47.dll', 'dxcompiler.dll'].map((f) => `dist/node_modules/webgpu/dist/win32-x64/${f}`));
    assert.deepEqual(targetNatives('darwin-arm64').required, ['dist/node_modules/webgpu/dist/darwin-universal/dawn.node']);
    assert.equal(checkVsix(make('linux-x64', 'linux-x64'), 'linux-x64').files, REQUIRED.length + 1);
    assert.ok(checkVsix(make('darwin-arm64', 'darwin-arm64', ['dist/node_modules/@resvg/resvg-js-darwin-arm64/resvgjs.darwin-arm64.node']), 'darwin-arm64'));
    assert.throws(() => checkVsix(make('linux-x64', 'linux-x64', ['dist/node_modules/webgpu/dist/linux-arm64/dawn.node']), 'linux-x64'), (e: Error) =>
      /another platform's native file in a \.vsix for linux-x64: dist\/node_modules\/webgpu\/dist\/linux-arm64\/dawn\.node/.test(e.message) && /2 dawn\.node files/.test(e.message));
    assert.throws(() => checkVsix(make('linux-x64', 'linux-x64', ['dist/node_modules/@resvg/resvg-js-linux-arm64-gnu/resvgjs.linux-arm64-gnu.node']), 'linux-x64'), /another platform's native file .*resvg-js-linux-arm64-gnu/);
    assert.throws(() => checkVsix(make('linux-x64', 'win32-x64'), 'linux-x64'), /TargetPlatform is "win32-x64", expected "linux-x64"/);
    assert.throws(() => checkVsix(make('linux-x64', undefined), 'linux-x64'), /TargetPlatform is missing/);
    assert.throws(() => checkVsix(make('linux-x64', 'win32-x64'), 'win32-x64'), /missing: dist\/node_modules\/webgpu\/dist\/win32-x64\/dawn\.node/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the command line: one-line errors for an unknown target or argument, a missing value, and --all-targets with a target', async () => {
  const { parseArgs, vsixName } = await load();
  assert.deepEqual(parseArgs(['--target', 'darwin-x64', '--vsix', 'a.vsix']), { clean: false, hostTarget: false, vsix: path.resolve('a.vsix'), target: 'darwin-x64', allTargets: false, keep: false });
  assert.equal(parseArgs(['--all-targets']).allTargets, true);
  assert.throws(() => parseArgs(['--target', 'linux']), /^Error: unknown target "linux": expected one of linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64, win32-arm64$/);
  assert.throws(() => parseArgs(['--vsix']), /^Error: --vsix needs a value$/);
  assert.throws(() => parseArgs(['--target', '--keep']), /^Error: --target needs a value$/);
  assert.throws(() => parseArgs(['--all-targets', '--target', 'linux-x64']), /takes no --vsix or --target/);
  assert.throws(() => parseArgs(['--targets']), /^Error: unknown argument "--targets"/);
  assert.equal(vsixName('win32-arm64'), 'convbert-studio-win32-arm64.vsix');
});
