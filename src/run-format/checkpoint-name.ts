/**
 * How checkpoint directories are named (`checkpoints/ckpt-000000100-3fa9c1`: the step, then a random suffix), the
 * checkpoints a run directory holds and the latest step among them. Node's `fs` only (no TF.js), so the extension
 * host and the CLI can ask it before they start a trainer to resume a run.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export const CHECKPOINTS_DIR = 'checkpoints';
export const CHECKPOINT_NAME = /^ckpt-(\d{9,})-[0-9a-f]{6}$/;

/** Checkpoint directories, highest step first (equal steps: by name, which is arbitrary). */
export async function listCheckpoints(runDir: string): Promise<{ name: string; step: number }[]> {
  let names: string[];
  try {
    names = await fsp.readdir(path.join(runDir, CHECKPOINTS_DIR));
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: CHECKPOINT_NAME.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ name: e.name, step: Number(e.m[1]) }))
    .sort((a, b) => b.step - a.step || (a.name < b.name ? 1 : -1));
}

/** The step of the latest checkpoint in a run directory; `undefined` when it has none. */
export async function latestCheckpointStep(runDir: string): Promise<number | undefined> {
  return (await listCheckpoints(runDir))[0]?.step;
}
