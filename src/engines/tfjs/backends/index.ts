/**
 * Choose and load a TF.js backend, and say why the others were skipped.
 *
 * Order for 'auto': @tensorflow/tfjs-node-gpu → @tensorflow/tfjs-node → wasm (SIMD; threaded where it works) → cpu.
 * An explicit preference starts the same chain at that entry (so 'tfjs-node' falls back to wasm, then cpu) unless
 * `strict` is set. The native packages are optional add-ons and are only touched through a `ModuleResolver`.
 *
 * Facts behind the choices (shared/research/backend-probe.md): wasm with XNNPACK runs matMuls at 20–35 GFLOP/s on
 * this kind of machine, the cpu backend at 0.4–1; the wasm kernel patches in ./wasm-patches.ts are applied whenever
 * wasm is selected.
 */
import * as tf from '@tensorflow/tfjs';
import { createNodeResolver, nodeRequire, type ModuleResolver } from './resolver';
import { initWasm } from './wasm/wasm';
import type { ThreadedWasmInit } from './wasm/wasm-threads';

export type { ModuleResolver } from './resolver';
export { createNodeResolver } from './resolver';
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

export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type BackendChoice = Exclude<BackendPreference, 'auto'>;

export interface BackendAttempt {
  /** 'tfjs-node-gpu' | 'tfjs-node' | 'wasm-threads' | 'wasm' | 'cpu' */
  name: string;
  ok: boolean;
  /** Why it was skipped (or, when ok, a caveat). */
  reason?: string;
}

export interface BackendReport {
  /** The backend in use: 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu'. */
  name: string;
  /** Every candidate in the order tried, including the one chosen (last). */
  tried: BackendAttempt[];
  /** wasm only: XNNPACK threads in use. */
  threads?: number;
  /** wasm only: whether the SIMD build is in use. */
  simd?: boolean;
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

export const BACKEND_CHAIN: readonly BackendChoice[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

const NATIVE: Record<'tfjs-node-gpu' | 'tfjs-node', { pkg: string; hint: string }> = {
  'tfjs-node-gpu': { pkg: '@tensorflow/tfjs-node-gpu', hint: 'to train on an NVIDIA GPU' },
  'tfjs-node': { pkg: '@tensorflow/tfjs-node', hint: 'for native TensorFlow on the CPU' },
};

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

export function defaultThreads(): number {
  const os = nodeRequire()('os') as typeof import('node:os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores));
}

async function smokeTest(): Promise<void> {
  const out = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
  const vals = Array.from(await out.data());
  out.dispose();
  if (vals.join() !== '19,22,43,50') throw new Error(`a 2×2 matMul gave [${vals.join(', ')}], not [19, 22, 43, 50]`);
}

async function tryNative(choice: 'tfjs-node-gpu' | 'tfjs-node', resolver: ModuleResolver): Promise<BackendAttempt> {
  const { pkg, hint } = NATIVE[choice];
  let entry: string | undefined;
  try {
    entry = resolver.resolve(pkg);
  } catch (err) {
    return { name: choice, ok: false, reason: `${pkg} could not be resolved: ${firstLine(err)}` };
  }
  if (!entry) return { name: choice, ok: false, reason: `${pkg} is not installed (npm i ${pkg} ${hint})` };
  try {
    await resolver.load(pkg);
  } catch (err) {
    return { name: choice, ok: false, reason: `${pkg} is installed but failed to load: ${firstLine(err)}` };
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return {
      name: choice,
      ok: false,
      reason:
        `${pkg} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (${tf.version.tfjs}); ` +
        'its version probably differs — install the matching version',
    };
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch (err) {
    return { name: choice, ok: false, reason: `${pkg} loaded but its backend failed to start: ${firstLine(err)}` };
  }
  if (!ok) return { name: choice, ok: false, reason: `${pkg} loaded but its backend failed to start` };
  try {
    await smokeTest();
  } catch (err) {
    return { name: choice, ok: false, reason: `${pkg} loaded but failed a smoke test: ${firstLine(err)}` };
  }
  const usingGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  if (choice === 'tfjs-node-gpu' && usingGpu === false) {
    return { name: choice, ok: true, reason: 'no GPU device is visible: TensorFlow runs on the CPU' };
  }
  return { name: choice, ok: true };
}

/** One line for logs and the run record, e.g. "wasm (SIMD, 2 threads)". */
export function describeBackend(report: BackendReport): string {
  if (report.name !== 'wasm') return report.name;
  const bits = [report.simd ? 'SIMD' : 'no SIMD', `${report.threads ?? 1} thread${report.threads === 1 ? '' : 's'}`];
  return `wasm (${bits.join(', ')})`;
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

  for (const choice of BACKEND_CHAIN.slice(start)) {
    let attempt: BackendAttempt;
    let extra: Pick<BackendReport, 'threads' | 'simd'> = {};
    if (choice === 'tfjs-node-gpu' || choice === 'tfjs-node') {
      attempt = await tryNative(choice, resolver);
    } else if (choice === 'wasm') {
      try {
        const res = await initWasm({
          threads: Math.max(1, Math.floor(opts.threads ?? defaultThreads())),
          wasmDir: opts.wasmDir,
          threadedInit: opts.threadedWasmInit,
          log,
        });
        if (res.threadsFallbackReason) {
          tried.push({ name: 'wasm-threads', ok: false, reason: res.threadsFallbackReason });
        }
        if (res.reused && opts.threads !== undefined && res.threads !== opts.threads) {
          log(`wasm: already initialised in this process with ${res.threads} thread(s); asked for ${opts.threads}`);
        }
        attempt = { name: 'wasm', ok: true };
        extra = { threads: res.threads, simd: res.simd };
        await smokeTest();
      } catch (err) {
        attempt = { name: 'wasm', ok: false, reason: `the wasm backend failed to start: ${firstLine(err)}` };
        extra = {};
      }
    } else {
      const ok = await tf.setBackend('cpu');
      attempt = ok ? { name: 'cpu', ok: true } : { name: 'cpu', ok: false, reason: 'the cpu backend failed to start' };
    }
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
