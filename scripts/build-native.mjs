// Builds ConvBERT Studio's native CPU kernels (native/blas.c → build/convbert_blas.node): matrix products on a real
// BLAS, run in place on TF.js's wasm heap by the TF.js engine's `blas` backend. Offline: plain C against Node-API's
// headers from the npm package node-api-headers (no node-gyp, which downloads Node's headers) and the system's BLAS:
//   Linux:  OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev), a C compiler (gcc or clang);
//   macOS:  Accelerate (part of the OS), the Xcode command-line tools' clang;
//   others: not built.
// Run by `npm install` (postinstall) and `npm run build:native`. It never fails the install: where something is
// missing it says what and writes build/convbert_blas.json with the reason, and the trainer uses wasm and says why.
//   node scripts/build-native.mjs [--strict]     --strict: exit 1 when it cannot build (CI, tests)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'build');
const ADDON = path.join(OUT_DIR, 'convbert_blas.node');
const STATUS = path.join(OUT_DIR, 'convbert_blas.json');
const strict = process.argv.includes('--strict');

function finish(ok, reason, extra = {}) {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(STATUS, `${JSON.stringify({ ok, reason, platform: `${process.platform}-${process.arch}`, node: process.version, ...extra }, null, 2)}\n`);
  console.log(`build-native: ${ok ? `built ${path.relative(ROOT, ADDON)}` : `not built: ${reason}`}`);
  if (!ok) rmSync(ADDON, { force: true });
  process.exit(!ok && strict ? 1 : 0);
}

function which(cmd) {
  return spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

if (process.platform !== 'linux' && process.platform !== 'darwin') finish(false, `no native BLAS build for ${process.platform} yet: the trainer uses wasm`);
const cc = process.env.CC || which('cc') || which('gcc') || which('clang');
if (!cc) finish(false, process.platform === 'darwin' ? 'no C compiler: install the Xcode command-line tools (xcode-select --install)' : 'no C compiler: install gcc (Debian/Ubuntu: apt-get install gcc)');
let headers;
try {
  headers = path.join(path.dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
} catch {
  finish(false, 'the npm package node-api-headers is not installed (npm install)');
}
const blas = process.platform === 'darwin' ? ['-framework', 'Accelerate', '-DACCELERATE_NEW_LAPACK'] : ['-lopenblas'];
// Every native/*.c is one module; the hot loops carry their own per-CPU clones (convbert.h's HOT), so the build
// runs on any CPU of its architecture and no -march flag ties it to the build machine's.
const sources = readdirSync(path.join(ROOT, 'native')).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(ROOT, 'native', f));
const args = ['-O3', '-fPIC', '-shared', '-std=gnu11', '-Wall', '-fno-math-errno', '-pthread', '-DNODE_GYP_MODULE_NAME=convbert_blas', '-DNAPI_VERSION=8', `-I${headers}`,
  ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []), ...sources, ...blas, '-lm', '-o', ADDON];
mkdirSync(OUT_DIR, { recursive: true });
const r = spawnSync(cc, args, { encoding: 'utf8' });
if (r.status !== 0) {
  const text = `${r.stderr}${r.stdout}`;
  const noBlas = /cblas\.h|-lopenblas|cannot find -lopenblas/.test(text);
  finish(false, noBlas ? 'OpenBLAS is not installed (Debian/Ubuntu: apt-get install libopenblas-dev)' : `the C compiler failed: ${text.split('\n').find((l) => /error/.test(l)) ?? text.split('\n')[0]}`);
}
// It must load here, in this Node: a build that does not load is no build.
try {
  const addon = createRequire(import.meta.url)(ADDON);
  finish(true, undefined, { blas: addon.config(), compiler: cc });
} catch (err) {
  finish(false, `built but does not load: ${String(err.message).split('\n')[0]}`);
}
