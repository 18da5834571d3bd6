/** Loads the `cpu` backend (./index.ts declares it). */
import * as tf from '@tensorflow/tfjs';
import { setBackendTraits } from '../../../../core/ops/traits';
import type { BackendLoader } from '../backend';
import { cpu } from '.';

export const loadCpu: BackendLoader = async () => {
  const ok = await tf.setBackend(cpu.tfBackendName);
  if (!ok) return { attempt: { name: cpu.name, ok: false, reason: 'the cpu backend failed to start' } };
  setBackendTraits(cpu.tfBackendName, cpu.traits);
  return { attempt: { name: cpu.name, ok: true } };
};
