/**
 * How checkpoint directories are named (`checkpoints/ckpt-000000100-3fa9c1`: the step, then a random suffix), and
 * the latest step a run directory holds a checkpoint of. Node's `fs` only (no TF.js), so the extension host can
 * ask it before it forks a trainer to resume a run.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export const CHECKPOINTS_DIR = 'checkpoints';
export const CHECKPOINT_NAME = /^ckpt-(\d{9,})-[0-9a-f]{6}$/;

/** The step of the latest complete checkpoint in a run directory; `undefined` when it has none. */
export async function latestCheckpointStep(runDir: string): Promise<number | undefined> {
  let names: string[];
  try {
    names = await fsp.readdir(path.join(runDir, CHECKPOINTS_DIR));
  } catch {
    return undefined;
  }
  const steps = names.map((n) => CHECKPOINT_NAME.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  return steps.length > 0 ? Math.max(...steps) : undefined;
}
