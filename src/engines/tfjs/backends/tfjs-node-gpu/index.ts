/** The `tfjs-node-gpu` backend: CUDA through the optional `@tensorflow/tfjs-node-gpu`. */
import type { BackendDeclaration } from '../backend';

export const tfjsNodeGpu = {
  name: 'tfjs-node-gpu',
  description: '`tfjs-node-gpu`: CUDA through `@tensorflow/tfjs-node-gpu` (an optional add-on you install).',
  summary: 'CUDA (needs @tensorflow/tfjs-node-gpu and convbert.trainer.nodePath).',
  tfBackendName: 'tensorflow',
  memory: { limit: 'unknown', why: "tensors live in the GPU's memory, which is not known here" },
  traits: { fusedKernels: false, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: true },
  requires: { package: '@tensorflow/tfjs-node-gpu', hint: 'to train on an NVIDIA GPU' },
} as const satisfies BackendDeclaration;
