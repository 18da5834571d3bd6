/** The TF.js engine's trainer: the engine-neutral loop (src/engines/trainer) with this engine's job and backends. */
export { TrainerSession, type TrainerDeps } from '../../trainer/loop';
export { TrainerClient, type TrainerClientOptions, type OutputListener } from '../../client';
export { InProcessTrainer } from '../../trainer/in-process';
export type { TrainerHandle, TrainerExit, StartRequest } from '../../handle';
export { TrainerError } from '../../trainer/errors';
export { JOB_MODULE_ENV, loadJobFactory, defaultJobFactory } from './jobs';
export { loadTrainerBackend, type BackendLoader } from './backend';
export { tfjsTrainerDeps } from './deps';
