/**
 * What a TF.js backend is to the rest of the code: a declaration (TF.js-free, so the extension, the schema
 * generator and the fit check can read it) and a loader (which imports TF.js; only the trainer and `convbert eval`
 * reach it). Each backend is one folder under src/engines/tfjs/backends/: `index.ts` declares it, `load.ts` loads it.
 */
import type { BackendTraits } from '../../../core/ops/traits';
import type { ModuleResolver } from './resolver';
import type { ThreadedWasmInit } from './wasm/wasm-threads';

/** The most memory a backend can use for training: bytes, the machine's memory, or not known here (a GPU's). */
export interface MemoryLimit {
  limit: number | 'machine' | 'unknown';
  /** Why, in a few words (shown by the fit check). */
  why: string;
}

export interface BackendDeclaration<N extends string = string> {
  /** The name in specs (`training.backend`), settings and `--backend`. */
  readonly name: N;
  /** The spec schema's and the docs' description (Markdown; starts with the name in backticks). */
  readonly description: string;
  /** The VS Code setting's description (plain, one line). */
  readonly summary: string;
  /** The TF.js backend it registers and selects (`tf.getBackend()` once loaded). */
  readonly tfBackendName: string;
  /** The hard memory limit the fit check holds the cost model's estimate against. */
  readonly memory: MemoryLimit;
  /** What the ops read instead of the name (core/ops/traits.ts). */
  readonly traits: BackendTraits;
  /**
   * An optional npm package it needs: resolved (never loaded) to tell whether `auto` would pick it. `device`: it
   * also needs a device found only when it loads (a GPU adapter), so an installed package does not say `auto` takes it.
   */
  readonly requires?: { readonly package: string; readonly hint: string; readonly device?: boolean };
  /** Loads only where something is known only by trying (e.g. a native addon built at install): what. */
  readonly conditional?: string;
}

/** One candidate tried by the chooser. */
export interface BackendAttempt {
  /** A backend name, or a variant ('wasm-threads'). */
  name: string;
  ok: boolean;
  /** Why it was skipped (or, when ok, a caveat). */
  reason?: string;
}

export interface LoadContext {
  log: (msg: string) => void;
  /** What was asked for: 'auto', or a backend's name (a backend may accept more when named, e.g. a software GPU). */
  preference: string;
  /** How optional native packages are found and loaded (tests inject one). */
  resolver: ModuleResolver;
  /** wasm threads wanted (set by the chooser: its option or the machine's cores). */
  threads: number;
  /** Whether the caller asked for a thread count (else `threads` is the default). */
  threadsRequested: boolean;
  wasmDir?: string;
  threadedWasmInit?: ThreadedWasmInit;
}

export interface LoadOutcome {
  attempt: BackendAttempt;
  /** Variants tried and skipped before it (e.g. the threaded wasm build). */
  before?: BackendAttempt[];
  threads?: number;
  simd?: boolean;
  /** The device it runs on, where it has one worth naming (a GPU adapter). */
  device?: DeviceReport;
  /** The native library doing its heavy lifting, where it has one (e.g. "OpenBLAS 0.3.21, 2 BLAS threads"). */
  library?: string;
}

/** A GPU adapter as the run record, the CLI and the Runs view name it. */
export interface DeviceReport {
  vendor: string;
  architecture: string;
  description: string;
  /** A software rasteriser (lavapipe, SwiftShader), not a GPU. */
  software: boolean;
  /** The device limits requested (the adapter's own). */
  limits: Record<string, number>;
}

/** Loads one backend (and declares its traits): never throws, reports a failed attempt instead. */
export type BackendLoader = (ctx: LoadContext) => Promise<LoadOutcome>;

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}
