/**
 * Random numbers for training (initialisation, dropout seeds). The generator is the data pipeline's
 * (`core/data/rng.ts`: xoshiro128** with a four-uint32 state that checkpoints store exactly); this module adds the
 * distributions training needs on top of it, all drawn only from the generator so a restored state replays them.
 */
import { Rng, mixSeed, type RngState } from '../data/rng';

export { Rng, mixSeed, type RngState };

/** Standard normal (Box–Muller; two uniforms per sample, no cached spare, so the state alone determines it). */
export function normal(rng: Rng): number {
  const u1 = 1 - rng.float(); // (0, 1]
  const u2 = rng.float();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Normal with standard deviation `std`, redrawn outside ±`bound`·std (BERT's truncated-normal initializer: bound 2). */
export function truncatedNormal(rng: Rng, std: number, bound = 2): number {
  for (;;) {
    const z = normal(rng);
    if (Math.abs(z) <= bound) return z * std;
  }
}

/** A Float32Array of truncated-normal values. */
export function truncatedNormalArray(rng: Rng, size: number, std: number, bound = 2): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = truncatedNormal(rng, std, bound);
  return out;
}

/** A Float32Array uniform in [lo, hi). */
export function uniformArray(rng: Rng, size: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rng.float();
  return out;
}

/** A seed for a seeded TF.js op (`tf.dropout(x, rate, undefined, seed)`), drawn from the generator. */
export function opSeed(rng: Rng): number {
  return rng.nextU32();
}

/** Throws unless `value` is a valid saved generator state. */
export function parseRngState(value: unknown): RngState {
  return Rng.fromState(value as RngState).state();
}

/**
 * Sets `target` to a saved state in place, for a generator others hold a reference to (the job's `ctx.rng`,
 * restored after the job's `init` drew the initial weights from it). `core/data`'s `Rng` has no setter; its state
 * is its four own fields, which this copies from a generator made from the state.
 */
export function restoreRng(target: Rng, state: RngState): void {
  const source = Rng.fromState(state);
  Object.assign(target, source);
  const want = source.state();
  if (target.state().some((v, i) => v !== want[i])) throw new Error('restoreRng: the generator did not take the state');
}
