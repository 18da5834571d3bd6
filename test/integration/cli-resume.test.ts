/**
 * `convbert train --resume` refusals that need no trainer (issue #9): a run with no checkpoint yet says to start
 * over with its spec; a run whose trainer is alive is refused; one whose trainer died reads as interrupted. And
 * `convbert train --help` documents the exit codes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TRAIN_EXIT_CODES } from '../../src/cli/train-command';
import { initRunDir, updateRunInfo } from '../../src/run-format/run-dir';
import { cli } from '../cli-harness';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});


/** A run directory as a trainer leaves it when it dies before its first checkpoint (`pid`: the trainer). */
async function runWithoutCheckpoint(pid: number): Promise<string> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'convbert-cli-resume-'));
  made.push(cwd);
  const dir = path.join(cwd, 'run');
  await initRunDir(dir, { spec: { version: 1, name: 'toy', extends: 'bert-tiny' } });
  await updateRunInfo(dir, { state: 'running', pid, step: 2 });
  return cwd;
}

test('--resume of a run with no checkpoint is refused: start over with its spec', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const cwd = await runWithoutCheckpoint(dead);
  const r = await cli(cwd, 'train', '--resume', 'run');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^convbert: run run has no checkpoint yet — start over with `convbert train run\/spec\.convbert\.json` \(it was interrupted before its first checkpoint: nothing to resume\)\n$/);
});

test('--resume of a run whose trainer is alive is refused', async () => {
  const cwd = await runWithoutCheckpoint(process.pid);
  const r = await cli(cwd, 'train', '--resume', 'run');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`being trained right now \\(trainer process ${process.pid}\\)`));
});

test('train --help lists the exit codes', async () => {
  const r = await cli(os.tmpdir(), 'train', '--help');
  for (const [what, code] of Object.entries(TRAIN_EXIT_CODES)) assert.match(r.stdout, new RegExp(`\\b${code} ${what === 'usage' ? 'usage error' : what}`), what);
  assert.notEqual(TRAIN_EXIT_CODES.stopped, TRAIN_EXIT_CODES.completed);
});
