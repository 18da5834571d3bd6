/**
 * The PyTorch engine (docs/torch-engine.md): the same Node trainer loop as the TF.js engine (src/engines/trainer),
 * whose job is a proxy for a group of Python workers (python/convbert_torch: the model, AdamW/LAMB, DDP under
 * torchrun or ranks it starts itself) fed by shards the TypeScript data pipeline writes. CUDA, Apple MPS or the CPU.
 *
 * This module declares the engine and plans its launch; it imports no TF.js and starts no Python until asked
 * (`availability` probes the interpreter once per process).
 */
import type { Availability, DistributedOptions, Engine, IpcLaunchPlan, LaunchJob } from '../engine';
import { loadEvaluator, mlmJobEnv, nodeTrainerPlan, type TrainerEntryFiles } from '../trainer/entry';
import { TORCH_BACKENDS } from './backends';
import { checkDistributed, launchArgs } from './distributed';
import { findTorchPython, findTorchPythonSync, workerEnv } from './python';

export { checkDistributed };

export const TORCH_TRAINER: TrainerEntryFiles = { bundle: 'torch-trainer.js', source: 'src/engines/torch/trainer/main.ts' };
/** The launch's distributed options, for the trainer (./trainer/deps.ts reads it). */
export const TORCH_OPTIONS_ENV = 'CONVBERT_TORCH';

/** Options as the trainer receives them: `distributed` plus where our Python package is. */
export interface TorchLaunchOptions extends DistributedOptions {
  /** ConvBERT Studio's installed folder (its python/ holds convbert_torch). */
  installedAt?: string;
}

export const torchEngine = {
  id: 'torch',
  description: 'PyTorch in Python worker processes (one, or many under torchrun), driven by the same trainer loop.',
  backends: TORCH_BACKENDS,

  availability(options?: { python?: string }): Availability {
    const probe = findTorchPythonSync({ configured: options?.python });
    if (probe.ok) return { ok: true, reason: `Python ${probe.info.pythonVersion} (${probe.info.python}), PyTorch ${probe.info.torch}` };
    return { ok: false, reason: `${probe.reason} — ${probe.hint}` };
  },

  /** `auto` takes PyTorch when it runs here on a GPU: there it is many times faster than any TF.js backend. */
  preferredByAuto(options?: { python?: string }): boolean {
    const probe = findTorchPythonSync({ configured: options?.python });
    return probe.ok && (probe.info.cuda.available || probe.info.mps);
  },

  launch(job: LaunchJob): IpcLaunchPlan {
    const hostEnv = job.env ?? process.env;
    const problem = checkDistributed(job.distributed);
    if (problem) throw new Error(problem);
    const env: Record<string, string> = { ...mlmJobEnv(job.specDir, hostEnv) };
    const options: TorchLaunchOptions = { ...job.distributed, ...(job.installedAt ? { installedAt: job.installedAt } : {}) };
    env[TORCH_OPTIONS_ENV] = JSON.stringify(options);
    return nodeTrainerPlan('torch', TORCH_TRAINER, job, env);
  },

  // ./evaluate.ts, or dist/torch-evaluate.js beside the bundle.
  evaluate: (request) => loadEvaluator(__filename, 'torch-evaluate.js').evaluateRun(request),
} as const satisfies Engine;

/**
 * A machine other than the first of a multi-machine run (`--node-rank` ≥ 1) runs no trainer: only its ranks, which
 * take every request from rank 0 on the first machine. The program to run there, in the foreground.
 */
export async function followerCommand(d: DistributedOptions, installedAt?: string): Promise<{ command: string; args: string[]; env: Record<string, string> }> {
  const probe = await findTorchPython({ configured: d.python });
  if (!probe.ok) throw new Error(`${probe.reason} — ${probe.hint}`);
  return { command: probe.info.python, args: ['-m', 'convbert_torch.launch', ...launchArgs(d)], env: workerEnv(installedAt) };
}
