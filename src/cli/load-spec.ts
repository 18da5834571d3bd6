import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatDiagnostic, validateSpecText, type Diagnostic } from '../core/spec/validate';
import type { ResolvedSpec } from '../core/spec/resolve';
import { CliError } from './io';

export interface LoadedSpec {
  path: string;
  text: string;
  diagnostics: Diagnostic[];
  spec?: ResolvedSpec;
}

export function readSpecFile(cwd: string, file: string, memoryBudgetMiB?: number): LoadedSpec {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory, not a spec file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  const result = validateSpecText(text, memoryBudgetMiB === undefined ? {} : { memoryBudgetMiB });
  return { path, text, diagnostics: result.diagnostics, ...(result.spec ? { spec: result.spec } : {}) };
}

/** Loads a spec that must be valid: prints its diagnostics and fails otherwise. */
export function requireValidSpec(cwd: string, file: string, report: (line: string) => void): ResolvedSpec {
  const loaded = readSpecFile(cwd, file);
  for (const d of loaded.diagnostics) if (d.severity !== 'info') report(formatDiagnostic(file, d));
  if (!loaded.spec) throw new CliError(`${file} has errors; fix them first (convbert validate ${file})`);
  return loaded.spec;
}
