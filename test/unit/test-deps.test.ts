/**
 * scripts/ensure-test-deps.sh, which `npm test` and .ci/run run first: its decisions, with a PATH that holds only
 * fakes (`id` says who we are, `apt-get` records its arguments and, for `install`, "installs" Chromium and the
 * font by creating the files), so nothing is installed or removed on this machine.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.join(import.meta.dirname, '../../scripts/ensure-test-deps.sh');
const BASH = '/bin/bash';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Setup {
  uid: number;
  apt: boolean;
  chromium: boolean;
  font: boolean;
  /** What the fake apt-get install creates (default: both files). */
  aptCreates?: boolean;
  /** Whether the Python the script checks imports torch and numpy, and OpenBLAS is there (default true). */
  torch?: boolean;
  /** Whether a Vulkan loader and a GPU vendor's ICD are there for the webgpu tests (default true). */
  vulkan?: boolean;
  /** Whether a C compiler and OpenBLAS's headers are there for the blas addon (default true). */
  blas?: boolean;
}

function run(s: Setup) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-deps-'));
  made.push(dir);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const chromium = path.join(dir, 'chromium');
  const font = path.join(dir, 'DejaVuSans.ttf');
  const calls = path.join(dir, 'apt-calls');
  const tool = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!${BASH}\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  tool('id', `[ "$1" = -u ] && echo ${s.uid}`);
  // Real text tools (the Vulkan check reads ICD files and apt sources with them); no dpkg-query: no mesa installed.
  for (const t of ['grep', 'head', 'awk']) symlinkSync(spawnSync('/bin/sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim(), path.join(bin, t));
  if (s.apt) {
    const install = (s.aptCreates ?? true) ? `printf '#!${BASH}\\n' > '${chromium}'; /bin/chmod 755 '${chromium}'; : > '${font}'` : ':';
    tool('apt-get', `echo "$*" >> '${calls}'\nif [[ " $* " == *" install "* ]]; then ${install}; fi`);
  }
  if (s.chromium) {
    writeFileSync(chromium, `#!${BASH}\n`);
    chmodSync(chromium, 0o755);
  }
  if (s.font) writeFileSync(font, '');
  const python = path.join(dir, 'python3');
  writeFileSync(python, `#!${BASH}\nexit ${(s.torch ?? true) ? 0 : 1}\n`);
  chmodSync(python, 0o755);
  const openblas = path.join(dir, 'libblas.so.3');
  writeFileSync(openblas, '');
  const loader = path.join(dir, 'libvulkan.so.1');
  const icd = path.join(dir, 'nvidia_icd.json');
  if (s.vulkan ?? true) {
    writeFileSync(loader, '');
    writeFileSync(icd, '{"ICD": {"library_path": "libGLX_nvidia.so.0"}}');
  }
  const cblas = path.join(dir, 'cblas.h');
  if (s.blas ?? true) {
    tool('cc', 'exit 0');
    writeFileSync(cblas, '');
  }
  const osRelease = path.join(dir, 'os-release');
  writeFileSync(osRelease, 'VERSION_CODENAME=bookworm\n');
  const sources = path.join(dir, 'sources.list.d');
  mkdirSync(sources);
  const env = { PATH: bin, CHROMIUM_PATH: chromium, DEJAVU_FONT: font, TORCH_PYTHON: python, OPENBLAS_BLAS: openblas, VULKAN_LOADER: loader, WEBGPU_ICD: icd, OS_RELEASE: osRelease, APT_SOURCES: sources, CBLAS_HEADER: cblas };
  const r = spawnSync(BASH, [SCRIPT], { env, encoding: 'utf8', timeout: 10_000 });
  const backports = path.join(sources, 'backports.sources');
  return {
    status: r.status,
    stderr: r.stderr,
    apt: existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [],
    chromiumAfter: existsSync(chromium),
    backports: existsSync(backports) ? readFileSync(backports, 'utf8') : undefined,
  };
}

test('everything present: exits 0 and runs nothing', () => {
  const r = run({ uid: 0, apt: true, chromium: true, font: true });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.apt, []);
  assert.equal(r.stderr, '');
});

