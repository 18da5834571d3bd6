/** Test helpers shared by the native addon's kernel tests: a heap on a WebAssembly.Memory, random inputs, comparisons. */
import assert from 'node:assert/strict';
import { mulberry32 } from '../../src/core/rng';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { loadBlasAddon, type BlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { blasKernelsInstalled } from '../../src/engines/tfjs/backends/blas/kernels';

const MiB = 1024 * 1024;

/** The WebAssembly JS API (the project compiles without the DOM lib, which declares it). */
export const WA = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}).WebAssembly;

/**
 * A bump allocator (16-byte aligned, 16 bytes of slack after each block) over a WebAssembly.Memory of a fixed size,
 * reset per case. The methods are arrow fields, so they can be destructured: `const { alloc, put, get } = mem`.
 */
export class NativeTestHeap {
  /** The memory itself (a wasm module may import it). */
  readonly memory: { buffer: ArrayBuffer };
  /** The memory's bytes, as the addon's kernels take them. */
  readonly heap: Uint8Array;
  /** The memory as floats (index = byte offset / 4). */
  readonly f32: Float32Array;
  private top = 0;

  constructor(mib: number) {
    this.memory = new WA.Memory({ initial: (mib * MiB) / 65536 });
    this.heap = new Uint8Array(this.memory.buffer);
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /** The byte offset of a new block of n floats. */
  readonly alloc = (n: number): number => {
    const off = this.top;
    this.top += Math.ceil((4 * n) / 16) * 16 + 16;
    assert.ok(this.top <= this.heap.length, 'test heap exhausted');
    return off;
  };

  /** Frees every block, filling what the last case wrote with NaN: stale values must not pass for results. */
  readonly reset = (): void => {
    this.f32.fill(NaN, 0, this.top / 4);
    this.top = 0;
  };

  /** The byte offset of a new block holding these values. */
  readonly put = (values: ArrayLike<number>): number => {
    const off = this.alloc(values.length);
    this.f32.set(values, off / 4);
    return off;
  };

  /** A copy of the n floats at byte offset off. */
  readonly get = (off: number, n: number): Float32Array<ArrayBuffer> => this.f32.slice(off / 4, off / 4 + n);
}

/** n floats uniform in [shift − scale, shift + scale), from mulberry32(seed). */
export function randArray(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale + shift;
  return out;
}

/** The number of elements of a shape. */
export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** max |got − want| ≤ tol · max |want| (and the lengths agree, non-finite values where the reference has them). */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Number.isFinite(got[i]!) === Number.isFinite(want[i]!), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
    if (Number.isFinite(want[i]!)) {
      diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
  }
  assert.ok(diff <= tol * Math.max(scale, 1e-30), `${what}: differs by ${(diff / Math.max(scale, 1e-30)).toExponential(2)} relative (tolerance ${tol})`);
}

/** Each element within rel of its own reference, plus an absolute floor (equal values always pass). */
export function assertEach(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rel: number, abs = 0): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g === w) continue;
    assert.ok(Math.abs(g - w) <= rel * Math.abs(w) + abs, `${what}[${i}]: ${g} vs ${w}`);
  }
}

/** Bit-identical, element by element (so NaN = NaN of the same bits, and 0 ≠ −0). */
export function assertSame(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`${what}[${i}]: ${got[i]} vs ${want[i]} (not bit-identical)`);
}

/** The native addon and its file, or why it cannot be loaded here (printed as a skip). */
export async function loadAddonForTests(): Promise<{ addon: BlasAddon; file: string } | string> {
  const found = await loadBlasAddon();
  if (found.ok) return found;
  const why = `no native BLAS addon here: ${found.reason}`;
  console.log(`# skipped: ${why}`);
  return why;
}

/** Loads TF.js's blas backend (2 threads, native kernels installed): false, or why not (printed as a skip). */
export async function loadBlasForTests(): Promise<string | false> {
  try {
    await loadBackend('blas', { strict: true, threads: 2 });
    assert.ok(blasKernelsInstalled());
    return false;
  } catch (err) {
    const why = `the blas backend does not load: ${(err as Error).message}`;
    console.log(`# skipped: ${why}`);
    return why;
  }
}
