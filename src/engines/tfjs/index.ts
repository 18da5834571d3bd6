/**
 * The TF.js engine: a Node process running the trainer loop (./trainer/) on a TF.js backend (./backends/), talking
 * to the host over Node IPC. This module declares it and plans its launch; it imports no TF.js (the extension and
 * the generators read it). The backend is chosen inside the trainer, from ./backends/registry.ts's order.
 */
import * as path from 'node:path';
import type { Engine, EvaluateRequest, EvaluateResult, IpcLaunchPlan, LaunchJob } from '../engine';
import { TFJS_BACKENDS } from './backends/registry';
import { mlmJobEnv, resolveTrainerEntry } from '../trainer/entry';

/** The in-process evaluator (./evaluate.ts, or dist/evaluate.js beside the bundle): loaded by path when used, so
 * bundles that import this module (the extension's) do not take TF.js in with it. */
function loadEvaluator(): { evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> } {
  const file = path.join(__dirname, __filename.endsWith('.ts') ? 'evaluate.ts' : 'evaluate.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as { evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> };
}

export const tfjsEngine = {
  id: 'tfjs',
  description: 'TensorFlow.js in a Node process (the trainer), on one of its backends.',
  backends: TFJS_BACKENDS,
  availability: () => ({ ok: true }),

  launch(job: LaunchJob): IpcLaunchPlan {
    const hostEnv = job.env ?? process.env;
    const env: Record<string, string> = {};
    const nodePaths = [...(job.modulePaths ?? []), ...(hostEnv.NODE_PATH ? hostEnv.NODE_PATH.split(path.delimiter) : [])];
    if (nodePaths.length > 0) env.NODE_PATH = [...new Set(nodePaths)].join(path.delimiter);
    Object.assign(env, mlmJobEnv(job.specDir, hostEnv));
    const entry = job.installedAt
      ? { entry: path.join(job.installedAt, 'dist', 'trainer.js'), execArgv: [], why: 'the installed trainer' }
      : resolveTrainerEntry({ env: hostEnv });
    if (!job.runtimePath && job.electronHost) env.ELECTRON_RUN_AS_NODE = '1';
    return { engine: 'tfjs', transport: 'ipc', command: job.runtimePath, script: entry.entry, execArgv: entry.execArgv, args: [], env, cwd: job.cwd, why: entry.why };
  },

  evaluate: (request) => loadEvaluator().evaluateRun(request),
} as const satisfies Engine;
