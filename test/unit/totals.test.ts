/**
 * run-format/totals.ts: tokens, training FLOPs and training time through each kept step, on hand-built event
 * sequences whose answers are worked out here, resumes included (no reset, no double count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainerMessage, type TrainerMessage, type TrainerMessageBody } from '../../src/protocol';
import { accumulateTotals, runTotals, type StepTotals } from '../../src/run-format/totals';

const msg = (body: TrainerMessageBody): TrainerMessage => trainerMessage(body, 1_700_000_000_000);
/** A metrics event: `tokens` and `flops` are the step's amounts, sent as rates over `stepMs` as the trainer does. */
const metrics = (step: number, stepMs: number, tokens: number, flops: number): TrainerMessage =>
  msg({ type: 'metrics', step, loss: 10 - step / 10, mlmLoss: 10 - step / 10, learningRate: 1e-3, gradNorm: 1, tokensPerSecond: (tokens * 1000) / stepMs, stepMs, flopsPerSecond: (flops * 1000) / stepMs, memoryBytes: 0 });
const started = (step: number): TrainerMessage =>
  msg({ type: 'started', runId: 'r', runDir: '/r', backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step, totalSteps: 10, resumed: step > 0 });
const evalAt = (step: number): TrainerMessage => msg({ type: 'eval', step, loss: 5, mlmAccuracy: 0.2 });
const checkpoint = (step: number): TrainerMessage => msg({ type: 'checkpoint', step, path: `checkpoints/ckpt-${step}` });

/** Totals compared to within a relative 1e-12 (the rates are divided and multiplied back). */
function assertTotals(actual: StepTotals[], expected: [step: number, tokens: number, flops: number, ms: number][]): void {
  assert.deepEqual(actual.map((t) => t.step), expected.map((e) => e[0]), 'the kept steps');
  actual.forEach((t, i) => {
    const [step, tokens, flops, ms] = expected[i]!;
    for (const [name, got, want] of [['tokens', t.tokens, tokens], ['flops', t.flops, flops], ['trainingMs', t.trainingMs, ms]] as const) {
      assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, want), `step ${step} ${name}: ${got}, expected ${want}`);
    }
  });
}

test('totals are running sums of each step\'s tokens, FLOPs (rate × step time) and step time; other events add nothing', () => {
  const events = [started(0), metrics(1, 500, 512, 2e9), metrics(2, 250, 512, 2e9), evalAt(2), checkpoint(2), metrics(3, 1000, 256, 1e9)];
  assertTotals(runTotals(events), [
    [1, 512, 2e9, 500],
    [2, 1024, 4e9, 750],
    [3, 1280, 5e9, 1750],
  ]);
});

test('a resume from a checkpoint continues the sums: no reset, and the retrained steps count once (their new times)', () => {
  // Steps 1–4, killed after 4 with the checkpoint at 2; the resume retrains 3 and 4 (slower this time) and goes on to 5.
  const events = [started(0), metrics(1, 100, 64, 1e6), metrics(2, 100, 64, 1e6), checkpoint(2), metrics(3, 100, 64, 1e6), metrics(4, 100, 64, 1e6), started(2), metrics(3, 300, 64, 1e6), metrics(4, 300, 64, 1e6), metrics(5, 300, 64, 1e6)];
  const totals = runTotals(events);
  assertTotals(totals, [
    [1, 64, 1e6, 100],
    [2, 128, 2e6, 200],
    [3, 192, 3e6, 500],
    [4, 256, 4e6, 800],
    [5, 320, 5e6, 1100],
  ]);
  // The same answer as a run that never stopped and trained the kept steps.
  const straight = runTotals([started(0), metrics(1, 100, 64, 1e6), metrics(2, 100, 64, 1e6), metrics(3, 300, 64, 1e6), metrics(4, 300, 64, 1e6), metrics(5, 300, 64, 1e6)]);
  assert.deepEqual(totals, straight);
});

test('a resume from the last step supersedes nothing; one from step 0 (no checkpoint) starts the sums again', () => {
  assertTotals(runTotals([started(0), metrics(1, 10, 8, 100), metrics(2, 10, 8, 100), started(2), metrics(3, 20, 8, 100)]), [
    [1, 8, 100, 10],
    [2, 16, 200, 20],
    [3, 24, 300, 40],
  ]);
  assertTotals(runTotals([started(0), metrics(1, 10, 8, 100), metrics(2, 10, 8, 100), started(0), metrics(1, 50, 4, 70)]), [[1, 4, 70, 50]]);
});

test('a step recorded again without a started line (old files) replaces it and everything after it', () => {
  const events = [metrics(1, 10, 8, 100), metrics(2, 10, 8, 100), metrics(3, 10, 8, 100), metrics(2, 40, 16, 300)];
  assertTotals(runTotals(events), [
    [1, 8, 100, 10],
    [2, 24, 400, 50],
  ]);
});

test('accumulateTotals returns the totals of a metrics step and nothing for other events; a job without a cost model sums 0 FLOPs', () => {
  const totals: StepTotals[] = [];
  assert.equal(accumulateTotals(totals, started(0)), undefined);
  const first = accumulateTotals(totals, metrics(1, 200, 100, 0));
  assert.deepEqual(first, { step: 1, tokens: 100, flops: 0, trainingMs: 200 });
  assert.equal(accumulateTotals(totals, evalAt(1)), undefined);
  assert.equal(totals.length, 1);
  assert.deepEqual(runTotals([]), []);
});
