/**
 * The sweep's folder (`.convbert/sweeps/<name>/`) and its `state.json`: which run directory and plan hash each run id
 * has, written atomically (a temporary file renamed over it), so a killed `convbert sweep` never leaves it torn.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isRecord } from '../../core/json';
import { writeFileAtomic } from '../../run-format/files';

export const SWEEPS_DIR = path.join('.convbert', 'sweeps');
export const SWEEP_STATE_FILE = 'state.json';

export interface SweepRunEntry {
  /** The run directory, relative to the workspace (the CLI's working directory). */
  runDir: string;
  /** The planned run's hash when it was started. */
  hash: string;
}

export interface SweepState {
  format: 'convbert-sweep';
  version: 1;
  planHash: string;
  /** The current plan's run ids, in order (`runs` also keeps the runs of earlier plans). Absent in older states. */
  plan?: string[];
  runs: Record<string, SweepRunEntry>;
}

export function sweepDir(workspace: string, name: string): string {
  return path.join(workspace, SWEEPS_DIR, name);
}

/** The state, `undefined` when there is none yet; throws a one-line Error when it is not a sweep state. */
export async function readSweepState(dir: string): Promise<SweepState | undefined> {
  const file = path.join(dir, SWEEP_STATE_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON; delete it to start the sweep's bookkeeping afresh (its runs stay in .convbert/runs)`);
  }
  if (!isRecord(raw) || raw.format !== 'convbert-sweep' || raw.version !== 1 || typeof raw.planHash !== 'string' || !isRecord(raw.runs)) {
    throw new Error(`${file} is not a convbert-sweep state (version 1)`);
  }
  const runs: Record<string, SweepRunEntry> = {};
  for (const [id, entry] of Object.entries(raw.runs)) {
    if (!isRecord(entry) || typeof entry.runDir !== 'string' || typeof entry.hash !== 'string') throw new Error(`${file}: run "${id}" has no runDir or hash`);
    runs[id] = { runDir: entry.runDir, hash: entry.hash };
  }
  const plan = Array.isArray(raw.plan) && raw.plan.every((id) => typeof id === 'string' && id in runs) ? (raw.plan as string[]) : undefined;
  return { format: 'convbert-sweep', version: 1, planHash: raw.planHash, ...(plan ? { plan } : {}), runs };
}

export async function writeSweepState(dir: string, state: SweepState): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, SWEEP_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}
