/**
 * The training loop in process (`InProcessTrainer`), on the real linear-regression job: message order, eval
 * and checkpoint intervals, the schedule, pause/resume, a diverging job, flopBudget, and refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TrainerMessage, TrainerMessageOf } from '../../src/protocol';
import { createToyJob } from '../../src/core/train/toy-job';
import { learningRateAt } from '../../src/core/train/schedule';
import { listCheckpoints } from '../../src/run-format/checkpoint-name';
import { readMetricEvents } from '../../src/run-format/metrics';
import { readRunInfo } from '../../src/run-format/run-dir';
import { resolveSpec } from '../../src/core/spec/resolve';
import type { SpecFile } from '../../src/core/spec/schema';
import type { JobFactory } from '../../src/core/train/job';
import { InProcessTrainer } from '../../src/engines/trainer/in-process';
import type { TrainerDeps } from '../../src/engines/trainer/loop';
import { tfjsTrainerDeps } from '../../src/engines/tfjs/trainer/deps';

before(async () => {
  await tf.setBackend('cpu');
});

const TOY_SPEC = {
  version: 1,
  name: 'toy',
  extends: 'bert-tiny',
  training: {
    steps: 12,
    seed: 7,
    optimizer: { type: 'adamw', biasCorrection: true },
    learningRate: { peak: 0.3, final: 0.001, warmupSteps: 3, decay: 'linear' },
    weightDecay: 0.01,
    gradientClipNorm: 1,
    evalInterval: 4,
    checkpointInterval: 5,
    backend: 'cpu',
  },
} satisfies SpecFile;

const cpuOnly: TrainerDeps['loadBackend'] = async (requested) => {
  await tf.setBackend('cpu');
  return { requested, name: 'cpu', skipped: [] };
};

function deps(createJob: JobFactory = (ctx) => createToyJob(ctx)): TrainerDeps {
  return { createJob, loadBackend: cpuOnly };
}

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tmpRunDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-loop-'));
  made.push(dir);
  return path.join(dir, 'run');
}

/** Starts a trainer, records every message, and resolves when it is finished. */
async function runToEnd(trainer: InProcessTrainer, start: Parameters<InProcessTrainer['start']>[0], onMessage?: (m: TrainerMessage, t: InProcessTrainer) => void) {
  const messages: TrainerMessage[] = [];
  const invalid: string[] = [];
  trainer.onMessage((m) => {
    messages.push(m);
    onMessage?.(m, trainer);
  });
  trainer.onInvalid((e) => invalid.push(e));
  trainer.start(start);
  const exit = await trainer.finished;
  assert.deepEqual(invalid, [], 'every message the trainer sent validates');
  return { messages, exit, of: <K extends TrainerMessage['type']>(type: K) => messages.filter((m): m is TrainerMessageOf<K> => m.type === type) };
}

