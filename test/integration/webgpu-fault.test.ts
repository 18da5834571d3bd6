/**
 * Never a silent wrong answer (issue #13): a WebGPU dispatch that fails device validation mid-run stops the run with
 * the error and the op's name, and its last checkpoint stays whole — resumed (here on wasm) the run completes with
 * every step exactly once. The fault is a real one, on the real device: CONVBERT_WEBGPU_FAULT_AT_READ=N makes the
 * trainer's backend run TF.js's own AddN on more inputs than the device takes before its N-th read (the case that
 * reads back zeros when nothing checks). Skipped, with the reason printed, where there is no WebGPU adapter.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints } from '../../src/run-format/checkpoint-name';
import { readMetricEvents } from '../../src/run-format/metrics';
import { cli, tinySpecText, tinyWorkspace } from '../cli-harness';
import { webgpuOrSkip } from '../webgpu-adapter';


const SPEC = tinySpecText({ name: 'tiny-webgpu', steps: 8, seed: 5, evalInterval: 100, checkpointInterval: 2, backend: 'webgpu' });

let skip: string | false = false;
const made: string[] = [];
before(async () => {
  skip = (await webgpuOrSkip()).skip;
});
after(() => {
  delete process.env.CONVBERT_WEBGPU_FAULT_AT_READ;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

test('a device validation error stops the run naming the op; the last checkpoint is whole and resumes', async (t) => {
  if (skip) return t.skip(skip);
  const cwd = tinyWorkspace('convbert-webgpu-fault-', SPEC, made);

  // Reads: the data pipeline's, one per step, a checkpoint's worth (weights and moments) every 2 steps: read 150
  // falls after the first checkpoint (step 2) and well before the end (a whole run makes under 400).
  process.env.CONVBERT_WEBGPU_FAULT_AT_READ = '150';
  const failed = await cli(cwd, 'train', 'tiny.convbert.json', '--out', 'run');
  delete process.env.CONVBERT_WEBGPU_FAULT_AT_READ;
  assert.equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
  assert.match(failed.stderr, /WebGPU failed GPU validation in AddNPackedProgram: The number of storage buffers \(\d+\) in the Compute stage exceeds the maximum per-stage limit/);
  const runDir = path.join(cwd, 'run');
  const info = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { state: string; message?: string; step: number; backend?: { name: string; description?: string } };
  assert.equal(info.state, 'error');
  assert.match(info.message ?? '', /AddNPackedProgram/);
  assert.equal(info.backend?.name, 'webgpu');
  assert.match(info.backend?.description ?? '', /^webgpu \(/);
  const checkpoints = await listCheckpoints(runDir);
  assert.ok(checkpoints.length >= 1, `no checkpoint was kept: ${readdirSync(runDir).join(', ')}`);
  const kept = Math.max(...checkpoints.map((c) => c.step));
  assert.ok(kept >= 2 && kept < 8, `checkpoint at step ${kept}`);
  const before = (await readMetricEvents(runDir)).events.filter((e) => e.type === 'metrics');
  assert.ok(before.every((e) => Number.isFinite((e as { loss: number }).loss) && (e as { loss: number }).loss > 0), 'no zero or non-finite loss was recorded');

  const resumed = await cli(cwd, 'train', '--resume', 'run', '--backend', 'wasm');
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  const { events } = await readMetricEvents(runDir);
  const started = events.filter((e) => e.type === 'started') as { step: number }[];
  assert.equal(started.at(-1)!.step, kept, 'the resumed session starts at the kept checkpoint');
  const final = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { state: string; step: number };
  assert.equal(final.state, 'completed');
  assert.equal(final.step, 8);
});
