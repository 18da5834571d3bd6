import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkCorpusPaths } from '../core/data/corpus-check';
import { formatDiagnostic, validateSpecText, type Diagnostic } from '../core/validate/validate';
import type { ResolvedSpec } from '../core/spec/resolve';
import { trainingFit, type MachineFacts } from '../core/cost/fit';
import { ensureWritableDir, FsWriteError } from '../run-format/fs-errors';
import { CliError, type CliIo } from './io';

export interface LoadedSpec {
  path: string;
  text: string;
  diagnostics: Diagnostic[];
  spec?: ResolvedSpec;
}

/**
 * Reads and validates a spec file. With `machine` (`machineFacts()`), a spec over every backend's hard limit on
 * this machine is an error; `convbert cost` leaves it out, so the costs of a model too big to train still show.
 */
export function readSpecFile(cwd: string, file: string, memoryBudgetMiB?: number, machine?: MachineFacts): LoadedSpec {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory, not a spec file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  const result = validateSpecText(text, { ...(memoryBudgetMiB === undefined ? {} : { memoryBudgetMiB }), ...(machine ? { machine } : {}) });
  // Corpus paths and the vocabulary file, checked where training will look: relative to the spec's folder.
  const diagnostics = [...result.diagnostics, ...checkCorpusPaths(text, dirname(path))];
  return { path, text, diagnostics, ...(result.spec ? { spec: result.spec } : {}) };
}

/** Loads a spec that must be valid: prints its diagnostics and fails otherwise. */
export function requireValidSpec(cwd: string, file: string, report: (line: string) => void, machine?: MachineFacts): ResolvedSpec {
  const loaded = readSpecFile(cwd, file, undefined, machine);
  for (const d of loaded.diagnostics) if (d.severity !== 'info') report(formatDiagnostic(file, d));
  if (!loaded.spec) throw new CliError(`${file} has errors; fix them first (convbert validate ${file})`);
  return loaded.spec;
}

/**
 * Refuses, before any trainer is forked, a run the memory estimate says cannot fit: the estimate, the budget, the
 * backend's hard limit and what to change. With `force`, over the budget only (never past the hard limit) trains
 * anyway with a warning.
 */
export function requireFit(io: CliIo, spec: ResolvedSpec, backend: string, force: boolean | undefined, machine?: MachineFacts): void {
  const fit = trainingFit(spec, backend, undefined, machine);
  if (fit.fits) return;
  if (fit.canForce && force) {
    io.err(io.color.yellow(`warning: ${fit.message}; training anyway (--force)\n`));
    return;
  }
  const how = fit.suggestions.map((s) => `\n  - ${s}`).join('');
  const last = fit.canForce
    ? '\nor pass --force to train anyway (only the budget is exceeded)'
    : '\n--force cannot help: the backend cannot hold that much memory';
  throw new CliError(`will not train: ${fit.message}${how ? `\nto make it fit:${how}` : ''}${last}`);
}

/** Fails with the real cause (read-only file system, no permission, …) when `dir` cannot be created or written. */
export async function requireWritableDir(dir: string, hint: string): Promise<void> {
  try {
    await ensureWritableDir(dir);
  } catch (e) {
    if (e instanceof FsWriteError) throw new CliError(`${e.message}; ${hint}`);
    throw e;
  }
}
