/**
 * How the host starts a trainer process: the engine's launch plan (src/engines/tfjs/index.ts `launch`) for this
 * host, as fork options. Pure (tested without VS Code). The extension never trains in its own process and never
 * loads TF.js: it forks the installed `dist/trainer.js`.
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
import { chooseEngine } from '../../engines';
import type { StartOptions } from '../../protocol';
import { clientOptionsFromPlan, type TrainerClientOptions } from '../../engines/client';
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

/** The engine's launch plan for this host (the installed bundles, the configured Node, the workspace's packages). */
export function launchOptions(ctx: LaunchContext): TrainerClientOptions {
  // Chosen before the process starts: the engine that has the backend setting's backend (the default for 'spec').
  const engine = chooseEngine(undefined, ctx.settings.backend === 'spec' ? undefined : ctx.settings.backend);
  const plan = engine.launch({
    cwd: ctx.cwd,
    specDir: ctx.cwd,
    env: ctx.env ?? process.env,
    installedAt: ctx.extensionPath,
    ...(ctx.settings.nodePath ? { runtimePath: expandPath(ctx.settings.nodePath, ctx.workspaceFolder) } : {}),
    modulePaths: ctx.workspaceFolder ? [path.join(ctx.workspaceFolder, 'node_modules')] : [],
    electronHost: true,
  });
  return { ...clientOptionsFromPlan(plan), helloTimeoutMs: 60_000, stopTimeoutMs: 30_000 };
}

/** The `start` options for a fresh run or a resume, from the backend setting. */
export function startOptions(settings: Settings, resume: boolean, steps?: number): StartOptions {
  return {
    ...(settings.backend !== 'spec' ? { backend: settings.backend } : {}),
    ...(resume ? { resume: true } : {}),
    ...(steps !== undefined ? { steps } : {}),
  };
}
