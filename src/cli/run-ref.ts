/**
 * How the CLI names a run: a run id (`20250101-120000-123-3fa9c1`, looked up in `<cwd>/.convbert/runs/`), a run
 * directory (any path holding a `run.json`), or `latest` (the newest run under the current directory). And how it
 * shows one back: by id when it lives in `.convbert/runs/` of the current directory, by path otherwise.
 */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { RUNS_DIR, listRuns, runPaths } from '../run-format/run-dir';
import { CliError } from './io';

export interface RunRef {
  /** Absolute run directory. */
  dir: string;
  /** What to type to name this run again (`convbert eval <ref>`). */
  ref: string;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** What to type to name `dir` from `cwd`: its id when it is in `<cwd>/.convbert/runs/`, else a (relative) path. */
export function runRefFor(cwd: string, dir: string): string {
  const abs = path.resolve(cwd, dir);
  if (path.dirname(abs) === path.resolve(cwd, RUNS_DIR)) return path.basename(abs);
  return displayPath(cwd, abs);
}

/** `abs` relative to `cwd` when it is inside it, else absolute. */
export function displayPath(cwd: string, abs: string): string {
  const rel = path.relative(cwd, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** Finds an existing run. Throws a `CliError` that says where it looked. */
export async function resolveRunRef(cwd: string, ref: string): Promise<RunRef> {
  if (ref === 'latest') {
    const newest = (await listRuns(cwd)).find((r) => r.info !== undefined);
    if (!newest) throw new CliError(`no runs in ${path.join(cwd, RUNS_DIR)}; start one with \`convbert train <spec>\``);
    return { dir: newest.dir, ref: newest.runId };
  }
  const candidates = [path.resolve(cwd, ref), path.resolve(cwd, RUNS_DIR, ref)];
  for (const dir of candidates) {
    if (isDir(dir) && existsSync(runPaths(dir).run)) return { dir, ref: runRefFor(cwd, dir) };
  }
  const asDir = candidates.find(isDir);
  if (asDir) throw new CliError(`${ref}: not a run directory (it has no ${path.basename(runPaths(asDir).run)})`);
  throw new CliError(`no run "${ref}": give a run id from ${RUNS_DIR} (\`ls ${RUNS_DIR}\`), a run directory, or \`latest\``);
}
