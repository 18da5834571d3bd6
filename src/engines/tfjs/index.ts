/**
 * The TF.js engine: a Node process running the trainer loop (./trainer/) on a TF.js backend (./backends/), talking
 * to the host over Node IPC. This module declares it and plans its launch; it imports no TF.js (the extension and
 * the generators read it). The backend is chosen inside the trainer, from ./backends/registry.ts's order.
 */
import * as path from 'node:path';
import type { Engine, IpcLaunchPlan, LaunchJob } from '../engine';
import { TFJS_BACKENDS } from './backends/registry';
import { TFJS_TRAINER, loadEvaluator, mlmJobEnv, nodeTrainerPlan } from '../trainer/entry';

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
    return nodeTrainerPlan('tfjs', TFJS_TRAINER, job, env);
  },

  // ./evaluate.ts, or dist/evaluate.js beside the bundle.
  evaluate: (request) => loadEvaluator(__filename, 'evaluate.js').evaluateRun(request),
} as const satisfies Engine;
