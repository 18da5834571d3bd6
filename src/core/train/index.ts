/** Training machinery that does not depend on the model: schedule, optimizers, the job interface (run directories and checkpoints are src/run-format's). */
export * from './schedule';
export * from './optimizer';
export * from '../rng';
export * from './tensors';
export * from './job';
