/**
 * The `wasm` backend: TF.js's WebAssembly kernels (XNNPACK, SIMD, threads where they work) with our kernel patches
 * and fused SIMD kernels. Ships with ConvBERT Studio. The rest of this folder brings it up (./load.ts).
 */
import type { BackendDeclaration } from '../backend';

/** WebAssembly memory is 32-bit: at most 65536 pages of 64 KiB (the TF.js binaries declare exactly that). */
export const WASM_ADDRESS_SPACE_BYTES = 4 * 2 ** 30;
/** What TF.js's own code, stacks and allocator need of it. */
export const WASM_TFJS_RESERVE_BYTES = 256 * 2 ** 20;

export const wasm = {
  name: 'wasm',
  description: '`wasm`: WebAssembly with SIMD (and threads where possible); ships with ConvBERT Studio.',
  summary: 'WebAssembly with SIMD (and threads where they work): the portable default.',
  tfBackendName: 'wasm',
  memory: { limit: WASM_ADDRESS_SPACE_BYTES - WASM_TFJS_RESERVE_BYTES, why: 'WebAssembly addresses at most 4 GiB, about 256 MiB of which TF.js needs itself' },
  // XNNPACK runs only plain 2-D A·B fast: transposed and batched matMuls drop to scalar loops, and so does Exp.
  traits: { fusedKernels: true, explicitTransposes: true, batchedMatMul: 'slow', exp: 'slow', syncReads: true },
} as const satisfies BackendDeclaration;
