/**
 * A run directory, `.convbert/runs/<run-id>/`, holds everything about one training run, so the extension and
 * the CLI can show a run without the process that made it:
 *
 *   spec.convbert.json   the spec as it was when the run started (a snapshot)
 *   run.json             state, backend, seed, step, versions, timestamps (replaced atomically)
 *   metrics.jsonl        one protocol message per line (metrics, eval, probes, checkpoint, warning, error, done)
 *   probes/              probe files named by step
 *   checkpoints/         see checkpoint.ts
 *   trainer.log          the trainer's log lines
 *
 * Run ids sort by creation time: `20250101-120000-123-3fa9c1` (UTC date, time, milliseconds, random suffix).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, promises as fsp, readFileSync, unlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROTOCOL_VERSION } from '../protocol';
import { exists, writeFileAtomic } from './files';
import { checkRunInfo, type RunInfo, type RunState } from './schema';

export const RUNS_DIR = path.join('.convbert', 'runs');
export const RUN_FILES = {
  spec: 'spec.convbert.json',
  run: 'run.json',
  metrics: 'metrics.jsonl',
  probes: 'probes',
  checkpoints: 'checkpoints',
  log: 'trainer.log',
  lock: 'trainer.lock',
} as const;

// run.json's shape (and its TypeScript type) is the TypeBox schema in schema.ts: schemas/run.schema.json.
export { RUN_STATES, type RunInfo, type RunState } from './schema';

/**
 * The cache (tokenizer, tokenized corpus) that runs in a runs folder share: `.convbert/cache` for a run directory
 * `.convbert/runs/<id>`; undefined elsewhere. The engine hands it to the job (`JobContext.cacheDir`).
 */
export function defaultCacheDir(runDir: string): string | undefined {
  const runs = path.dirname(runDir);
  const root = path.dirname(runs);
  return path.basename(runs) === 'runs' && path.basename(root) === '.convbert' ? path.join(root, 'cache') : undefined;
}

export function runPaths(runDir: string) {
  return {
    dir: runDir,
    spec: path.join(runDir, RUN_FILES.spec),
    run: path.join(runDir, RUN_FILES.run),
    metrics: path.join(runDir, RUN_FILES.metrics),
    probes: path.join(runDir, RUN_FILES.probes),
    checkpoints: path.join(runDir, RUN_FILES.checkpoints),
    log: path.join(runDir, RUN_FILES.log),
    lock: path.join(runDir, RUN_FILES.lock),
  };
}

const RUN_ID = /^\d{8}-\d{6}-\d{3}-[0-9a-f]{6}$/;

