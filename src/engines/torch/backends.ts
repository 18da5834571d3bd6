/**
 * The PyTorch engine's backends (its devices), in the order `auto` tries them: the one list, read by the registry
 * (src/engines/index.ts) like the TF.js engine's. `torch-cpu` is named apart from TF.js's `cpu` so that a backend
 * names its engine.
 */
import type { EngineBackend } from '../engine';

export const TORCH_BACKENDS = [
  {
    name: 'cuda',
    description: '`cuda`: PyTorch on an NVIDIA GPU (CUDA; NCCL across GPUs). Needs Python with a CUDA build of PyTorch.',
    summary: 'PyTorch on an NVIDIA GPU (needs Python with PyTorch).',
    memory: { limit: 'unknown', why: "the model lives in the GPU's memory, which is not known here" },
    device: 'cuda',
  },
  {
    name: 'mps',
    description: "`mps`: PyTorch on Apple silicon's GPU (Metal). Needs Python with PyTorch.",
    summary: "PyTorch on Apple silicon's GPU (needs Python with PyTorch).",
    memory: { limit: 'unknown', why: "the model lives in the GPU's (unified) memory, which is not known here" },
    device: 'mps',
  },
  {
    name: 'torch-cpu',
    description: '`torch-cpu`: PyTorch on the CPU (its BLAS; gloo across processes). Needs Python with PyTorch.',
    summary: 'PyTorch on the CPU (needs Python with PyTorch).',
    memory: { limit: 'machine', why: "PyTorch on the CPU can use the machine's memory" },
    device: 'cpu',
  },
] as const satisfies readonly (EngineBackend & { device: string })[];

export type TorchBackendName = (typeof TORCH_BACKENDS)[number]['name'];
export type TorchDevice = (typeof TORCH_BACKENDS)[number]['device'];

export function deviceOf(backend: string): TorchDevice | 'auto' | undefined {
  if (backend === 'auto') return 'auto';
  return TORCH_BACKENDS.find((b) => b.name === backend)?.device;
}

export function backendOfDevice(device: string): TorchBackendName | undefined {
  return TORCH_BACKENDS.find((b) => b.device === device)?.name;
}
