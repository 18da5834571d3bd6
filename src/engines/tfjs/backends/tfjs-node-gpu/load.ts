/** Loads the `tfjs-node-gpu` backend (./index.ts declares it); warns when TensorFlow sees no GPU. */
import * as tf from '@tensorflow/tfjs';
import type { BackendLoader } from '../backend';
import { loadNative } from '../native';
import { tfjsNodeGpu } from '.';

export const loadTfjsNodeGpu: BackendLoader = async (ctx) => {
  const outcome = await loadNative(tfjsNodeGpu, ctx);
  if (!outcome.attempt.ok) return outcome;
  const usingGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  if (usingGpu === false) return { attempt: { name: tfjsNodeGpu.name, ok: true, reason: 'no GPU device is visible: TensorFlow runs on the CPU' } };
  return outcome;
};
