/** The trainer: the loop that drives a job over the protocol, and the host-side handles to run it. */
export { TrainerSession, type TrainerDeps } from './loop';
export { TrainerClient, type TrainerClientOptions, type OutputListener } from '../../client';
export { InProcessTrainer } from './in-process';
export type { TrainerHandle, TrainerExit, StartRequest } from '../../handle';
export { TrainerError } from './errors';
export { JOB_MODULE_ENV, loadJobFactory, defaultJobFactory } from './jobs';
export { loadTrainerBackend, type BackendLoader } from './backend';
