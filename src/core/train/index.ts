/** Training machinery that does not depend on the model: schedule, optimizers, checkpoints, run directories. */
export * from './schedule';
export * from './optimizer';
export * from '../../run-format/checkpoint';
export * from '../../run-format/run-dir';
export * from '../../run-format/metrics';
export * from './rng';
export * from './tensors';
export * from './job';
