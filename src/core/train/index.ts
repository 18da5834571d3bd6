/** Training machinery that does not depend on the model: schedule, optimizers, checkpoints, run directories. */
export * from './schedule';
export * from './optimizer';
export * from './checkpoint';
export * from './run-dir';
export * from './metrics';
export * from './rng';
export * from './tensors';
export * from './job';
