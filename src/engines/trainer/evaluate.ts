/**
 * An engine's `evaluate`, for every engine: loads a run's latest checkpoint into the engine's job (the same
 * `TrainingJob` its trainer drives) on a backend chosen as the trainer chooses, and evaluates it on the validation
 * split. Runs in the calling process (`convbert eval`); reads the run directory, writes nothing to the run.
 * Each engine's evaluate module (src/engines/<id>/evaluate.ts) gives its `TrainerDeps`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Json, LoadedCheckpoint } from '../../run-format/checkpoint';
import { hashSpec, loadLatestCheckpoint } from '../../run-format/checkpoint';
import { readRunInfo, runPaths } from '../../run-format/run-dir';
import type { JobState, TrainingJob } from '../../core/train/job';
import { Rng, parseRngState, restoreRng } from '../../core/rng';
import type { EvaluateRequest, EvaluateResult } from '../engine';
import { MLM_JOB_ENV, mlmJobEnv } from './entry';
import { TrainerError } from './errors';
import type { TrainerDeps } from './loop';
import { specFromText } from './spec';
import { isRecord } from '../../core/json';

/** A checkpoint as the job's `loadState` takes it (the inverse of the trainer loop's checkpoint write). */
export function jobStateFromCheckpoint(checkpoint: LoadedCheckpoint): JobState {
  const rngs = isRecord(checkpoint.rng) ? checkpoint.rng : {};
  const extra = isRecord(checkpoint.extra) ? checkpoint.extra : {};
  return {
    tensors: checkpoint.tensors,
    ...(checkpoint.optimizer !== undefined ? { optimizer: checkpoint.optimizer } : {}),
    ...(checkpoint.data !== undefined ? { data: checkpoint.data } : {}),
    ...(rngs.job !== undefined && rngs.job !== null ? { rng: rngs.job as Json } : {}),
    ...(extra.job !== undefined && extra.job !== null ? { extra: extra.job as Json } : {}),
  };
}

/** Why a run cannot be evaluated, for the caller to word: no checkpoint, no spec snapshot, or one that does not match. */
export class EvaluateError extends TrainerError {
  constructor(
    readonly kind: 'no-checkpoint' | 'no-spec' | 'spec-mismatch',
    message: string,
  ) {
    super(message);
    this.name = 'EvaluateError';
  }
}

/** What evaluating needs of an engine: its backend step and its job (built after the job options are in place). */
export interface EvaluateDeps {
  loadBackend: TrainerDeps['loadBackend'];
  createJob: () => Promise<TrainerDeps['createJob']> | TrainerDeps['createJob'];
  /** After the job is disposed (e.g. let idle worker threads go). */
  cleanup?: () => void;
}

export async function evaluateWithJob(request: EvaluateRequest, deps: EvaluateDeps): Promise<EvaluateResult> {
  const info = await readRunInfo(request.runDir);
  const checkpoint = await loadLatestCheckpoint(request.runDir);
  if (!checkpoint) throw new EvaluateError('no-checkpoint', 'no checkpoint to evaluate yet');
  for (const s of checkpoint.skipped) request.warn(`skipped checkpoint ${s.name}: ${s.reason}`);
  const specFile = runPaths(request.runDir).spec;
  const specText = await fsp.readFile(specFile, 'utf8').catch(() => {
    throw new EvaluateError('no-spec', `no spec snapshot (${path.basename(specFile)})`);
  });
  let job: TrainingJob | undefined;
  try {
    const spec = specFromText(specText, request.specLabel ?? specFile);
    if (hashSpec(spec.resolved) !== checkpoint.specHash) {
      throw new EvaluateError('spec-mismatch', "its spec snapshot does not match the checkpoint's spec (edited by hand?); cannot evaluate");
    }
    const requested = request.backend ?? info?.backend?.name ?? spec.resolved.training.backend;
    const backend = await deps.loadBackend(requested, request.log);
    const rng = Rng.fromSeed(spec.resolved.training.seed);
    const createJob = await deps.createJob();
    const ctx = { spec: spec.resolved, runDir: request.runDir, backend: backend.name, rng, log: request.log, warn: request.warn };
    const savedOptions = process.env[MLM_JOB_ENV];
    Object.assign(process.env, mlmJobEnv(request.specDir));
    try {
      job = await createJob(ctx);
    } finally {
      if (savedOptions === undefined) delete process.env[MLM_JOB_ENV];
      else process.env[MLM_JOB_ENV] = savedOptions;
    }
    await job.init();
    const saved = isRecord(checkpoint.extra) && isRecord(checkpoint.extra.loop) ? checkpoint.extra.loop : {};
    const totalSteps = typeof saved.totalSteps === 'number' ? saved.totalSteps : info?.totalSteps ?? checkpoint.step;
    await job.plan?.({ totalSteps: Math.max(totalSteps, checkpoint.step), startStep: checkpoint.step, evaluationOnly: true });
    await job.loadState(jobStateFromCheckpoint(checkpoint));
    const rngs = isRecord(checkpoint.rng) ? checkpoint.rng : {};
    if (rngs.loop !== undefined) restoreRng(rng, parseRngState(rngs.loop));
    const metrics = await job.evaluate(checkpoint.step);
    return {
      metrics,
      checkpoint: { step: checkpoint.step, name: checkpoint.name, skipped: checkpoint.skipped.map((s) => ({ name: s.name, reason: s.reason })) },
      backend: backend.name,
    };
  } finally {
    try {
      job?.dispose();
    } catch {
      // nothing to do
    }
    try {
      deps.cleanup?.();
    } catch {
      // nothing to do
    }
  }
}
