/**
 * The trainer as a forked child process, driven through `TrainerClient` over the IPC channel, training the real
 * linear-regression job (`src/core/train/toy-job.ts`, loaded through CONVBERT_TRAINER_JOB_MODULE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadLatestCheckpoint } from '../../src/run-format/checkpoint';
import { readRunInfo } from '../../src/run-format/run-dir';
import { ROOT, forkToyTrainer as forkTrainer, record, tmpRunDirs } from './toy-trainer';

const tmpRunDir = tmpRunDirs('convbert-proc-');

const TOY_SPEC = {
  version: 1,
  name: 'toy',
  extends: 'bert-tiny',
  training: {
    steps: 12,
    seed: 11,
    optimizer: { type: 'lamb', biasCorrection: true },
    learningRate: { peak: 0.1, final: 0.001, warmupSteps: 2, warmupPower: 0.5, decay: 'polynomial', decayPower: 1 },
    weightDecay: 0.01,
    gradientClipNorm: 1,
    evalInterval: 5,
    checkpointInterval: 4,
    backend: 'cpu',
  },
};




test('a forked trainer trains, honours stop within a step, answers malformed messages, and resumes on the same trajectory', { timeout: 120_000 }, async () => {
  // Reference: one uninterrupted run.
  const reference = forkTrainer();
  const ref = record(reference);
  const hello = await reference.ready;
  assert.equal(hello.pid, reference.pid);
  reference.start({ runDir: tmpRunDir(), spec: TOY_SPEC });
  const refExit = await reference.finished;
  assert.equal(refExit.done?.reason, 'completed', ref.output.join('\n'));
  assert.equal(refExit.code, 0);
  assert.deepEqual(ref.invalid, []);
  const refMetrics = ref.of('metrics');
  assert.deepEqual(refMetrics.map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.ok(refMetrics.every((m) => m.tokensPerSecond > 0 && m.stepMs > 0 && m.memoryBytes > 0 && m.flopsPerSecond > 0));
  assert.equal(ref.of('started')[0]!.backend.name, 'cpu');

  // Interrupted: stopped after step 3 (steps are slowed to 40 ms so the stop lands mid-run).
  const runDir = tmpRunDir();
  const first = forkTrainer({ stepDelayMs: 40 });
  const one = record(first);
  let stopSentAfter = -1;
  first.on('metrics', (m) => {
    if (m.step === 1) {
      // Malformed messages: each gets a non-fatal error and changes nothing (a `stop` with an extra field does not stop).
      first.sendRaw({ v: 1, type: 'stop', now: true });
      first.sendRaw('garbage');
      first.sendRaw({ v: 99, type: 'pause' });
      first.sendRaw({ v: 1, type: 'start', runDir: 42 });
      first.sendRaw({ v: 1, type: 'start', runDir, spec: TOY_SPEC });
    }
    if (m.step === 3) {
      stopSentAfter = m.step;
      void first.stop(20_000);
    }
  });
  await first.ready;
  first.start({ runDir, spec: TOY_SPEC });
  const firstExit = await first.finished;
  assert.deepEqual(one.invalid, []);
  assert.equal(firstExit.done?.reason, 'stopped', one.output.join('\n'));
  assert.equal(firstExit.code, 0);
  const errors = one.of('error');
  assert.equal(errors.length, 5, errors.map((e) => e.message).join('\n'));
  assert.ok(errors.every((e) => !e.fatal));
  assert.match(errors[0]!.message, /rejected a message from the host/);
  assert.match(errors[2]!.message, /version 99/);
  assert.match(errors[3]!.message, /runDir/);
  assert.match(errors[4]!.message, /already running a job/);
  assert.ok(one.of('metrics').some((m) => m.step === 2), 'training went on after the malformed messages');

  const stopping = one.of('state').find((s) => s.state === 'stopping')!;
  const stoppedAt = firstExit.done!.step;
  assert.ok(stoppedAt <= stopping.step + 1, `stopped within one step of receiving stop: received after ${stopping.step}, stopped at ${stoppedAt}`);
  assert.ok(stoppedAt >= stopSentAfter && stoppedAt < 12, `stopped at ${stoppedAt}`);
  assert.equal(one.of('checkpoint').at(-1)?.step, stoppedAt, 'a checkpoint at the stop');
  assert.equal((await loadLatestCheckpoint(runDir))?.step, stoppedAt);
  assert.equal((await readRunInfo(runDir))?.state, 'stopped');
  one.of('metrics').forEach((m, i) => assert.equal(m.loss, refMetrics[i]!.loss, `before the stop, step ${m.step}`));

  // Resumed in a new process: the remaining steps, with the reference's losses.
  const second = forkTrainer();
  const two = record(second);
  second.start({ runDir, options: { resume: true } });
  const secondExit = await second.finished;
  assert.equal(secondExit.done?.reason, 'completed', two.output.join('\n'));
  const started = two.of('started')[0]!;
  assert.equal(started.resumed, true);
  assert.equal(started.step, stoppedAt);
  const resumed = two.of('metrics');
  assert.deepEqual(resumed.map((m) => m.step), refMetrics.slice(stoppedAt).map((m) => m.step));
  for (const m of resumed) {
    const want = refMetrics[m.step - 1]!;
    assert.ok(Math.abs(m.loss - want.loss) <= 1e-6 * Math.abs(want.loss), `loss at step ${m.step}: ${m.loss} vs ${want.loss}`);
    assert.equal(m.learningRate, want.learningRate);
  }
  const refEval = ref.of('eval').at(-1)!;
  const evalAfter = two.of('eval').at(-1)!;
  assert.ok(Math.abs(evalAfter.loss - refEval.loss) <= 1e-6 * refEval.loss, 'same final validation loss');
});

test('SIGTERM stops gracefully: the step finishes, a checkpoint is written, done says stopped', { timeout: 60_000 }, async () => {
  const runDir = tmpRunDir();
  const client = forkTrainer({ stepDelayMs: 40 });
  const rec = record(client);
  client.on('metrics', (m) => {
    if (m.step === 2) client.child.kill('SIGTERM');
  });
  client.start({ runDir, spec: TOY_SPEC });
  const exit = await client.finished;
  assert.equal(exit.done?.reason, 'stopped', rec.output.join('\n'));
  assert.equal(exit.code, 0);
  assert.match(rec.of('log').map((l) => l.message).join('\n'), /SIGTERM/);
  const stopping = rec.of('state').find((s) => s.state === 'stopping')!;
  assert.ok(exit.done!.step <= stopping.step + 1);
  assert.equal((await loadLatestCheckpoint(runDir))?.step, exit.done!.step);
});

test('a job that cannot be loaded is a fatal error with done: error, and exit code 1', { timeout: 60_000 }, async () => {
  const client = forkTrainer({}, { CONVBERT_TRAINER_JOB_MODULE: path.join(ROOT, 'no/such/job.ts') });
  const rec = record(client);
  client.start({ runDir: tmpRunDir(), spec: TOY_SPEC });
  const exit = await client.finished;
  assert.equal(exit.done?.reason, 'error');
  assert.equal(exit.code, 1);
  const error = rec.of('error')[0]!;
  assert.equal(error.fatal, true);
  assert.match(error.message, /cannot load the job module/);
  assert.match(error.hint ?? '', /CONVBERT_TRAINER_JOB_MODULE/);
});

test('stop() kills a trainer that does not stop in time; dispose() kills a running one', { timeout: 60_000 }, async () => {
  // Stuck in a checkpoint write after step 4 (a stop before the first step would cancel at once instead).
  const slow = forkTrainer({ saveDelayMs: 20_000 });
  slow.on('metrics', (m) => m.step === 4 && void slow.stop(500));
  slow.start({ runDir: tmpRunDir(), spec: TOY_SPEC });
  const t0 = Date.now();
  const exit = await slow.finished;
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.killed, true);
  assert.equal(exit.done, undefined);
  assert.match(exit.error ?? '', /did not stop within 500 ms/);
  assert.ok(Date.now() - t0 < 15_000);

  const running = forkTrainer({ stepDelayMs: 20_000 });
  await running.ready;
  const pid = running.pid!;
  running.dispose();
  const disposed = await running.finished;
  assert.equal(disposed.signal, 'SIGKILL');
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child is gone');
});
