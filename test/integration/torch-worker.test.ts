/**
 * The Python worker group's own tests (python/tests: the shards reader, device and precision detection, the worker
 * protocol over stdio, 2 ranks with gloo against 1 rank with twice the batch, a SIGKILLed rank stopping the
 * group), run with the Python `findTorchPython` finds, so `npm test` runs them. Skipped, with the reason printed,
 * where no Python with torch is found.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { findTorchPython, workerEnv } from '../../src/engines/torch/python';

const root = join(__dirname, '..', '..');

test('python/tests (unittest) pass with the torch worker group', { timeout: 300_000 }, async (t) => {
  const found = await findTorchPython();
  if (!found.ok) {
    console.log(`# torch-worker skipped: no Python with torch: ${found.reason}`);
    return t.skip(`no Python with torch: ${found.reason}`);
  }
  const python = found.info.python;
  const res = spawnSync(python, ['-m', 'unittest', 'discover', '-s', join(root, 'python', 'tests'), '-t', join(root, 'python', 'tests')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 280_000,
    env: { ...process.env, ...workerEnv(root), CONVBERT_PYTHON: python, PYTHONWARNINGS: 'ignore', PYTHONDONTWRITEBYTECODE: '1' },
  });
  const output = `${res.stdout}\n${res.stderr}`;
  assert.equal(res.error, undefined, `could not run ${python}: ${String(res.error)}`);
  assert.equal(res.status, 0, `python/tests failed (exit ${res.status}, torch ${found.info.torch}):\n${output.slice(-6000)}`);
  const ran = /Ran (\d+) tests? in/.exec(output);
  assert.ok(ran, `no unittest summary in the output:\n${output.slice(-2000)}`);
  assert.ok(Number(ran[1]) >= 10, `only ${ran[1]} Python tests ran`);
  assert.match(output, /\nOK/);
});
