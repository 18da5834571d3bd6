/**
 * The TF.js engine's `evaluate` (src/engines/trainer/evaluate.ts with this engine's job and backends). Imports TF.js
 * and the model: ./index.ts loads this file by path only when `evaluate` is called, so the modules that declare the
 * engine stay light. The build writes it as dist/evaluate.js.
 */
import type { EvaluateRequest, EvaluateResult } from '../engine';
import { evaluateWithJob } from '../trainer/evaluate';
import { unrefPthreadWorkers } from './backends/wasm/wasm-threads';
import { loadTrainerBackend } from './trainer/backend';
import { loadJobFactory } from './trainer/jobs';

export function evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> {
  return evaluateWithJob(request, {
    loadBackend: loadTrainerBackend,
    createJob: loadJobFactory,
    // Emscripten re-refs the threaded wasm build's pthread workers while they run; idle, they must not keep the process alive.
    cleanup: unrefPthreadWorkers,
  });
}