test('a full run: hello, started, metrics and progress every step, eval/probes/checkpoints at their intervals, done', async () => {
  const runDir = tmpRunDir();
  const { messages, exit, of } = await runToEnd(new InProcessTrainer(deps()), { runDir, spec: TOY_SPEC });
  assert.equal(exit.done?.reason, 'completed');
  assert.equal(exit.done?.step, 12);
  assert.equal(messages[0]!.type, 'hello');
  assert.equal(messages.filter((m) => m.type !== 'log')[1]!.type, 'started');
  assert.equal(messages.at(-1)!.type, 'done');
  const metrics = of('metrics');
  assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const schedule = resolveSpec(TOY_SPEC).training.learningRate;
  metrics.forEach((m, i) => assert.equal(m.learningRate, learningRateAt(i, schedule, 12), `lr of step ${m.step}`));
  const evals = of('eval');
  assert.ok(evals.at(-1)!.loss < evals[0]!.loss / 2, `the validation loss falls: ${evals.map((e) => e.loss.toFixed(3)).join(' ')}`);
  assert.deepEqual(of('progress').map((p) => p.step), metrics.map((m) => m.step));
  assert.equal(of('progress').at(-1)!.tokensSeen, 12 * 16);
  assert.deepEqual(of('eval').map((e) => e.step), [4, 8, 12]);
  assert.deepEqual(of('probes').map((p) => p.path), ['probes/step-000000004.json', 'probes/step-000000008.json', 'probes/step-000000012.json']);
  assert.deepEqual(of('checkpoint').map((c) => c.step), [5, 10, 12]);
  assert.deepEqual((await listCheckpoints(runDir)).map((c) => c.step), [12, 10]);

  const info = await readRunInfo(runDir);
  assert.equal(info?.state, 'completed');
  assert.equal(info?.step, 12);
  assert.equal(info?.backend?.name, 'cpu');
  const probe = JSON.parse(await fsp.readFile(path.join(runDir, 'probes/step-000000008.json'), 'utf8')) as { summary: { kernelNorm: number } };
  assert.ok(probe.summary.kernelNorm > 0);
  const history = await readMetricEvents(runDir);
  assert.deepEqual(history.invalid, []);
  assert.deepEqual(history.events.filter((e) => e.type === 'metrics').length, 12);
  assert.equal(history.events.at(-1)!.type, 'done');
  assert.match(await fsp.readFile(path.join(runDir, 'trainer.log'), 'utf8'), /linear regression 8→2/);
  assert.deepEqual(JSON.parse(await fsp.readFile(path.join(runDir, 'spec.convbert.json'), 'utf8')), TOY_SPEC);
});

test('stop then resume continues the same trajectory (in process)', async () => {
  const reference = (await runToEnd(new InProcessTrainer(deps()), { runDir: tmpRunDir(), spec: TOY_SPEC })).of('metrics');
  const runDir = tmpRunDir();
  const first = await runToEnd(new InProcessTrainer(deps()), { runDir, spec: TOY_SPEC }, (m, t) => {
    if (m.type === 'metrics' && m.step === 3) void t.stop();
  });
  assert.equal(first.exit.done?.reason, 'stopped');
  const stoppedAt = first.exit.done!.step;
  assert.ok(stoppedAt >= 3 && stoppedAt <= 4, `stopped within a step: ${stoppedAt}`);
  assert.equal(first.of('checkpoint').at(-1)?.step, stoppedAt, 'a checkpoint at the stop');
  const second = await runToEnd(new InProcessTrainer(deps()), { runDir, options: { resume: true } });
  const started = second.of('started')[0]!;
  assert.equal(started.resumed, true);
  assert.equal(started.step, stoppedAt);
  const resumed = second.of('metrics');
  assert.deepEqual(resumed.map((m) => m.step), reference.slice(stoppedAt).map((m) => m.step));
  resumed.forEach((m, i) => {
    const want = reference[stoppedAt + i]!;
    assert.equal(m.loss, want.loss, `loss at step ${m.step}`);
    assert.equal(m.gradNorm, want.gradNorm, `grad norm at step ${m.step}`);
  });
  assert.equal(second.of('progress').at(-1)!.tokensSeen, 12 * 16, 'tokens are counted across sessions');
});

test('pause holds between steps until resume; pause and resume answer with state messages', async () => {
  const seen: TrainerMessage[] = [];
  let pausedAt = 0;
  const { of, exit } = await runToEnd(new InProcessTrainer(deps()), { runDir: tmpRunDir(), spec: TOY_SPEC }, (m, t) => {
    seen.push(m);
    if (m.type === 'metrics' && m.step === 2) t.pause();
    if (m.type === 'state' && m.state === 'paused') {
      pausedAt = seen.length;
      setTimeout(() => t.resume(), 150);
    }
  });
  const messages = seen;
  assert.equal(exit.done?.reason, 'completed');
  const states = of('state');
  assert.deepEqual(states.map((s) => s.state), ['paused', 'running']);
  assert.ok(states[0]!.step <= 3);
  assert.equal(messages[pausedAt]!.type, 'state', 'nothing happened while paused');
  assert.equal((messages[pausedAt] as TrainerMessageOf<'state'>).state, 'running');
});

