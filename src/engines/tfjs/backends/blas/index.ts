/**
 * The `blas` backend: the wasm backend with its matrix products on the machine's BLAS (OpenBLAS on Linux, Accelerate
 * on macOS) and its element-wise work on threaded native kernels, through our native addon (native/, built at install
 * by scripts/build-native.mjs), run in place on TF.js's wasm heap — no copies; every other kernel as on wasm. Why this design and not a
 * backend of our own: see ./load.ts.
 */
import type { BackendDeclaration } from '../backend';
import { WASM_ADDRESS_SPACE_BYTES, WASM_TFJS_RESERVE_BYTES } from '../wasm';

export const blas = {
  name: 'blas',
  description:
    '`blas`: wasm with its matrix products on the machine\'s BLAS (OpenBLAS, Accelerate) and its element-wise work on threaded native kernels, through a native addon built at install; ' +
    'where it could not be built, `auto` goes on to wasm and says why.',
  summary: 'wasm with matrix products on the machine\'s BLAS (OpenBLAS/Accelerate; built at install).',
  tfBackendName: 'wasm',
  memory: { limit: WASM_ADDRESS_SPACE_BYTES - WASM_TFJS_RESERVE_BYTES, why: 'the tensors stay on the wasm heap, which addresses at most 4 GiB' },
  // sgemm takes transposed and batched operands as they are: no explicit transposes, no per-slice products; Exp is
  // native (vectorised), not wasm's scalar loop.
  traits: { fusedKernels: true, explicitTransposes: false, batchedMatMul: 'fast', exp: 'fast', syncReads: true },
  conditional: 'the native addon was built at install (a C compiler and OpenBLAS or Accelerate)',
} as const satisfies BackendDeclaration;
