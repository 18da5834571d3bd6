/**
 * Issue #9, finding 2 (editor side): before resuming, the editor says from which checkpoint step the run continues
 * and which recorded steps are retrained; a run without a checkpoint is not resumed (it can only start over).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { latestCheckpointStep } from '../../../src/run-format/checkpoint-name';
import { noCheckpointLabel, resumeLabel, resumePlan } from '../../../src/extension/training/resume-plan';

test('stopped at step 147 with a checkpoint at 100: resume at 100, steps 101–147 retrained', () => {
  const plan = resumePlan(100, 147);
  assert.deepEqual(plan, { kind: 'resume', checkpointStep: 100, lastStep: 147, retrained: { from: 101, to: 147 } });
  assert.equal(resumeLabel(plan as typeof plan & { kind: 'resume' }), 'resuming at step 100; steps 101–147 were not checkpointed and are retrained');
});

test('a checkpoint at the last step retrains nothing; one step past it is said in the singular', () => {
  const exact = resumePlan(40, 40);
  assert.equal(exact.kind === 'resume' && exact.retrained, undefined);
  assert.equal(resumeLabel(exact as typeof exact & { kind: 'resume' }), 'resuming at step 40');
  const one = resumePlan(40, 41);
  assert.equal(resumeLabel(one as typeof one & { kind: 'resume' }), 'resuming at step 40; step 41 was not checkpointed and is retrained');
});

test('no checkpoint: not resumable, and the message says why', () => {
  const plan = resumePlan(undefined, 147);
  assert.deepEqual(plan, { kind: 'no-checkpoint', lastStep: 147 });
  assert.equal(noCheckpointLabel('e2e-tiny', plan as typeof plan & { kind: 'no-checkpoint' }), 'e2e-tiny has no checkpoint to resume from (it ended at step 147, before its first checkpoint).');
  const none = resumePlan(undefined, 0);
  assert.match(noCheckpointLabel('x', none as typeof none & { kind: 'no-checkpoint' }), /before its first step/);
});

test('the latest checkpoint step is read from the run directory (temporary and foreign entries ignored)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'convbert-resume-'));
  try {
    assert.equal(await latestCheckpointStep(dir), undefined, 'no checkpoints folder');
    mkdirSync(path.join(dir, 'checkpoints'));
    assert.equal(await latestCheckpointStep(dir), undefined, 'an empty checkpoints folder');
    for (const n of ['ckpt-000000020-abc123', 'ckpt-000000100-0f0f0f', '.tmp-ckpt-000000140-aaaaaa', 'ckpt-000000147-zzzzzz', 'latest']) mkdirSync(path.join(dir, 'checkpoints', n));
    assert.equal(await latestCheckpointStep(dir), 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
