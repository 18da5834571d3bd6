/**
 * The torch engine's `evaluate` (src/engines/trainer/evaluate.ts with the worker-group job): one worker on the
 * run's device evaluates the latest checkpoint, whichever engine wrote it. Loaded by path from ./index.ts; the
 * build writes it as dist/torch-evaluate.js.
 */
import type { EvaluateRequest, EvaluateResult } from '../engine';
import { evaluateWithJob } from '../trainer/evaluate';
import { torchTrainerDeps } from './trainer/deps';

export function evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> {
  const deps = torchTrainerDeps({}, { onStderr: (line) => request.log('debug', line) });
  return evaluateWithJob(request, { loadBackend: deps.loadBackend, createJob: () => deps.createJob });
}