test('a diverging job ends with done nonfinite, a warning, and no checkpoint of the broken state', async () => {
  const diverging: JobFactory = (ctx) => {
    const job = createToyJob(ctx);
    return { ...job, step: async (input) => ({ ...(await job.step(input)), ...(input.step === 6 ? { loss: NaN } : {}) }) };
  };
  const runDir = tmpRunDir();
  const { of, exit } = await runToEnd(new InProcessTrainer(deps(diverging)), { runDir, spec: TOY_SPEC });
  assert.equal(exit.done?.reason, 'nonfinite');
  assert.equal(exit.done?.step, 6);
  assert.match(String(exit.done?.summary.message), /loss is NaN at step 7/);
  assert.match(of('warning')[0]!.message, /diverged/);
  assert.deepEqual(of('checkpoint').map((c) => c.step), [5]);
  assert.equal((await readRunInfo(runDir))?.state, 'nonfinite');
});

test('flopBudget sets the number of steps from the job’s FLOPs per step; options.steps overrides both', async () => {
  const perStep = 3 * 2 * 16 * 8 * 2;
  const spec = { ...TOY_SPEC, training: { ...TOY_SPEC.training, flopBudget: perStep * 3 } };
  const budget = await runToEnd(new InProcessTrainer(deps()), { runDir: tmpRunDir(), spec });
  assert.equal(budget.exit.done?.step, 3);
  const steps = await runToEnd(new InProcessTrainer(deps()), { runDir: tmpRunDir(), spec, options: { steps: 2 } });
  assert.equal(steps.exit.done?.step, 2);
});

test('refusals: a second start, a changed spec on resume, an invalid spec, a run directory in use, an unknown backend', async () => {
  const runDir = tmpRunDir();
  const first = await runToEnd(new InProcessTrainer(deps()), { runDir, spec: TOY_SPEC, options: { steps: 2 } }, (m, t) => {
    if (m.type === 'started') t.sendRaw({ v: 1, type: 'start', runDir, spec: TOY_SPEC });
  });
  assert.match(first.of('error')[0]!.message, /already running a job/);
  assert.equal(first.of('error')[0]!.fatal, false);
  assert.equal(first.exit.done?.reason, 'completed');

  const changed = { ...TOY_SPEC, training: { ...TOY_SPEC.training, seed: 8 } };
  const resumeChanged = await runToEnd(new InProcessTrainer(deps()), { runDir, spec: changed, options: { resume: true } });
  assert.equal(resumeChanged.exit.done?.reason, 'error');
  assert.match(resumeChanged.of('error')[0]!.message, /spec differs/);
  assert.ok(resumeChanged.of('error')[0]!.hint);

  const again = await runToEnd(new InProcessTrainer(deps()), { runDir, spec: TOY_SPEC });
  assert.match(again.of('error')[0]!.message, /already holds a run/);

  const invalid = await runToEnd(new InProcessTrainer(deps()), { runDir: tmpRunDir(), spec: { version: 1, training: { steps: -3 } } });
  assert.equal(invalid.exit.done?.reason, 'error');
  assert.match(invalid.of('error')[0]!.message, /training\.steps/);

  const realBackends: TrainerDeps = tfjsTrainerDeps({ createJob: (ctx) => createToyJob(ctx) });
  const unknown = await runToEnd(new InProcessTrainer(realBackends), { runDir: tmpRunDir(), spec: TOY_SPEC, options: { backend: 'tpu' } });
  assert.match(unknown.of('error')[0]!.message, /unknown backend "tpu"/);
});

test('stop before start ends at once; malformed messages get a non-fatal error', async () => {
  const trainer = new InProcessTrainer(deps());
  const errors: string[] = [];
  trainer.on('error', (e) => errors.push(e.message));
  await trainer.ready;
  trainer.sendRaw({ v: 1, type: 'stop', please: true });
  trainer.sendRaw('stop');
  trainer.sendRaw({ v: 2, type: 'stop' });
  trainer.resume();
  const exit = await trainer.stop(5000);
  assert.equal(exit.done?.reason, 'stopped');
  assert.equal(errors.length, 4);
  assert.match(errors[0]!, /rejected a message from the host/);
  assert.match(errors[2]!, /version 2/);
  assert.match(errors[3]!, /not paused/);
});
