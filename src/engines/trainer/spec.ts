/**
 * The spec a `start` message names: a file to read (`specPath`), a parsed spec sent by the host (`spec`), or, on
 * resume with neither, the run directory's snapshot. Validated with `core/spec`'s `validateSpecText` (syntax,
 * schema, semantics); any error stops the start with the first errors as `file:line:col` messages.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { StartMessage } from '../../protocol';
import type { ResolvedSpec } from '../../core/spec/resolve';
import type { SpecFile } from '../../core/spec/schema';
import { formatDiagnostic, validateSpecText } from '../../core/validate/validate';
import { runPaths } from '../../run-format/run-dir';
import { TrainerError } from './errors';

export interface StartSpec {
  file: SpecFile;
  resolved: ResolvedSpec;
  /** What `spec.convbert.json` in the run directory gets. */
  snapshot: string;
  /** Where it came from, for messages. */
  origin: string;
}

const ERRORS_SHOWN = 3;

export function specFromText(text: string, origin: string): StartSpec {
  const result = validateSpecText(text);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || !result.spec || !result.file) {
    const shown = errors.slice(0, ERRORS_SHOWN).map((d) => formatDiagnostic(origin, d));
    if (errors.length > ERRORS_SHOWN) shown.push(`…and ${errors.length - ERRORS_SHOWN} more`);
    throw new TrainerError(shown.length > 0 ? shown.join('\n') : `${origin}: not a valid spec`, 'fix the spec (`convbert validate` lists every problem)');
  }
  return { file: result.file, resolved: result.spec, snapshot: text, origin };
}

export function specFromObject(raw: Record<string, unknown>, origin: string): StartSpec {
  return specFromText(`${JSON.stringify(raw, null, 2)}\n`, origin);
}

export async function loadStartSpec(start: StartMessage, runDir: string): Promise<StartSpec> {
  if (start.spec !== undefined) return specFromObject(start.spec, 'spec (sent with start)');
  const file = start.specPath !== undefined ? path.resolve(start.specPath) : runPaths(runDir).spec;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (start.specPath === undefined) {
      throw new TrainerError(`cannot resume: ${file} is missing (${code ?? String(e)})`, 'give `specPath` or `spec` with `start`, or pick a run directory made by ConvBERT Studio');
    }
    throw new TrainerError(`cannot read the spec ${file} (${code ?? String(e)})`, 'check the path');
  }
  return specFromText(text, file);
}
