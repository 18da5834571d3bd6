/**
 * Loads the `blas` backend (./index.ts declares it): the native addon (./addon.ts), then the wasm backend as `wasm`
 * loads it, then TF.js's BatchMatMul replaced by sgemm on the wasm heap (./matmul.ts) and the element-wise work by
 * the addon's threaded kernels (./kernels.ts installs both; `removeBlasKernels` puts TF.js's own back).
 *
 * Why wasm plus native kernels, not a backend of our own: TF.js's wasm backend keeps every tensor in one
 * WebAssembly.Memory, so a native kernel reads and writes tensors in place through a pointer, and the rest — our SIMD
 * kernels, the kernel patches, memory management, the model code — stays exactly as it is on wasm (one code path to
 * test). A backend of our own would own its memory (no 4 GiB cap) but would have to implement every kernel TF.js
 * calls. Profiles put 60 % of a GroupBERT-Mini step in matrix products on wasm (bench/README.md), so they come first.
 */
import { setBackendTraits } from '../../../../core/ops/traits';
import type { BackendLoader, LoadOutcome } from '../backend';
import { smokeTest } from '../smoke';
import { wasmFusedKernelsReady } from '../wasm/fused-kernels';
import { loadWasm } from '../wasm/load';
import { loadBlasAddon } from './addon';
import { installBlasKernels } from './kernels';
import { blas } from '.';

export const loadBlas: BackendLoader = async (ctx) => {
  const fail = (reason: string, before?: LoadOutcome['before']): LoadOutcome => ({ attempt: { name: blas.name, ok: false, reason }, ...(before ? { before } : {}) });
  const found = await loadBlasAddon(ctx.resolver);
  if (!found.ok) return fail(found.reason);
  const w = await loadWasm(ctx);
  if (!w.attempt.ok) return fail(w.attempt.reason ?? 'the wasm backend failed to start', w.before);
  // One pool of threads for everything native: the products are split over it (batch items, then row blocks of
  // the result), each part a single-threaded sgemm, so OpenBLAS runs no threads of its own to compete with it.
  // Its size is the threads asked for (or the machine's cores), whether or not wasm's own threaded build came up.
  found.addon.threads(1);
  const kernelThreads = found.addon.kernel_threads(ctx.threads);
  try {
    installBlasKernels(found.addon);
    setBackendTraits(blas.tfBackendName, blas.traits, wasmFusedKernelsReady);
    await smokeTest();
  } catch (err) {
    return fail(`the native matrix products failed a smoke test: ${(err as Error).message.split('\n')[0]}`, w.before);
  }
  const library = found.addon.config().split(' ').slice(0, 2).join(' ');
  return { attempt: { name: blas.name, ok: true }, ...(w.before ? { before: w.before } : {}), ...(w.threads !== undefined ? { threads: w.threads } : {}), ...(w.simd !== undefined ? { simd: w.simd } : {}), library: `${library}, ${kernelThreads} thread${kernelThreads === 1 ? '' : 's'}` };
};

