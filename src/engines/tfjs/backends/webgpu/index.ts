/**
 * The `webgpu` backend: the GPU through WebGPU — Dawn from the optional npm package `webgpu` (Vulkan on Linux and
 * Windows, Metal on macOS, D3D12 on Windows) with `@tensorflow/tfjs-backend-webgpu`. Needs a GPU driver only: no
 * CUDA, no Python. `auto` takes hardware adapters only; a software adapter (lavapipe, SwiftShader) is used when the
 * backend is asked for by name. The rest of this folder brings it up (./load.ts).
 */
import type { BackendDeclaration } from '../backend';

export const webgpu = {
  name: 'webgpu',
  description:
    '`webgpu`: any GPU through WebGPU (Dawn from the optional npm package `webgpu`: Vulkan, Metal, D3D12); needs a GPU driver only. ' +
    '`auto` uses hardware adapters only; name it to use a software adapter.',
  summary: 'Any GPU through WebGPU (Dawn: Vulkan, Metal, D3D12): needs a GPU driver only.',
  tfBackendName: 'webgpu',
  memory: { limit: 'unknown', why: "tensors live in the GPU's memory, which WebGPU does not report" },
  // Batched and transposed products are one dispatch each on a GPU; reads are asynchronous only (dataSync needs a
  // browser's OffscreenCanvas).
  traits: { fusedKernels: false, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: false },
  requires: { package: 'webgpu', hint: 'to train on any GPU through WebGPU', device: true },
} as const satisfies BackendDeclaration;
