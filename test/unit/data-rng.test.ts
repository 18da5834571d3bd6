import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mixSeed, Rng } from '../../src/core/rng';

describe('data: Rng (xoshiro128**)', () => {
  it('is deterministic for a seed and differs between seeds and streams', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    const seqA = Array.from({ length: 8 }, () => a.nextU32());
    assert.deepEqual(Array.from({ length: 8 }, () => b.nextU32()), seqA);
    const c = Rng.fromSeed(43);
    assert.notDeepEqual(Array.from({ length: 8 }, () => c.nextU32()), seqA);
    const d = Rng.fromSeed(42, 1);
    assert.notDeepEqual(Array.from({ length: 8 }, () => d.nextU32()), seqA);
    assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
    assert.notEqual(mixSeed(2 ** 32), mixSeed(0)); // high bits of large seeds count
  });

  it('restores from a JSON round trip of its state and continues identically', () => {
    const r = Rng.fromSeed(7);
    for (let i = 0; i < 100; i++) r.nextU32();
    const saved = JSON.parse(JSON.stringify(r.state())) as ReturnType<Rng['state']>;
    const expected = Array.from({ length: 20 }, () => r.float());
    const s = Rng.fromState(saved);
    assert.deepEqual(Array.from({ length: 20 }, () => s.float()), expected);
    assert.throws(() => Rng.fromState([1, 2, 3] as unknown as ReturnType<Rng['state']>), /invalid RNG state/);
    assert.throws(() => Rng.fromState([1, 2, 3, -1]), /invalid RNG state/);
  });

  it('draws uniform integers in range (chi-square) and floats in [0, 1)', () => {
    const r = Rng.fromSeed(1);
    const k = 10;
    const n = 50_000;
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      const v = r.int(k);
      assert.ok(v >= 0 && v < k && Number.isInteger(v));
      counts[v]!++;
    }
    const exp = n / k;
    const chi2 = counts.reduce((s, c) => s + (c - exp) ** 2 / exp, 0);
    assert.ok(chi2 < 27.9, `chi2 ${chi2} (9 dof, p=0.001 bound 27.9)`);
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      assert.ok(f >= 0 && f < 1);
      mean += f / n;
    }
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    for (let i = 0; i < 1000; i++) {
      const v = r.range(3, 5);
      assert.ok(v >= 3 && v <= 5);
    }
    assert.throws(() => r.int(0), RangeError);
  });

  it('shuffles into a permutation', () => {
    const a = Rng.fromSeed(3).shuffle(Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(a, Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(Rng.fromSeed(3).shuffle(Array.from({ length: 50 }, (_, i) => i)), a);
  });
});
