/**
 * Issue #9, the trainer process and the run's state on disk, with real forked trainers (src/engines/tfjs/trainer/main.ts through
 * tsx) training the toy job (src/core/train/toy-job.ts): a fatal error ends the process at once (a real wasm
 * out-of-memory trap, said as out of memory); stop/cancel in every phase ends the process within 2 s; resume
 * continues from the checkpoint and never records a step twice, and is refused without one; two trainers started at
 * the same moment on one run: exactly one trains it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadLatestCheckpoint } from '../../src/run-format/checkpoint';
import { readMetricEvents } from '../../src/run-format/metrics';
import { acquireRunLock, effectiveRunState, readRunInfo, readRunLock, runPaths } from '../../src/run-format/run-dir';
import { EXIT_GRACE_MS, TrainerClient } from '../../src/engines/client';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import type { ToyJobOptions } from '../../src/core/train/toy-job';
import { ROOT, TOY_JOB, forkToyTrainer, record, tmpRunDirs } from './toy-trainer';

const tmpRunDir = tmpRunDirs('convbert-life-');
const forkTrainer = (toy: ToyJobOptions = {}) => forkToyTrainer(toy, {}, ROOT);

const TOY_SPEC = {
  version: 1,
  name: 'toy',
  extends: 'bert-tiny',
  training: { steps: 12, seed: 5, learningRate: { peak: 0.05, warmupSteps: 2 }, evalInterval: 100, checkpointInterval: 4, backend: 'cpu' },
};

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Metrics steps in metrics.jsonl, in order. */
async function recordedSteps(runDir: string): Promise<{ metrics: number[]; started: number[] }> {
  const { events } = await readMetricEvents(runDir);
  return { metrics: events.flatMap((e) => (e.type === 'metrics' ? [e.step] : [])), started: events.flatMap((e) => (e.type === 'started' ? [e.step] : [])) };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a wasm out-of-memory trap during a step: the error says out of memory, and the process exits on its own at once', { timeout: 60_000 }, async () => {
  // afterTrap 'dispose': disposing the job after the trap spins forever, as TF.js's wasm heap did (the hang of #9).
  const client = forkTrainer({ trapIn: 'step', afterTrap: 'dispose' });
  const rec = record(client);
  const runDir = tmpRunDir();
  client.start({ runDir, spec: TOY_SPEC });
  const exit = await client.finished;
  const errorAt = rec.at('error')!;
  const closedAfterMs = Date.now() - errorAt;
  const error = rec.of('error')[0]!;
  assert.equal(error.fatal, true);
  assert.match(error.message, /^out of memory on the /, error.message);
  assert.match(error.hint ?? '', /memory access out of bounds/);
  assert.equal(exit.done?.reason, 'error');
  // Exited by itself with code 1 (the job is not disposed on a corrupt heap), not killed by the watchdog or the host.
  assert.equal(exit.signal, null, rec.output.join('\n'));
  assert.equal(exit.code, 1);
  assert.ok(closedAfterMs < 1000, `exited ${closedAfterMs} ms after the error`);
  assert.equal((await readRunInfo(runDir))?.state, 'error');
  assert.equal(await readRunLock(runDir), undefined, 'the lock is released');
});

test('whatever keeps the main thread busy after a fatal error, the trainer is gone within ~1 s (its watchdog thread)', { timeout: 60_000 }, async () => {
  // afterTrap 'event-loop': the next turn of the event loop spins forever, before `done` can even be sent.
  const client = forkTrainer({ trapIn: 'init', afterTrap: 'event-loop' });
  const rec = record(client);
  client.start({ runDir: tmpRunDir(), spec: TOY_SPEC });
  const exit = await client.finished;
  const closedAfterMs = Date.now() - rec.at('error')!;
  assert.match(rec.of('error')[0]!.message, /out of memory/);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(closedAfterMs < 1800, `gone ${closedAfterMs} ms after the fatal error`);
  assert.ok(isGone(client.pid!));
});

test('the client kills a child that said done but does not exit', { timeout: 30_000 }, async () => {
  const dir = path.dirname(tmpRunDir());
  const entry = path.join(dir, 'stuck.cjs');
  writeFileSync(
    entry,
    `process.send({ v: 1, type: 'hello', pid: process.pid, versions: { protocol: 1 } });
     process.on('message', () => { process.send({ v: 1, type: 'done', reason: 'error', step: 0, summary: {} }, () => { for (;;) {} }); });`,
  );
  const client = TrainerClient.fork({ entry });
  await client.ready;
  client.start({ runDir: path.join(dir, 'run'), spec: TOY_SPEC });
  const t0 = Date.now();
  const exit = await client.finished;
  assert.equal(exit.done?.reason, 'error');
  assert.equal(exit.signal, 'SIGKILL');
  const ms = Date.now() - t0;
  assert.ok(ms >= EXIT_GRACE_MS - 100 && ms < EXIT_GRACE_MS + 1500, `killed after ${ms} ms`);
});

