/**
 * What `convbert sweep` does with each planned run, from what is on disk: its run.json, its checkpoints, and the
 * sweep's state.json. A completed run is skipped; one with a checkpoint that is not completed (killed, stopped,
 * interrupted) is resumed; one with a directory but no checkpoint is started over in place; a run whose plan hash
 * changed since it was started is refused.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { effectiveRunState, isPidAlive, readRunInfo, readRunLock, RUNS_DIR, type EffectiveRunState, type RunInfo } from '../../run-format/run-dir';
import { listCheckpoints } from '../../run-format/checkpoint-name';
import { readSweepState, sweepDir, type SweepRunEntry, type SweepState } from './state';
import type { RunnablePlannedRun, RunnableSweepPlan } from './types';

export type RunAction =
  | { kind: 'start' }
  | { kind: 'restart'; state: EffectiveRunState }
  | { kind: 'resume'; fromStep: number; state: EffectiveRunState }
  | { kind: 'skip'; step: number }
  /** A trainer still holds the run (e.g. one stopping after its sweep was killed): wait for it, then look again. */
  | { kind: 'busy'; pid: number };

export interface RunOnDisk {
  info: RunInfo | undefined;
  /** The newest checkpoint's step. */
  checkpointStep: number | undefined;
  /** A live trainer holding the run's lock (or run.json's pid, running). */
  livePid: number | undefined;
}

/** The decision from the facts (pure). */
export function decideRun(run: Pick<RunnablePlannedRun, 'steps'>, disk: RunOnDisk): RunAction {
  const { info, checkpointStep } = disk;
  if (disk.livePid !== undefined) return { kind: 'busy', pid: disk.livePid };
  if (!info) return checkpointStep === undefined ? { kind: 'start' } : { kind: 'resume', fromStep: checkpointStep, state: 'interrupted' };
  const state = effectiveRunState(info);
  if (info.state === 'completed' && info.step >= (info.totalSteps ?? run.steps)) return { kind: 'skip', step: info.step };
  if (checkpointStep !== undefined) return { kind: 'resume', fromStep: checkpointStep, state };
  return { kind: 'restart', state };
}

/** `.convbert/runs/<id>` of the workspace. */
export function plannedRunDir(workspace: string, id: string): string {
  return path.join(workspace, RUNS_DIR, id);
}

export async function readRunOnDisk(runDir: string): Promise<RunOnDisk> {
  const info = await readRunInfo(runDir).catch(() => undefined);
  const checkpointStep = (await listCheckpoints(runDir).catch(() => []))[0]?.step;
  const lock = await readRunLock(runDir).catch(() => undefined);
  let livePid: number | undefined = lock && lock.host === os.hostname() && isPidAlive(lock.pid) ? lock.pid : undefined;
  if (livePid === undefined && info && info.pid !== undefined && (info.state === 'running' || info.state === 'paused') && effectiveRunState(info) !== 'interrupted') livePid = info.pid;
  return { info, checkpointStep, livePid };
}

/** A run the sweep refuses to go on with, and why (one line). */
export interface RunRefusal {
  id: string;
  message: string;
}

/**
 * Runs whose hash in state.json differs from the plan's (their spec, budget or shared settings changed since they
 * were started) and whose run directory is still there (`hasRunDir`; a deleted one is trained afresh): each as one
 * line saying what to do. Empty when every run may go on.
 */
export function changedRuns(state: SweepState | undefined, runs: readonly Pick<RunnablePlannedRun, 'id' | 'hash'>[], hasRunDir: (entry: SweepRunEntry) => boolean): RunRefusal[] {
  if (!state) return [];
  const out: RunRefusal[] = [];
  for (const run of runs) {
    const entry = state.runs[run.id];
    if (entry && entry.hash !== run.hash && hasRunDir(entry)) {
      out.push({ id: run.id, message: `run ${run.id} was started from other inputs (its spec, budget or shared settings changed since); rename the sweep (a new "name") or delete ${entry.runDir} to train it afresh` });
    }
  }
  return out;
}

/** The refusals of a sweep in `workspace` (see `changedRuns`); throws a one-line Error for an unreadable state. */
export async function sweepRefusals(workspace: string, plan: Pick<RunnableSweepPlan, 'name' | 'runs'>): Promise<RunRefusal[]> {
  const state = await readSweepState(sweepDir(workspace, plan.name));
  return changedRuns(state, plan.runs, (entry) => existsSync(path.join(path.resolve(workspace, entry.runDir), 'run.json')));
}
