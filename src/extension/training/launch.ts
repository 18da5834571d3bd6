/**
 * How the host starts a trainer process: which entry, which Node, which environment. Pure (tested without VS
 * Code). The extension never trains in its own process and never loads TF.js: it forks `dist/trainer.js`.
 *
 * - With `convbert.trainer.nodePath` empty, the trainer runs on the extension host's own runtime
 *   (`process.execPath`); in the desktop app that is Electron, so `ELECTRON_RUN_AS_NODE=1` makes it a plain Node.
 * - With a path, that Node runs the trainer: e.g. a system Node that can load `@tensorflow/tfjs-node-gpu`.
 * - `NODE_PATH` starts with the workspace folder's `node_modules`, so optional backends installed in the
 *   workspace (`npm i @tensorflow/tfjs-node-gpu`) are found by the trainer's backend chooser.
 * - The masked-LM job learns the spec's folder (relative corpus paths and `vocabFile` resolve there) through
 *   `CONVBERT_MLM_JOB`, as the CLI tells it.
 */
import * as path from 'node:path';
import { mlmJobEnv } from '../../engines/tfjs/entry';
import type { StartOptions } from '../../protocol';
import type { TrainerClientOptions } from '../../engines/client';
import { expandPath, type Settings } from '../config';

export interface LaunchContext {
  extensionPath: string;
  settings: Settings;
  /** The workspace folder the spec is in (or its own folder). */
  workspaceFolder: string | undefined;
  /** The trainer's working directory and the masked-LM job's `specDir` (the spec's folder: relative corpus paths resolve there). */
  cwd: string;
  /** The host's environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

export function trainerEntry(extensionPath: string): string {
  return path.join(extensionPath, 'dist', 'trainer.js');
}

export function launchOptions(ctx: LaunchContext): TrainerClientOptions {
  const hostEnv = ctx.env ?? process.env;
  const env: NodeJS.ProcessEnv = {};
  const nodePaths = [...(ctx.workspaceFolder ? [path.join(ctx.workspaceFolder, 'node_modules')] : []), ...(hostEnv.NODE_PATH ? hostEnv.NODE_PATH.split(path.delimiter) : [])];
  if (nodePaths.length > 0) env.NODE_PATH = [...new Set(nodePaths)].join(path.delimiter);
  Object.assign(env, mlmJobEnv(ctx.cwd, hostEnv));
  const options: TrainerClientOptions = { entry: trainerEntry(ctx.extensionPath), execArgv: [], env, cwd: ctx.cwd, helloTimeoutMs: 60_000, stopTimeoutMs: 30_000 };
  if (ctx.settings.nodePath) options.execPath = expandPath(ctx.settings.nodePath, ctx.workspaceFolder);
  else env.ELECTRON_RUN_AS_NODE = '1';
  return options;
}

/** The `start` options for a fresh run or a resume, from the backend setting. */
export function startOptions(settings: Settings, resume: boolean, steps?: number): StartOptions {
  return {
    ...(settings.backend !== 'spec' ? { backend: settings.backend } : {}),
    ...(resume ? { resume: true } : {}),
    ...(steps !== undefined ? { steps } : {}),
  };
}
