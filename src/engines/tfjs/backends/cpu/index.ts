/** The `cpu` backend: TF.js's plain JavaScript kernels. Always loads; slow. */
import type { BackendDeclaration } from '../backend';

export const cpu = {
  name: 'cpu',
  description: '`cpu`: plain JavaScript. Always loads, 30–50× slower than wasm.',
  summary: 'Plain JavaScript: slow, always works.',
  tfBackendName: 'cpu',
  memory: { limit: 'machine', why: "plain JavaScript typed arrays can use the machine's memory" },
  traits: { fusedKernels: false, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: true },
} as const satisfies BackendDeclaration;
