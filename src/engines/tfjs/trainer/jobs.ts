/**
 * Which `TrainingJob` a trainer runs. The masked-LM job (model from `core/model`, batches from `core/data`) is
 * the built-in one; `CONVBERT_TRAINER_JOB_MODULE` names another module exporting `createJob: JobFactory`
 * instead (the tests use `src/core/train/toy-job.ts`).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobFactory } from '../../../core/train/job';
import { createJob as createMlmJob } from '../../../core/train/mlm-job';
import { TrainerError } from '../../trainer/errors';

export const JOB_MODULE_ENV = 'CONVBERT_TRAINER_JOB_MODULE';

/** The built-in job: masked-LM pretraining of the spec's model on its corpus. */
const maskedLmJob: JobFactory = createMlmJob;

export async function loadJobFactory(modulePath: string | undefined = process.env[JOB_MODULE_ENV]): Promise<JobFactory> {
  if (modulePath) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path.resolve(modulePath)).href)) as Record<string, unknown>;
    } catch (e) {
      throw new TrainerError(`cannot load the job module ${modulePath}: ${e instanceof Error ? e.message : String(e)}`, `check ${JOB_MODULE_ENV}`);
    }
    const createJob = mod.createJob ?? (mod.default as Record<string, unknown> | undefined)?.createJob;
    if (typeof createJob !== 'function') throw new TrainerError(`the job module ${modulePath} exports no \`createJob\` function`, `check ${JOB_MODULE_ENV}`);
    return createJob as JobFactory;
  }
  return maskedLmJob;
}

/** Resolves the job module when the job is created, so a bad module becomes a fatal `error`, not a crash. */
export const defaultJobFactory: JobFactory = async (ctx) => (await loadJobFactory())(ctx);
