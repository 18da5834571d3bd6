/** What Run Sweep launches, without `vscode`: the bundled CLI on a Node runtime (unit-tested). */
import * as path from 'node:path';

export const SWEEP_TASK_TYPE = 'convbert-sweep';
export const SWEEP_FILE_SUFFIX = '.sweep.json';

export function isSweepPath(p: string): boolean {
  return p.endsWith(SWEEP_FILE_SUFFIX);
}

/**
 * The command line of a sweep: `convbert.trainer.nodePath` when set, else the editor's own runtime made a plain Node
 * (`ELECTRON_RUN_AS_NODE=1`), running `dist/cli.js sweep <file>`.
 */
export function sweepCommandLine(options: { extensionPath: string; sweepFile: string; nodePath?: string; execPath: string; extraArgs?: string[] }): { command: string; args: string[]; env: Record<string, string> } {
  const cli = path.join(options.extensionPath, 'dist', 'cli.js');
  const args = [cli, 'sweep', options.sweepFile, ...(options.extraArgs ?? [])];
  if (options.nodePath) return { command: options.nodePath, args, env: {} };
  return { command: options.execPath, args, env: { ELECTRON_RUN_AS_NODE: '1' } };
}
