/**
 * Choose and load a TF.js backend, and say why the others were skipped.
 *
 * Order for 'auto': the order of ./registry.ts (tfjs-node-gpu → webgpu → tfjs-node → blas → wasm → cpu). An explicit preference
 * starts the same chain at that entry (so 'tfjs-node' falls back to wasm, then cpu) unless `strict` is set. Each
 * backend is a folder here: index.ts declares it (TF.js-free), load.ts loads it and declares its traits
 * (core/ops/traits.ts); ./loaders.ts maps names to loaders. The native packages are optional add-ons and are only
 * touched through a `ModuleResolver`.
 *
 * Facts behind the choices (shared/research/backend-probe.md): wasm with XNNPACK runs matMuls at 20–35 GFLOP/s on
 * this kind of machine, the cpu backend at 0.4–1; the wasm kernel patches in ./wasm/wasm-patches.ts are applied
 * whenever wasm is selected.
 */
import { createNodeResolver, nodeRequire, type ModuleResolver } from './resolver';
import type { BackendAttempt, DeviceReport } from './backend';
import { adapterLine } from './webgpu/adapter';
import { BACKEND_LOADERS } from './loaders';
import { TFJS_BACKENDS, type TfjsBackendName, type TfjsBackendPreference } from './registry';
import type { ThreadedWasmInit } from './wasm/wasm-threads';

export type { ModuleResolver } from './resolver';
export { createNodeResolver } from './resolver';
export type { BackendAttempt, BackendDeclaration, DeviceReport } from './backend';
export { takeGpuMemory } from './webgpu/memory';
export { TFJS_BACKENDS } from './registry';
export { defaultWasmDir } from './wasm/wasm';
export {
  applyWasmKernelPatches,
  removeWasmKernelPatches,
  wasmKernelPatchesApplied,
  PATCHED_WASM_KERNELS,
  type PatchedKernelName,
} from './wasm/wasm-patches';
export type { ThreadedWasmInit, ThreadedWasmResult, WasmThreadsApi } from './wasm/wasm-threads';
export { FUSED_KERNELS, fusedKernelsAvailable, registerFusedWasmKernels } from './wasm/fused-kernels';
export { setSimdKernelsEnabled, simdKernelsEnabled } from './wasm/simd';

export type BackendPreference = TfjsBackendPreference;
export type BackendChoice = TfjsBackendName;

export interface BackendReport {
  /** The backend in use: 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu'. */
  name: string;
  /** Every candidate in the order tried, including the one chosen (last). */
  tried: BackendAttempt[];
  /** Backends with threads of their own (wasm: XNNPACK's): threads in use. */
  threads?: number;
  /** Backends with a SIMD build (wasm): whether it is in use. */
  simd?: boolean;
  /** Backends on a GPU adapter (webgpu): the adapter and the limits requested. */
  device?: DeviceReport;
  /** Backends on a native library (blas): which, and its threads. */
  library?: string;
}

export interface LoadBackendOptions {
  /** wasm threads wanted (default: the machine's logical cores, at most 8). 1 = single-threaded build. */
  threads?: number;
  log?: (msg: string) => void;
  /** How optional native packages are found and loaded (tests inject one). */
  resolver?: ModuleResolver;
  /** Throw instead of falling back when an explicit preference cannot be loaded. */
  strict?: boolean;
  /** Directory of the `.wasm` binaries (default: the installed @tensorflow/tfjs-backend-wasm `dist/`). */
  wasmDir?: string;
  /** Replaces the threaded-wasm hack (tests). */
  threadedWasmInit?: ThreadedWasmInit;
}

export const BACKEND_CHAIN: readonly BackendChoice[] = TFJS_BACKENDS.map((b) => b.name);

export function defaultThreads(): number {
  const os = nodeRequire()('os') as typeof import('node:os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores));
}

/** One line for logs and the run record, e.g. "wasm (SIMD, 2 threads)". */
export function describeBackend(report: BackendReport): string {
  if (report.device) return `${report.name} (${adapterLine(report.device)})`;
  if (report.threads === undefined && report.simd === undefined) return report.name;
  const bits = [...(report.library ? [report.library] : []), report.simd ? 'SIMD' : 'no SIMD', `${report.threads ?? 1} thread${report.threads === 1 ? '' : 's'}`];
  return `${report.name} (${bits.join(', ')})`;
}

/**
 * Select the first backend of the chain that loads, starting at `preference`. Resolves with what was chosen and
 * why every earlier candidate was skipped. Rejects only when `strict` is set and the explicit preference fails
 * (the cpu backend always loads).
 */
export async function loadBackend(preference: BackendPreference, opts: LoadBackendOptions = {}): Promise<BackendReport> {
  const log = opts.log ?? (() => {});
  const resolver = opts.resolver ?? createNodeResolver();
  const start = preference === 'auto' ? 0 : BACKEND_CHAIN.indexOf(preference);
  if (start < 0) throw new Error(`unknown backend '${String(preference)}' (expected auto, ${BACKEND_CHAIN.join(', ')})`);
  const tried: BackendAttempt[] = [];

  const ctx = {
    log,
    preference,
    resolver,
    threads: Math.max(1, Math.floor(opts.threads ?? defaultThreads())),
    threadsRequested: opts.threads !== undefined,
    wasmDir: opts.wasmDir,
    threadedWasmInit: opts.threadedWasmInit,
  };

  for (const choice of BACKEND_CHAIN.slice(start)) {
    const outcome = await BACKEND_LOADERS[choice](ctx);
    const attempt = outcome.attempt;
    tried.push(...(outcome.before ?? []));
    const extra: Pick<BackendReport, 'threads' | 'simd' | 'device' | 'library'> = attempt.ok
      ? {
          ...(outcome.threads !== undefined ? { threads: outcome.threads } : {}),
          ...(outcome.simd !== undefined ? { simd: outcome.simd } : {}),
          ...(outcome.device ? { device: outcome.device } : {}),
          ...(outcome.library ? { library: outcome.library } : {}),
        }
      : {};
    tried.push(attempt);
    if (attempt.ok) {
      const report: BackendReport = { name: choice, tried, ...extra };
      log(`backend: ${describeBackend(report)}${attempt.reason ? ` (${attempt.reason})` : ''}`);
      return report;
    }
    log(`backend: skipped ${choice}: ${attempt.reason}`);
    if (opts.strict && preference !== 'auto') {
      throw new Error(`backend '${preference}' could not be loaded: ${attempt.reason}`);
    }
  }
  throw new Error(`no TF.js backend could be loaded: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`);
}