/** Sends stop when `when` fires, then checks the process is gone within 2 s and the run ended as expected. */
async function stopIn(toy: ToyJobOptions, when: (client: TrainerClient, stop: () => void) => void, spec: Record<string, unknown> = TOY_SPEC) {
  const client = forkTrainer(toy);
  const rec = record(client);
  const runDir = tmpRunDir();
  let stopAt = 0;
  when(client, () => {
    stopAt = Date.now();
    void client.stop(60_000);
  });
  client.start({ runDir, spec });
  const exit = await client.finished;
  const ms = Date.now() - stopAt;
  assert.ok(stopAt > 0, 'stop was sent');
  assert.ok(ms < 2000, `process gone ${ms} ms after stop`);
  assert.ok(isGone(client.pid!));
  return { exit, rec, runDir, info: await readRunInfo(runDir) };
}

test('stop during set-up that listens (awaited model build): done cancelled, run cancelled, no checkpoint', { timeout: 60_000 }, async () => {
  const { exit, info, runDir } = await stopIn({ initDelayMs: 5000 }, (c, stop) => void c.ready.then(() => setTimeout(stop, 1500)));
  assert.equal(exit.done?.reason, 'cancelled');
  assert.equal(exit.code, 0);
  assert.equal(info?.state, 'cancelled');
  assert.equal(await loadLatestCheckpoint(runDir), undefined);
});

test('stop during busy set-up (deaf to messages, like tokenizer training): killed within 2 s, run cancelled', { timeout: 60_000 }, async () => {
  const { exit, info, runDir } = await stopIn({ initDelayMs: 20_000, initBusy: true }, (c, stop) => void c.ready.then(() => setTimeout(stop, 1500)));
  assert.equal(exit.cancelled, true);
  assert.equal(exit.error, undefined);
  assert.equal(info?.state, 'cancelled');
  assert.equal(effectiveRunState(info!), 'cancelled');
  assert.equal(await readRunLock(runDir), undefined);
  assert.equal((await readMetricEvents(runDir)).events.at(-1)?.type, 'done');
});

test('stop during the first step: cancelled at once, the step is not waited for', { timeout: 60_000 }, async () => {
  const { exit, info } = await stopIn({ stepDelayMs: 10_000 }, (c, stop) => c.on('started', () => setTimeout(stop, 300)));
  assert.equal(exit.done?.reason, 'cancelled');
  assert.equal(exit.done?.step, 0);
  assert.equal(info?.state, 'cancelled');
});

test('stop during a checkpoint write: the write completes, then stopped at that step', { timeout: 60_000 }, async () => {
  const { exit, info, runDir } = await stopIn({ saveDelayMs: 1000 }, (c, stop) => c.on('metrics', (m) => m.step === 4 && setTimeout(stop, 200)));
  assert.equal(exit.done?.reason, 'stopped');
  assert.equal(exit.done?.step, 4);
  assert.equal(info?.state, 'stopped');
  assert.equal((await loadLatestCheckpoint(runDir))?.step, 4);
});

test('resume after a kill: continues from the checkpoint, says which steps are retrained, never records a step twice; temp files cleaned', { timeout: 120_000 }, async () => {
  const runDir = tmpRunDir();
  // Killed (SIGKILL) at step 6: the checkpoint is at 4, steps 5–6 were not checkpointed.
  const first = forkTrainer({ stepDelayMs: 50 });
  first.on('metrics', (m) => m.step === 6 && first.child.kill('SIGKILL'));
  first.start({ runDir, spec: TOY_SPEC });
  await first.finished;
  const crashed = (await readRunInfo(runDir))!;
  assert.equal(crashed.state, 'running', 'run.json as the killed trainer left it');
  assert.equal(effectiveRunState(crashed), 'interrupted', 'readers see the dead pid as interrupted');
  // `convbert eval` (in this process, on the toy job) says so too.
  const out: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void out.push(t), color: createColors(false), isTTY: false, cwd: path.dirname(runDir) };
  const savedJob = process.env.CONVBERT_TRAINER_JOB_MODULE;
  process.env.CONVBERT_TRAINER_JOB_MODULE = TOY_JOB;
  try {
    assert.equal(await runCli(['eval', runDir], io), 0, out.join(''));
  } finally {
    if (savedJob === undefined) delete process.env.CONVBERT_TRAINER_JOB_MODULE;
    else process.env.CONVBERT_TRAINER_JOB_MODULE = savedJob;
  }
  assert.match(out.join(''), /^run run\s+toy interrupted, step 4 of 12$/m);
  // What an interrupted atomic write leaves behind.
  writeFileSync(`${runPaths(runDir).run}.tmp-aaaaaa`, '');
  writeFileSync(`${runPaths(runDir).metrics}.tmp-bbbbbb`, '');

  // An attempt that is killed right after it started (before any new checkpoint)...
  const aborted = forkTrainer({ stepDelayMs: 50 });
  aborted.on('started', () => aborted.child.kill('SIGKILL'));
  aborted.start({ runDir, options: { resume: true } });
  await aborted.finished;

  // ...and the resume that completes.
  const second = forkTrainer();
  const rec = record(second);
  second.start({ runDir, options: { resume: true } });
  const exit = await second.finished;
  assert.equal(exit.done?.reason, 'completed', rec.output.join('\n'));
  const started = rec.of('started')[0]!;
  assert.equal(started.step, 4);
  assert.deepEqual(started.retrained, { from: 5, to: 6 });
  assert.match(rec.of('log').map((l) => l.message).join('\n'), /resuming at step 4; steps 5–6 were not checkpointed and are retrained/);
  const steps = await recordedSteps(runDir);
  assert.deepEqual(steps.metrics, range(1, 12), 'each step once');
  assert.deepEqual(steps.started, [0, 4], 'one started per session that counts; the aborted attempt is gone');
  assert.deepEqual(readdirSync(runDir).filter((n) => n.includes('.tmp-')), []);
  assert.equal((await readRunInfo(runDir))?.state, 'completed');
});