test('root with apt-get and no Chromium: apt-get update, then installs chromium and fonts-dejavu-core; exits 0', () => {
  const r = run({ uid: 0, apt: true, chromium: false, font: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.apt.length, 2, r.apt.join('\n'));
  assert.match(r.apt[0]!, /^update\b/);
  assert.match(r.apt[1]!, /\binstall\b/);
  assert.match(r.apt[1]!, /\bchromium\b/);
  assert.match(r.apt[1]!, /\bfonts-dejavu-core\b/);
  assert.match(r.apt[1]!, /-y\b/);
  assert.ok(r.chromiumAfter);
});

test('root, fonts missing only: installs too', () => {
  const r = run({ uid: 0, apt: true, chromium: true, font: false });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.apt.at(-1) ?? '', /install .*fonts-dejavu-core/);
});

test('apt-get "succeeds" but Chromium is still not there: exits 1 and says so', () => {
  const r = run({ uid: 0, apt: true, chromium: false, font: true, aptCreates: false });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /still missing/);
  assert.match(r.stderr, /CHROMIUM_PATH/);
});

test('not root: installs nothing, prints the one command to run, exits 1', () => {
  const r = run({ uid: 1000, apt: true, chromium: false, font: true });
  assert.equal(r.status, 1);
  assert.deepEqual(r.apt, []);
  assert.match(r.stderr, /Chromium at .* missing/);
  assert.match(r.stderr, /sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core/);
  assert.ok(!/\bat [^\n]+\n\s+at /.test(r.stderr), 'no stack trace');
});

test('no apt-get (not Debian): says what to install and about CHROMIUM_PATH, exits 1', () => {
  const r = run({ uid: 0, apt: false, chromium: false, font: true });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /package manager/);
  assert.match(r.stderr, /CHROMIUM_PATH/);
});

test('root with apt-get and no PyTorch: installs python3-torch, numpy and OpenBLAS for the torch engine; exits 0', () => {
  const r = run({ uid: 0, apt: true, chromium: true, font: true, torch: false });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.apt.length, 2, r.apt.join('\n'));
  assert.match(r.apt[0]!, /^update\b/);
  assert.match(r.apt[1]!, /\binstall\b.*\bpython3-torch\b/);
  assert.match(r.apt[1]!, /\bpython3-numpy\b/);
  assert.match(r.apt[1]!, /\blibopenblas0-pthread\b/);
});

test('no PyTorch and not root: says the torch tests will be skipped and what to install, installs nothing, exits 0', () => {
  const r = run({ uid: 1000, apt: true, chromium: true, font: true, torch: false });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.apt, []);
  assert.match(r.stderr, /torch engine's tests will be skipped \(install python3-torch python3-numpy libopenblas0-pthread/);
});

test('no Vulkan adapter, root with apt-get on bookworm: adds bookworm-backports and installs its mesa-vulkan-drivers', () => {
  const r = run({ uid: 0, apt: true, chromium: true, font: true, vulkan: false });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.backports ?? '', /^Suites: bookworm-backports$/m);
  assert.match(r.backports ?? '', /^URIs: http:\/\/deb\.debian\.org\/debian$/m);
  const install = r.apt.find((c) => /\binstall\b/.test(c));
  assert.match(install ?? '', /-t bookworm-backports .*\bmesa-vulkan-drivers\b.*\blibvulkan1\b/);
  assert.match(r.stderr, /a Vulkan adapter for the webgpu tests/);
});

test('no Vulkan adapter and not root: says the webgpu tests will be skipped and what to install, installs nothing', () => {
  const r = run({ uid: 1000, apt: true, chromium: true, font: true, vulkan: false });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.apt, []);
  assert.equal(r.backports, undefined);
  assert.match(r.stderr, /webgpu tests will be skipped \(install mesa-vulkan-drivers ≥ 23 and libvulkan1/);
});

test('no C compiler or OpenBLAS headers, root with apt-get: installs gcc, libc6-dev and libopenblas-dev for the blas addon', () => {
  const r = run({ uid: 0, apt: true, chromium: true, font: true, blas: false });
  assert.equal(r.status, 0, r.stderr);
  const install = r.apt.find((c) => /\binstall\b/.test(c));
  assert.match(install ?? '', /\bgcc\b.*\blibc6-dev\b.*\blibopenblas-dev\b/);
  assert.match(r.stderr, /blas backend's addon/);
});
