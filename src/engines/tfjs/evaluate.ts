/**
 * The TF.js engine's `evaluate`: loads a run's latest checkpoint into the run's own job (the same `TrainingJob` the
 * trainer drives, ./trainer/jobs.ts) on a backend chosen as the trainer chooses, and evaluates it on the
 * validation split. Runs in the calling process (`convbert eval`); reads the run directory, writes nothing.
 *
 * Imports TF.js and the model: ./index.ts loads this file by path only when `evaluate` is called, so the modules
 * that declare the engine stay light. The build writes it as dist/evaluate.js.
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
import { unrefPthreadWorkers } from './backends/wasm/wasm-threads';
import { loadTrainerBackend } from './trainer/backend';
import { TrainerError } from './trainer/errors';
import { loadJobFactory } from './trainer/jobs';
import { specFromText } from './trainer/spec';
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

export async function evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> {
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
    const backend = await loadTrainerBackend(requested, request.log);
    const rng = Rng.fromSeed(spec.resolved.training.seed);
    const createJob = await loadJobFactory();
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
    // Emscripten re-refs the threaded wasm build's pthread workers while they run; idle, they must not keep the process alive.
    try {
      unrefPthreadWorkers();
    } catch {
      // nothing to do
    }
  }
}
