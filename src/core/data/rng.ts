/**
 * A small, fast, seedable PRNG (xoshiro128**, seeded through splitmix32) whose whole state is four uint32s, so it
 * can be saved in a checkpoint and restored exactly. Everything random in the data pipeline draws from one of these.
 */

export type RngState = [number, number, number, number];

const TWO_32 = 4294967296;

/** One splitmix32 step: returns [next state, output]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [s, z >>> 0];
}

/** Mixes any number of integers (seed, epoch, stream tag…) into one 32-bit value. Non-integers are truncated. */
export function mixSeed(...parts: number[]): number {
  let s = 0x6a09e667;
  for (const p of parts) {
    const v = Math.trunc(p);
    const lo = v >>> 0;
    const hi = Math.floor(v / TWO_32) >>> 0;
    s = splitmix32((s ^ lo) | 0)[1];
    s = splitmix32((s ^ hi ^ 0x85ebca6b) | 0)[1];
  }
  return s >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v >>> 0) as RngState;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A generator seeded from any number of integers (`Rng.fromSeed(seed, epoch, STREAM)`). */
  static fromSeed(...parts: number[]): Rng {
    let sm = mixSeed(...parts) | 0;
    const st: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(sm);
      sm = next;
      st.push(out);
    }
    return new Rng(st as RngState);
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v >= TWO_32)) {
      throw new Error(`invalid RNG state ${JSON.stringify(state)}: expected four uint32 values`);
    }
    return new Rng(state);
  }

  /** A copy of the state (plain JSON). */
  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  clone(): Rng {
    return new Rng(this.state());
  }

  /** Uniform uint32. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.nextU32() / TWO_32;
  }

  /** Uniform integer in [0, n), without modulo bias. `n` must be in [1, 2^32]. */
  int(n: number): number {
    if (!(n >= 1 && n <= TWO_32) || !Number.isInteger(n)) throw new RangeError(`Rng.int: bad bound ${n}`);
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * mulberry32: a tiny seeded uniform [0, 1) stream, for test fixtures and gradient checks that need cheap
 * reproducible numbers (training uses `Rng`).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
