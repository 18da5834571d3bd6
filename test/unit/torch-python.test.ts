/**
 * Finding Python with PyTorch (src/engines/torch/python.ts) and what `auto` makes of it (src/engines/index.ts), with
 * stand-in interpreters: shell scripts that answer the probe as a Python with or without torch, with or without a
 * CUDA device would. The real interpreter is exercised by the integration tests.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseEngine } from '../../src/engines';
import { torchEngine } from '../../src/engines/torch';
import { findTorchPython, findTorchPythonSync, pythonCandidates, PYTHON_ENV } from '../../src/engines/torch/python';

const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-fake-python-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in interpreter that prints `answer` as the probe's JSON line, whatever it is asked. */
function fakePython(name: string, answer: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\ncat <<'ANSWER'\n${JSON.stringify(answer)}\nANSWER\n`);
  chmodSync(file, 0o755);
  return file;
}

const GPU = { python: '3.12.1', torch: '2.5.1+cu124', cuda: { available: true, devices: 8, name: 'NVIDIA H200', version: '12.4' }, mps: false, compile: true, nccl: true };
const CPU = { ...GPU, torch: '1.13.0', cuda: { available: false, devices: 0, name: null, version: null }, compile: false, nccl: false };

test('candidates: CONVBERT_PYTHON, then the editor\'s choice; with neither, python3, python and /usr/bin/python3', () => {
  assert.deepEqual(pythonCandidates({ env: { [PYTHON_ENV]: '/opt/py/bin/python' }, configured: '/venv/bin/python' }), ['/opt/py/bin/python', '/venv/bin/python']);
  const guessed = pythonCandidates({ env: {} });
  assert.deepEqual(guessed.slice(0, 2), ['python3', 'python']);
});

test('a Python with PyTorch that sees a GPU: available, and auto takes the torch engine', async () => {
  const python = fakePython('gpu-python', GPU);
  const probe = await findTorchPython({ env: { [PYTHON_ENV]: python } });
  assert.ok(probe.ok);
  assert.equal(probe.info.torch, '2.5.1+cu124');
  assert.deepEqual(probe.info.cuda, { available: true, devices: 8, name: 'NVIDIA H200', version: '12.4' });
  assert.equal(probe.info.compile, true);
  assert.equal(torchEngine.preferredByAuto({ python }), true);
  assert.equal(chooseEngine('auto', 'auto', { python }).id, 'torch');
  assert.equal(chooseEngine(undefined, undefined, { python }).id, 'torch');
  // A backend named in the spec still names its engine.
  assert.equal(chooseEngine('auto', 'wasm', { python }).id, 'tfjs');
});

test('a Python with PyTorch on the CPU only: available, but auto stays on TF.js', () => {
  const python = fakePython('cpu-python', CPU);
  const probe = findTorchPythonSync({ configured: python, env: {} });
  assert.ok(probe.ok);
  assert.equal(torchEngine.availability({ python }).ok, true);
  assert.equal(torchEngine.preferredByAuto({ python }), false);
  assert.equal(chooseEngine('auto', 'auto', { python }).id, 'tfjs');
  assert.equal(chooseEngine('torch', undefined, { python }).id, 'torch');
});

test('a Python without PyTorch: the reason and what to install; torch by name is refused in one line', () => {
  const python = fakePython('bare-python', { error: "no torch: No module named 'torch'", python: '3.11.7' });
  const probe = findTorchPythonSync({ configured: python, env: {} });
  assert.equal(probe.ok, false);
  if (probe.ok) return;
  assert.match(probe.reason, /bare-python: no torch: No module named 'torch' \(Python 3\.11\.7\)/);
  assert.match(probe.hint, /install PyTorch for that interpreter/);
  assert.equal(chooseEngine('auto', 'auto', { python }).id, 'tfjs');
  assert.throws(() => chooseEngine('torch', undefined, { python }), /^Error: the torch engine cannot run here: no Python with PyTorch: .*bare-python.*install PyTorch/);
});

test('an interpreter that answers something else is passed over with what it said', () => {
  const python = fakePython('odd-python', 'hello');
  const probe = findTorchPythonSync({ configured: python, env: {} });
  assert.equal(probe.ok, false);
  if (!probe.ok) assert.match(probe.reason, /odd-python: did not answer the probe/);
});
