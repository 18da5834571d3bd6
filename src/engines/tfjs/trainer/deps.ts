/** What the TF.js engine gives the engine-neutral trainer (src/engines/trainer): its job, backends and runtime. */
import * as tf from '@tensorflow/tfjs';
import type { TrainerDeps } from '../../trainer/loop';
import { takeGpuMemory } from '../backends';
import { loadTrainerBackend } from './backend';
import { defaultJobFactory } from './jobs';

export const tfjsRuntime = {
  versions: { tfjs: tf.version.tfjs },
  memoryBytes: () => tf.memory().numBytes,
  /** On a GPU backend (webgpu): the most device memory in use since the last step's look. */
  peakMemoryBytes: () => (tf.getBackend() === 'webgpu' ? takeGpuMemory()?.peak : undefined),
};

export function tfjsTrainerDeps(overrides: Partial<TrainerDeps> = {}): TrainerDeps {
  return { createJob: defaultJobFactory, loadBackend: loadTrainerBackend, runtime: tfjsRuntime, ...overrides };
}
