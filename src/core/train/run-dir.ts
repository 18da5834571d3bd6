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
import { appendFileSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PROTOCOL_VERSION } from '../../protocol';

export const RUNS_DIR = path.join('.convbert', 'runs');
export const RUN_FILES = {
  spec: 'spec.convbert.json',
  run: 'run.json',
  metrics: 'metrics.jsonl',
  probes: 'probes',
  checkpoints: 'checkpoints',
  log: 'trainer.log',
} as const;

export type RunState = 'created' | 'running' | 'paused' | 'stopped' | 'completed' | 'nonfinite' | 'error';

export interface RunInfo {
  format: 'convbert-run';
  formatVersion: 1;
  runId: string;
  name?: string;
  state: RunState;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  endedAt?: string;
  seed?: number;
  backend?: { requested: string; name: string };
  step: number;
  totalSteps?: number;
  specHash?: string;
  versions: { protocol: number; node: string; app?: string; tfjs?: string };
  /** The trainer process while it runs (a `running` state with a dead pid means it crashed). */
  pid?: number;
  /** Relative to the run directory. */
  lastCheckpoint?: string;
  /** Why it ended, when it ended badly. */
  message?: string;
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

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(3).toString('hex')}`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
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

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

export async function readRunInfo(runDir: string): Promise<RunInfo | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(runPaths(runDir).run, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const raw = JSON.parse(text) as Partial<RunInfo>;
    if (raw?.format !== 'convbert-run' || typeof raw.runId !== 'string' || typeof raw.state !== 'string') return undefined;
    return raw as RunInfo;
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