test('resume with no checkpoint is refused by the trainer (fatal error, start over), and changes nothing', { timeout: 60_000 }, async () => {
  const runDir = tmpRunDir();
  const first = forkTrainer({ stepDelayMs: 50 });
  first.on('metrics', (m) => m.step === 2 && first.child.kill('SIGKILL'));
  first.start({ runDir, spec: TOY_SPEC });
  await first.finished;
  const before = await recordedSteps(runDir);

  const second = forkTrainer();
  const rec = record(second);
  second.start({ runDir, options: { resume: true } });
  const exit = await second.finished;
  assert.equal(exit.done?.reason, 'error');
  const error = rec.of('error')[0]!;
  assert.match(error.message, /no checkpoint yet/);
  assert.match(error.hint ?? '', /start over/);
  assert.deepEqual(rec.of('metrics'), []);
  assert.deepEqual(await recordedSteps(runDir), before);
});

test('two resumes started at the same moment: exactly one trains, the other is refused naming its pid', { timeout: 120_000 }, async () => {
  const runDir = tmpRunDir();
  const first = forkTrainer();
  first.start({ runDir, spec: TOY_SPEC, options: { steps: 4 } });
  assert.equal((await first.finished).done?.reason, 'completed');

  const a = forkTrainer({ stepDelayMs: 30 });
  const b = forkTrainer({ stepDelayMs: 30 });
  const recs = [record(a), record(b)];
  await Promise.all([a.ready, b.ready]);
  a.start({ runDir, options: { resume: true, steps: 24 } });
  b.start({ runDir, options: { resume: true, steps: 24 } });
  const exits = await Promise.all([a.finished, b.finished]);
  const reasons = exits.map((e) => e.done?.reason).sort();
  assert.deepEqual(reasons, ['completed', 'error'], recs.map((r) => r.output.join('\n')).join('\n'));
  const loser = exits.findIndex((e) => e.done?.reason === 'error');
  const winnerPid = [a, b][1 - loser]!.pid;
  assert.match(recs[loser]!.of('error')[0]!.message, new RegExp(`being trained right now by pid ${winnerPid}`));
  assert.deepEqual((await recordedSteps(runDir)).metrics, range(1, 24), 'each step once');
  assert.equal(await readRunLock(runDir), undefined);
});

test('a stale lock (dead pid) is taken over; a live one is not', async () => {
  const runDir = tmpRunDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const first = await acquireRunLock(runDir, dead);
  assert.equal((await readRunLock(runDir))?.pid, dead);
  // `dead` has exited: its lock is stale.
  const mine = await acquireRunLock(runDir, process.pid);
  assert.equal((await readRunLock(runDir))?.pid, process.pid);
  first.release(); // not the holder any more: leaves the lock alone
  assert.equal((await readRunLock(runDir))?.pid, process.pid);
  await assert.rejects(acquireRunLock(runDir, 1234567), /being trained right now by pid \d+/);
  mine.release();
  assert.equal(existsSync(runPaths(runDir).lock), false);
});

test('effectiveRunState: running/paused with a dead or missing pid read as interrupted', () => {
  const alive = (pid: number) => pid === 7;
  assert.equal(effectiveRunState({ state: 'running', pid: 7 }, alive), 'running');
  assert.equal(effectiveRunState({ state: 'paused', pid: 8 }, alive), 'interrupted');
  assert.equal(effectiveRunState({ state: 'running' }, alive), 'interrupted');
  assert.equal(effectiveRunState({ state: 'stopped', pid: 8 }, alive), 'stopped');
  assert.equal(effectiveRunState({ state: 'running', pid: 8, host: 'elsewhere-not-this-host' }, alive), 'running', 'a pid on another host cannot be checked');
});
