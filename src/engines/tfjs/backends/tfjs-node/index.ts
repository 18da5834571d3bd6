/** The `tfjs-node` backend: native TensorFlow on the CPU through the optional `@tensorflow/tfjs-node`. */
import type { BackendDeclaration } from '../backend';

export const tfjsNode = {
  name: 'tfjs-node',
  description: '`tfjs-node`: native TensorFlow on the CPU through `@tensorflow/tfjs-node` (optional add-on).',
  summary: 'Native TensorFlow on the CPU (needs @tensorflow/tfjs-node).',
  tfBackendName: 'tensorflow',
  memory: { limit: 'machine', why: "native TensorFlow can use the machine's memory" },
  traits: { fusedKernels: false, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: true },
  requires: { package: '@tensorflow/tfjs-node', hint: 'for native TensorFlow on the CPU' },
} as const satisfies BackendDeclaration;
