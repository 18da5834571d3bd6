import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainerMessage } from '../../src/protocol';
import { appendMetricEvent, readMetricEvents, truncateMetricEventsAfter, StepMeter } from '../../src/run-format/metrics';
import { RUNS_DIR, appendLog, createRunDir, initRunDir, isRunId, listRuns, newRunId, readRunInfo, runPaths, updateRunInfo } from '../../src/run-format/run-dir';
import { Rng, normal, restoreRng, truncatedNormal } from '../../src/core/rng';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tmp(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-run-'));
  made.push(dir);
  return dir;
}

test('run ids sort by creation time and carry a random suffix', () => {
  const a = newRunId(new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)), 'abcdef');
  assert.equal(a, '20250102-030405-006-abcdef');
  assert.ok(isRunId(a));
  assert.ok(!isRunId('2025-01-02'));
  const times = [Date.UTC(2024, 11, 31, 23, 59, 59, 999), Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1, 0, 0, 0, 1), Date.UTC(2025, 9, 10, 8)];
  const ids = times.map((t) => newRunId(new Date(t)));
  assert.deepEqual([...ids].sort(), ids);
  assert.notEqual(newRunId(new Date(0)), newRunId(new Date(0)), 'same millisecond, different suffix (almost surely)');
});

test('createRunDir lays out the run directory; run.json updates atomically; listRuns is newest first', async () => {
  const ws = tmp();
  const first = await createRunDir(ws, { spec: '{ "version": 1 } // jsonc kept as written\n', runId: newRunId(new Date(Date.UTC(2025, 0, 1))), name: 'a', seed: 7 });
  const second = await createRunDir(ws, { spec: { version: 1, name: 'b' }, name: 'b' });
  assert.equal(first.dir, path.join(ws, RUNS_DIR, first.runId));
  const p = runPaths(first.dir);
  for (const dir of [p.probes, p.checkpoints]) assert.ok((await fsp.stat(dir)).isDirectory());
  assert.equal(await fsp.readFile(p.spec, 'utf8'), '{ "version": 1 } // jsonc kept as written\n');
  assert.deepEqual(JSON.parse(await fsp.readFile(runPaths(second.dir).spec, 'utf8')), { version: 1, name: 'b' });
  const info = await readRunInfo(first.dir);
  assert.equal(info?.state, 'created');
  assert.equal(info?.seed, 7);
  assert.equal(info?.versions.protocol, 1);

  const updated = await updateRunInfo(first.dir, { state: 'running', step: 12, backend: { requested: 'auto', name: 'cpu' } });
  assert.equal(updated.state, 'running');
  assert.deepEqual(await readRunInfo(first.dir), updated);
  assert.deepEqual((await fsp.readdir(first.dir)).filter((n) => n.includes('.tmp-')), []);

  // initRunDir on an existing run leaves its snapshot and run.json alone.
  await initRunDir(first.dir, { spec: 'something else' });
  assert.equal((await readRunInfo(first.dir))?.step, 12);
  assert.equal(await fsp.readFile(p.spec, 'utf8'), '{ "version": 1 } // jsonc kept as written\n');

  await assert.rejects(createRunDir(ws, { spec: {}, runId: first.runId }), /EEXIST/);
  assert.deepEqual((await listRuns(ws)).map((r) => r.runId), [second.runId, first.runId]);
  assert.deepEqual(await listRuns(tmp()), []);

  appendLog(first.dir, 'info', 'two\nlines');
  assert.match(await fsp.readFile(p.log, 'utf8'), /^\S+Z INFO {2}two\n\S+Z INFO {2}lines\n$/);
});

test('metrics.jsonl: appended events read back validated; a torn last line is reported, not fatal; truncation after a step', async () => {
  const dir = tmp();
  for (let step = 1; step <= 5; step++) {
    appendMetricEvent(dir, trainerMessage({ type: 'metrics', step, loss: 10 - step, mlmLoss: 10 - step, learningRate: 1e-3, gradNorm: 1, tokensPerSecond: 100, stepMs: 5, flopsPerSecond: 0, memoryBytes: 0 }));
    if (step === 4) appendMetricEvent(dir, trainerMessage({ type: 'checkpoint', step, path: 'checkpoints/x' }));
  }
  appendFileSync(runPaths(dir).metrics, '{"v":1,"type":"metr');
  let history = await readMetricEvents(dir);
  assert.deepEqual(history.events.map((e) => e.type), ['metrics', 'metrics', 'metrics', 'metrics', 'checkpoint', 'metrics']);
  assert.deepEqual(history.invalid.map((i) => i.line), [7]);

  assert.equal((await truncateMetricEventsAfter(dir, 4)).dropped, 2, 'step 5 and the torn line');
  history = await readMetricEvents(dir);
  assert.deepEqual(history.events.map((e) => ('step' in e ? e.step : -1)), [1, 2, 3, 4, 4]);
  assert.deepEqual(history.invalid, []);
  assert.equal((await truncateMetricEventsAfter(dir, 4)).dropped, 0);
  assert.deepEqual(await readMetricEvents(tmp()), { events: [], invalid: [] });
});

test('StepMeter: ETA from the smoothed step time', () => {
  const m = new StepMeter(0.5);
  assert.equal(m.etaMs(10), null);
  m.record(100);
  assert.equal(m.etaMs(10), 1000);
  m.record(200);
  assert.equal(m.stepMs, 150);
  assert.equal(m.etaMs(0), 0);
});

test('rng: restoreRng sets a shared generator in place; normal draws are replayable and truncation holds', () => {
  const a = Rng.fromSeed(42);
  for (let i = 0; i < 5; i++) a.nextU32();
  const saved = a.state();
  const draws = Array.from({ length: 100 }, () => normal(a));
  const b = Rng.fromSeed(1);
  const held = b; // someone else's reference
  restoreRng(b, saved);
  assert.deepEqual(Array.from({ length: 100 }, () => normal(held)), draws);
  assert.throws(() => restoreRng(b, [1, 2, 3] as never), /invalid RNG state/);
  const c = Rng.fromSeed(3);
  for (let i = 0; i < 2000; i++) assert.ok(Math.abs(truncatedNormal(c, 0.02)) <= 0.04);
  const mean = Array.from({ length: 4000 }, () => normal(c)).reduce((s, x) => s + x, 0) / 4000;
  assert.ok(Math.abs(mean) < 0.1, `mean ${mean}`);
});