/** A new run id: UTC time to the millisecond, then 6 random hex digits. Lexical order is time order. */
export function newRunId(now: Date = new Date(), suffix: string = randomBytes(3).toString('hex')): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${date}-${time}-${p(now.getUTCMilliseconds(), 3)}-${suffix}`;
}

export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}

export interface InitRunOptions {
  /** The spec as text (a `*.convbert.json` file's content) or as a parsed object; written once as the snapshot. */
  spec: string | Record<string, unknown>;
  runId?: string;
  name?: string;
  seed?: number;
  specHash?: string;
  versions?: Partial<RunInfo['versions']>;
}

/**
 * Makes `runDir` a run directory (subfolders, spec snapshot, `run.json` in state `created`). An existing
 * `run.json` and snapshot are left as they are and returned.
 */
export async function initRunDir(runDir: string, options: InitRunOptions): Promise<RunInfo> {
  const paths = runPaths(runDir);
  await fsp.mkdir(paths.probes, { recursive: true });
  await fsp.mkdir(paths.checkpoints, { recursive: true });
  const existing = await readRunInfo(runDir);
  if (!(await exists(paths.spec))) {
    const text = typeof options.spec === 'string' ? options.spec : `${JSON.stringify(options.spec, null, 2)}\n`;
    await writeFileAtomic(paths.spec, text);
  }
  if (existing) return existing;
  const now = new Date().toISOString();
  const base = path.basename(path.resolve(runDir));
  const info: RunInfo = {
    format: 'convbert-run',
    formatVersion: 1,
    runId: options.runId ?? base,
    ...(options.name !== undefined ? { name: options.name } : {}),
    state: 'created',
    createdAt: now,
    updatedAt: now,
    step: 0,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.specHash !== undefined ? { specHash: options.specHash } : {}),
    versions: { protocol: PROTOCOL_VERSION, node: process.versions.node, ...options.versions },
  };
  await writeRunInfo(runDir, info);
  return info;
}

/** Creates `<workspace>/.convbert/runs/<new run id>/` and initialises it. */
export async function createRunDir(workspaceRoot: string, options: InitRunOptions): Promise<{ runId: string; dir: string; info: RunInfo }> {
  const runId = options.runId ?? newRunId();
  const dir = path.join(workspaceRoot, RUNS_DIR, runId);
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  await fsp.mkdir(dir); // fails if the id is taken
  const info = await initRunDir(dir, { ...options, runId });
  return { runId, dir, info };
}

export async function readRunInfo(runDir: string): Promise<RunInfo | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(runPaths(runDir).run, 'utf8');
  } catch {
    return undefined;
  }
  try {
    // Validated against the run format's schema (schemas/run.schema.json): anything else is not a run we can show.
    return checkRunInfo(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export async function writeRunInfo(runDir: string, info: RunInfo): Promise<void> {
  await writeFileAtomic(runPaths(runDir).run, `${JSON.stringify(info, null, 2)}\n`);
}

/** Reads `run.json`, applies `patch` (stamping `updatedAt`), writes it back atomically. */
export async function updateRunInfo(runDir: string, patch: Partial<RunInfo>): Promise<RunInfo> {
  const current = await readRunInfo(runDir);
  if (!current) throw new Error(`${runPaths(runDir).run} is missing or unreadable`);
  const next: RunInfo = { ...current, ...patch, updatedAt: new Date().toISOString() };
  await writeRunInfo(runDir, next);
  return next;
}

/** The runs of a workspace, newest first; directories without a readable `run.json` have `info: undefined`. */
export async function listRuns(workspaceRoot: string): Promise<{ runId: string; dir: string; info: RunInfo | undefined }[]> {
  const root = path.join(workspaceRoot, RUNS_DIR);
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const runs = await Promise.all(
    names
      .filter((n) => !n.startsWith('.'))
      .sort()
      .reverse()
      .map(async (runId) => ({ runId, dir: path.join(root, runId), info: await readRunInfo(path.join(root, runId)) })),
  );
  return runs;
}

/** Appends a line to `trainer.log` (synchronously, so lines keep their order and survive a crash right after). */
export function appendLog(runDir: string, level: string, message: string, time: Date = new Date()): void {
  const lines = message.split('\n').map((l) => `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${l}`);
  appendFileSync(runPaths(runDir).log, `${lines.join('\n')}\n`);
}

/** Whether process `pid` exists on this machine (EPERM: it exists, owned by someone else). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A run's state as readers should show it: `interrupted` when the process that was training it is gone. */
export type EffectiveRunState = RunState | 'interrupted';

/**
 * The state to show for a run: `run.json`'s, except that a run recorded as `running` or `paused` whose trainer
 * process is gone (killed, crashed, machine rebooted, disk full while finishing) is `interrupted`. A run without a
 * pid in those states is interrupted too; a pid recorded on another host cannot be checked and is trusted.
 * Every reader (CLI `eval`, `train --resume`, the editor's run registry) uses this, so they agree.
 */
export function effectiveRunState(info: Pick<RunInfo, 'state' | 'pid' | 'host'>, isAlive: (pid: number) => boolean = isPidAlive): EffectiveRunState {
  if (info.state !== 'running' && info.state !== 'paused') return info.state;
  if (info.pid === undefined) return 'interrupted';
  if (info.host !== undefined && info.host !== os.hostname()) return info.state;
  return isAlive(info.pid) ? info.state : 'interrupted';
}

/** Who holds a run's lock (`trainer.lock`). */
export interface RunLockHolder {
  pid: number;
  host: string;
  time: string;
}

/** The run is being trained by another live process. */
export class RunLockedError extends Error {
  constructor(
    readonly runDir: string,
    readonly holder: RunLockHolder,
  ) {
    super(`run ${path.basename(runDir)} is being trained right now by pid ${holder.pid}${holder.host !== os.hostname() ? ` on ${holder.host}` : ''} (since ${holder.time})`);
    this.name = 'RunLockedError';
  }
}

export async function readRunLock(runDir: string): Promise<RunLockHolder | undefined> {
  try {
    const raw = JSON.parse(await fsp.readFile(runPaths(runDir).lock, 'utf8')) as Partial<RunLockHolder>;
    if (typeof raw.pid === 'number' && typeof raw.host === 'string') return { pid: raw.pid, host: raw.host, time: String(raw.time ?? '') };
  } catch {
    // missing, or being written
  }
  return undefined;
}

/** Whether a lock holder is (as far as this machine can tell) still alive. */
function holderAlive(holder: RunLockHolder, isAlive: (pid: number) => boolean): boolean {
  return holder.host !== os.hostname() || isAlive(holder.pid);
}

/**
 * Takes the run's lock: `trainer.lock` created exclusively (`wx`), holding pid, host and time, so of two trainers
 * started at the same moment exactly one gets it. A lock left by a dead process (same host) is taken over; a live
 * holder makes this throw `RunLockedError`. `release()` (idempotent, synchronous, so it works in an exit handler)
 * removes the lock if it is still ours.
 */
export async function acquireRunLock(runDir: string, pid: number = process.pid, isAlive: (pid: number) => boolean = isPidAlive): Promise<{ release: () => void }> {
  const file = runPaths(runDir).lock;
  await fsp.mkdir(runDir, { recursive: true });
  const mine: RunLockHolder = { pid, host: os.hostname(), time: new Date().toISOString() };
  const text = JSON.stringify(mine);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // The content goes in with the exclusive create: a racer never reads a lock without a holder for long.
      await fsp.writeFile(file, text, { flag: 'wx' });
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          try {
            const now = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunLockHolder>;
            if (now.pid === pid && now.host === mine.host) unlinkSync(file);
          } catch {
            // gone already
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readRunLock(runDir);
    if (!holder) {
      // Just created by a racer and not yet written, or torn by a crash: wait a moment, then judge by its age.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await readRunLock(runDir);
      if (again && holderAlive(again, isAlive)) throw new RunLockedError(runDir, again);
      const stat = await fsp.stat(file).catch(() => undefined);
      if (!again && stat && Date.now() - stat.mtimeMs < 2000) throw new RunLockedError(runDir, { pid: 0, host: os.hostname(), time: stat.mtime.toISOString() });
    } else if (holderAlive(holder, isAlive) && !(holder.pid === pid && holder.host === mine.host)) {
      throw new RunLockedError(runDir, holder);
    }
    // Stale (its process is gone): take it over.
    await fsp.rm(file, { force: true });
  }
  const holder = await readRunLock(runDir);
  throw new RunLockedError(runDir, holder ?? { pid: 0, host: os.hostname(), time: '' });
}

/**
 * Removes what interrupted atomic writes left in the run directory (`run.json.tmp-…`, `metrics.jsonl.tmp-…`,
 * `spec.convbert.json.tmp-…`). Call only while holding the run's lock. Returns the names removed.
 */
export async function removeTempFiles(runDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(runDir);
  } catch {
    return [];
  }
  const prefixes = [RUN_FILES.run, RUN_FILES.metrics, RUN_FILES.spec].map((f) => `${f}.tmp-`);
  const stale = names.filter((n) => prefixes.some((p) => n.startsWith(p)));
  await Promise.all(stale.map((n) => fsp.rm(path.join(runDir, n), { force: true })));
  return stale;
}

/**
 * Records that the trainer `pid` was ended while cancelling (a stop before the first step, in set-up work that
 * could not be interrupted): `run.json` becomes `cancelled` if that process still owned it, a `done` event closes
 * the session in metrics.jsonl, and its lock is removed. Never throws.
 */
export async function markRunCancelled(runDir: string, pid: number): Promise<void> {
  try {
    const info = await readRunInfo(runDir);
    if (info && (info.state === 'created' || ((info.state === 'running' || info.state === 'paused') && (info.pid === undefined || info.pid === pid)))) {
      await updateRunInfo(runDir, { state: 'cancelled', endedAt: new Date().toISOString(), message: 'cancelled before the first step; the trainer was ended' });
      const done = { v: PROTOCOL_VERSION, type: 'done', reason: 'cancelled', step: info.step, summary: { message: 'cancelled before the first step' }, time: Date.now() };
      appendFileSync(runPaths(runDir).metrics, `${JSON.stringify(done)}\n`);
    }
    const holder = await readRunLock(runDir);
    if (holder && holder.pid === pid && holder.host === os.hostname()) await fsp.rm(runPaths(runDir).lock, { force: true });
  } catch {
    // best effort: readers see a dead pid as interrupted anyway
  }
}
