/**
 * The run format (src/run-format) as the contract: run.json is validated on read with its TypeBox schema, probe
 * files are named and placed by it, and the shared number formatting (src/format) prints what its callers expect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRunInfo, createRunDir, probeFilePath, probeFileStep, probeSummaryFileName, readRunInfo, runPaths, HISTORY_TYPES, RUN_STATES } from '../../src/run-format';
import { bytes, count, duration, durationLabel, exact, mebibytes, metric, si } from '../../src/format';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'convbert-run-format-'));
}

test('readRunInfo returns run.json only when it matches the schema', async () => {
  const root = tmp();
  try {
    const { dir, info } = await createRunDir(root, { spec: { version: 1, extends: 'bert-tiny' }, name: 'tiny', seed: 3 });
    assert.deepEqual(await readRunInfo(dir), info);
    assert.ok(checkRunInfo(info));
    const write = (value: unknown) => writeFileSync(runPaths(dir).run, JSON.stringify(value));
    write({ ...info, futureField: { anything: true } });
    assert.equal((await readRunInfo(dir))?.runId, info.runId, 'unknown properties are allowed (a newer writer)');
    write({ ...info, state: 'sleeping' });
    assert.equal(await readRunInfo(dir), undefined, 'an unknown state');
    write({ ...info, step: -1 });
    assert.equal(await readRunInfo(dir), undefined, 'a negative step');
    const { versions: _versions, ...noVersions } = info;
    write(noVersions);
    assert.equal(await readRunInfo(dir), undefined, 'no versions');
    write({ ...info, format: 'something-else' });
    assert.equal(await readRunInfo(dir), undefined, 'another format');
    writeFileSync(runPaths(dir).run, '{"format": "convbert-run", "runId": ');
    assert.equal(await readRunInfo(dir), undefined, 'torn JSON');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('run states and history types come from the run format', () => {
  assert.deepEqual([...RUN_STATES], ['created', 'running', 'paused', 'stopped', 'cancelled', 'completed', 'nonfinite', 'error']);
  assert.deepEqual([...HISTORY_TYPES], ['started', 'metrics', 'eval', 'probes', 'checkpoint', 'warning', 'error', 'done']);
});

test('probe files: named by step in probes/', () => {
  assert.equal(probeFilePath('/runs/r', 42), join('/runs/r', 'probes', 'step-000000042.probe'));
  assert.equal(probeFileStep('step-000000042.probe'), 42);
  assert.equal(probeFileStep('step-000000042.json'), undefined);
  assert.equal(probeSummaryFileName(7), 'step-000000007.json');
});

test('src/format: one function per presentation', () => {
  assert.equal(exact(110106428), '110,106,428');
  assert.equal(exact(1234.6), '1,235');
  assert.equal(si(1.234e9, 'FLOP'), '1.23 GFLOP');
  assert.equal(si(0, 'FLOP'), '0 FLOP');
  assert.equal(si(2.5e15), '2.50 P');
  assert.equal(si(Number.NaN), 'NaN');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1.5 * 2 ** 20), '1.5 MiB');
  assert.equal(bytes(150 * 2 ** 30), '150 GiB');
  assert.equal(mebibytes(512 * 2 ** 20), '512 MiB');
  assert.equal(mebibytes(3840 * 2 ** 20), '3.8 GiB');
  assert.equal(mebibytes(36 * 2 ** 30), '36 GiB');
  assert.equal(mebibytes(7.7 * 2 ** 30), '7.7 GiB');
  assert.equal(count(1.2e9), '1.2 B');
  assert.equal(metric(2.345678), '2.3457');
  assert.equal(duration(12_300), '12.3 s');
  assert.equal(durationLabel(12_300), '12 s');
  assert.equal(durationLabel(184_000), '3 min 04 s');
});
