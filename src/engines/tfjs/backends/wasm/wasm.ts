/**
 * Bringing up the wasm backend: binaries from node_modules (never downloaded), SIMD detection, the threaded build
 * where it works (./wasm-threads.ts) with the single-threaded build as the fallback, and the kernel patches.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nodeRequire } from '../resolver';
import { registerFusedWasmKernels } from './fused-kernels';
import { applyWasmKernelPatches } from './wasm-patches';
import { initThreadedWasmNode, type ThreadedWasmInit, type WasmThreadsApi } from './wasm-threads';

export interface WasmInitOptions {
  /** XNNPACK threads wanted; ≤ 1 means the single-threaded build. */
  threads: number;
  /** Directory holding the `.wasm` binaries (default: the installed package's `dist/`). */
  wasmDir?: string;
  /** Replaces the threaded-build hack (tests). */
  threadedInit?: ThreadedWasmInit;
  log: (msg: string) => void;
}

export interface WasmInitResult {
  threads: number;
  simd: boolean;
  /** Set when threads were asked for and the threaded build did not come up. */
  threadsFallbackReason?: string;
  /** Set when wasm was already initialised in this process (threads cannot change any more). */
  reused: boolean;
}

type WasmModule = WasmThreadsApi & { setWasmPaths(prefix: string): void };

let wasmModule: WasmModule | undefined;
let pathsSet = false;

/** The wasm package's dist directory, with a trailing separator (the form `setWasmPaths` wants). */
export function defaultWasmDir(): string {
  return path.dirname(nodeRequire().resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
}

async function importWasm(): Promise<WasmModule> {
  // Imported lazily: importing registers the 'wasm' backend factory, which should not happen before it is wanted.
  wasmModule ??= (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModule;
  return wasmModule;
}

function wasmReady(): boolean {
  try {
    return tf.engine().registry['wasm'] != null;
  } catch {
    return false;
  }
}

/**
 * Emscripten's Node glue adds `uncaughtException`/`unhandledRejection` listeners that rethrow; they add nothing
 * to Node's defaults but get in the way of test runners and of the trainer's own handlers. Remove what init added.
 */
async function withoutAddedProcessListeners<T>(fn: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'];
  type Listener = (...args: unknown[]) => void;
  const listeners = (e: string) => process.listeners(e as 'uncaughtException') as Listener[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  try {
    return await fn();
  } finally {
    for (const e of events) {
      for (const l of listeners(e)) {
        if (!before.get(e)!.has(l)) process.removeListener(e, l);
      }
    }
  }
}

export async function initWasm(opts: WasmInitOptions): Promise<WasmInitResult> {
  const wasm = await importWasm();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  if (wasmReady()) {
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend was initialised but cannot be selected');
    applyWasmKernelPatches();
    registerFusedWasmKernels();
    return { threads: wasm.getThreadsCount(), simd, reused: true };
  }
  if (!pathsSet) {
    wasm.setWasmPaths(opts.wasmDir ?? defaultWasmDir());
    pathsSet = true;
  }
  let threadsFallbackReason: string | undefined;
  const ok = await withoutAddedProcessListeners(async () => {
    if (opts.threads > 1) {
      if (!simd) {
        threadsFallbackReason = 'the threaded wasm build needs SIMD, which this runtime lacks';
      } else {
        const res = await (opts.threadedInit ?? initThreadedWasmNode)(wasm, opts.threads).catch(
          (err: unknown) => ({ ok: false, reason: (err as Error).message }) as const,
        );
        if (res.ok) {
          if (res.reason) threadsFallbackReason = res.reason;
          return true;
        }
        threadsFallbackReason = res.reason ?? 'unknown failure';
        opts.log(`wasm: threaded build unavailable (${threadsFallbackReason}); using the single-threaded build`);
      }
    }
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(1);
    return tf.setBackend('wasm');
  });
  if (!ok) throw new Error('the wasm backend failed to initialise (see the TF.js warning above)');
  applyWasmKernelPatches();
  registerFusedWasmKernels();
  const threads = wasm.getThreadsCount();
  if (opts.threads > 1 && threads > 1 && threads < opts.threads) {
    opts.log(`wasm: asked for ${opts.threads} threads, XNNPACK uses ${threads}`);
  }
  return { threads, simd, threadsFallbackReason, reused: false };
}
