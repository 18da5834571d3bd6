/**
 * Each backend's loader, by name. Imports TF.js: only the trainer and `convbert eval` reach this file. The type
 * makes a backend of ./registry.ts without a loader here a compile error.
 */
import type { BackendLoader } from './backend';
import { removeBlasKernels } from './blas/kernels';
import { loadBlas } from './blas/load';
import { loadCpu } from './cpu/load';
import type { TfjsBackendName } from './registry';
import { loadTfjsNode } from './tfjs-node/load';
import { loadTfjsNodeGpu } from './tfjs-node-gpu/load';
import { loadWasm } from './wasm/load';
import { loadWebgpu } from './webgpu/load';

export const BACKEND_LOADERS: { readonly [N in TfjsBackendName]: BackendLoader } = {
  'tfjs-node-gpu': loadTfjsNodeGpu,
  webgpu: loadWebgpu,
  'tfjs-node': loadTfjsNode,
  blas: loadBlas,
  // Plain wasm: TF.js's own kernels (the blas backend replaces some while it is the one loaded).
  wasm: async (ctx) => {
    removeBlasKernels();
    return loadWasm(ctx);
  },
  cpu: loadCpu,
};
