/**
 * What the trainer-process tests share: a forked trainer (src/engines/tfjs/trainer/main.ts through tsx) running
 * the toy job (src/core/train/toy-job.ts), a recorder of what it says, and temporary run directories removed after
 * the file's tests.
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TrainerMessage, TrainerMessageOf } from '../../src/protocol';
import { TrainerClient } from '../../src/engines/client';
import type { ToyJobOptions } from '../../src/core/train/toy-job';

export const ROOT = path.resolve(__dirname, '../..');
export const ENTRY = path.join(ROOT, 'src/engines/tfjs/trainer/main.ts');
export const TOY_JOB = path.join(ROOT, 'src/core/train/toy-job.ts');

export function forkToyTrainer(toy: ToyJobOptions = {}, env: NodeJS.ProcessEnv = {}, cwd?: string): TrainerClient {
  return TrainerClient.fork({
    entry: ENTRY,
    execArgv: ['--import', 'tsx'],
    ...(cwd !== undefined ? { cwd } : {}),
    env: { CONVBERT_TRAINER_JOB_MODULE: TOY_JOB, CONVBERT_TOY_JOB: JSON.stringify(toy), ...env },
    helloTimeoutMs: 30_000,
  });
}

/** Everything a trainer says: its messages (with arrival times), rejected messages and output lines. */
export function record(client: TrainerClient) {
  const messages: { m: TrainerMessage; at: number }[] = [];
  const invalid: string[] = [];
  const output: string[] = [];
  client.onMessage((m) => messages.push({ m, at: Date.now() }));
  client.onInvalid((e) => invalid.push(e));
  client.onOutput((stream, line) => output.push(`${stream}: ${line}`));
  return {
    invalid,
    output,
    of: <K extends TrainerMessage['type']>(type: K) => messages.filter((r) => r.m.type === type).map((r) => r.m as TrainerMessageOf<K>),
    /** When the first message of `type` arrived (ms since the epoch). */
    at: (type: TrainerMessage['type']) => messages.find((r) => r.m.type === type)?.at,
  };
}

/** `tmpRunDir()`: a run directory path in a fresh temporary folder (`prefix…`), removed after the file's tests. */
export function tmpRunDirs(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return path.join(dir, 'run');
  };
}
