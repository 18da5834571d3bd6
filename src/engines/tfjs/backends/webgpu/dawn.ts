/**
 * Dawn in Node: the npm package `webgpu` ships a prebuilt `dawn.node` per platform (dist/<platform>-<arch>/; macOS
 * one universal build). It is loaded directly (the package's own entry is an ES module, which not every Node that
 * runs the trainer can `require`), and `navigator.gpu` plus the WebGPU globals (GPUBufferUsage, …) are installed —
 * before `@tensorflow/tfjs-backend-webgpu` is first evaluated, which checks `navigator.gpu` once, at import.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModuleResolver } from '../resolver';
import { nodeRequire } from '../resolver';

/** The folder of the prebuilt Dawn for a platform and architecture, as the `webgpu` package lays them out. */
export function dawnPlatformFolder(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${platform === 'darwin' ? 'universal' : arch}`;
}

/** The part of the WebGPU API this backend touches (no DOM types in the build). */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power'; forceFallbackAdapter?: boolean }): Promise<AdapterLike | null>;
}
export interface AdapterLike {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean };
  requestDevice(descriptor?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<DeviceLike>;
}
export interface DeviceLike {
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean };
  readonly lost: Promise<{ reason: string; message: string }>;
  onuncapturederror: ((event: { error: { message: string; constructor: { name: string } } }) => void) | null;
  destroy(): void;
}

export type DawnResult = { ok: true; gpu: GpuLike } | { ok: false; reason: string };

let brought: GpuLike | undefined;

/**
 * Loads Dawn and installs `navigator.gpu` (once per process). Never throws: says why not, naming the fix.
 */
export function bringUpDawn(resolver: ModuleResolver): DawnResult {
  if (brought) return { ok: true, gpu: brought };
  let manifest: string | undefined;
  try {
    manifest = resolver.resolve('webgpu/package.json');
  } catch (err) {
    return { ok: false, reason: `the webgpu package could not be resolved: ${(err as Error).message.split('\n')[0]}` };
  }
  if (!manifest) return { ok: false, reason: 'the optional package webgpu is not installed (npm i webgpu): it brings Dawn, WebGPU for Node' };
  const folder = dawnPlatformFolder();
  const binary = path.join(path.dirname(manifest), 'dist', folder, 'dawn.node');
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  try {
    dawn = nodeRequire()(binary) as typeof dawn;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND') return { ok: false, reason: `the webgpu package has no Dawn build for ${folder} (${binary} is missing)` };
    return { ok: false, reason: `Dawn (webgpu's dawn.node) failed to load: ${e.message.split('\n')[0]}` };
  }
  // Dawn's Vulkan loader wants a runtime folder; a trainer started without a session has none.
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = path.join(tmpdir(), `convbert-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create([]);
  const nav = (g.navigator ?? {}) as Record<string, unknown>;
  try {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
    if (g.navigator !== nav) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  } catch (err) {
    return { ok: false, reason: `navigator.gpu could not be installed: ${(err as Error).message}` };
  }
  brought = gpu;
  return { ok: true, gpu };
}
