import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../fast-check-seed';
import { learningRateAt, type LearningRateSchedule } from '../../src/core/train/schedule';

const base: LearningRateSchedule = { peak: 1e-3, final: 1e-7, warmupSteps: 10, warmupPower: 1, decay: 'linear', decayPower: 1 };

function close(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= 1e-15 + 1e-12 * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);
}

test('linear warmup, then linear decay reaching `final` at the last update (hand-computed)', () => {
  const T = 110;
  close(learningRateAt(0, base, T), 1e-7, 't=0 is 0, clamped to final');
  close(learningRateAt(1, base, T), 1e-4, 't=1: 1e-3·1/10');
  close(learningRateAt(5, base, T), 5e-4, 't=5');
  close(learningRateAt(10, base, T), 1e-3, 't=W is the peak');
  // t=11: 1e-7 + (1e-3 − 1e-7)·(110 − 11 − 1)/100 = 1e-7 + 9.999e-4·0.98 = 9.80002e-4
  close(learningRateAt(11, base, T), 9.80002e-4, 't=11');
  // t=60: 1e-7 + 9.999e-4·49/100 = 4.90051e-4
  close(learningRateAt(60, base, T), 4.90051e-4, 't=60');
  close(learningRateAt(109, base, T), 1e-7, 'the last update uses final');
  close(learningRateAt(500, base, T), 1e-7, 'past the end stays at final');
});

test('square-root warmup (GroupBERT LAMB) and the polynomial decay of the reference', () => {
  const s: LearningRateSchedule = { ...base, peak: 0.012, warmupSteps: 16, warmupPower: 0.5, decay: 'polynomial', decayPower: 1 };
  const T = 116;
  close(learningRateAt(4, s, T), 0.006, 't=4: 0.012·√(4/16)');
  close(learningRateAt(9, s, T), 0.009, 't=9: 0.012·√(9/16)');
  // t=66: (0.012 − 1e-7)·(1 − 50/100) + 1e-7 = 0.00600005
  close(learningRateAt(66, s, T), 0.00600005, 't=66');
  const p2: LearningRateSchedule = { ...base, final: 0, warmupSteps: 0, decay: 'polynomial', decayPower: 2 };
  close(learningRateAt(0, p2, 100), 1e-3, 'no warmup: the peak at t=0');
  close(learningRateAt(50, p2, 100), 2.5e-4, 't=50: 1e-3·0.5²');
  close(learningRateAt(90, p2, 100), 1e-5, 't=90: 1e-3·0.1²');
});

test('cosine decay and constant', () => {
  const cos: LearningRateSchedule = { ...base, final: 0, warmupSteps: 0, decay: 'cosine' };
  close(learningRateAt(0, cos, 4), 1e-3 * 0.5 * (1 + Math.SQRT1_2), 't=0: ½(1+cos(π/4))');
  close(learningRateAt(1, cos, 4), 5e-4, 't=1: ½(1+cos(π/2))');
  close(learningRateAt(3, cos, 4), 0, 't=3, the last update: final');
  const constant: LearningRateSchedule = { ...base, decay: 'constant' };
  close(learningRateAt(5, constant, 100), 5e-4, 'warmup applies');
  close(learningRateAt(99, constant, 100), 1e-3, 'then the peak to the end');
});

test('warmup longer than the run: warmup then the peak; no NaN from W = 0 or T = W', () => {
  close(learningRateAt(5, { ...base, warmupSteps: 100 }, 20), 5e-5, 'in warmup');
  close(learningRateAt(10, { ...base, warmupSteps: 10 }, 10), 1e-3, 'T = W');
  close(learningRateAt(0, { ...base, warmupSteps: 0 }, 1), 1e-7, 'one step, linear: the last update is at final');
});

test('the AdamW recipe: linear with final 1e-7 is the reference max(1e-7, peak·(T−t−1)/(T−W)) to within 1e-7', () => {
  const s: LearningRateSchedule = { peak: 8e-4, final: 1e-7, warmupSteps: 100, warmupPower: 1, decay: 'linear', decayPower: 1 };
  const T = 1000;
  for (let t = 101; t < T; t++) {
    const reference = Math.max(1e-7, (8e-4 * (T - t - 1)) / (T - 100));
    assert.ok(Math.abs(learningRateAt(t, s, T) - reference) <= 1e-7 + 1e-18, `t=${t}`);
  }
});

test('property: always finite, at least final, at most max(peak, final)', () => {
  fc.assert(
    fc.property(
      fc.record({
        peak: fc.double({ min: 0, max: 10, noNaN: true }),
        final: fc.double({ min: 0, max: 10, noNaN: true }),
        warmupSteps: fc.nat(1000),
        warmupPower: fc.double({ min: 0, max: 4, noNaN: true }),
        decay: fc.constantFrom('linear' as const, 'polynomial' as const, 'cosine' as const, 'constant' as const),
        decayPower: fc.double({ min: 0, max: 10, noNaN: true }),
      }),
      fc.nat(5000),
      fc.integer({ min: 1, max: 5000 }),
      (s, t, T) => {
        const lr = learningRateAt(t, s, T);
        return Number.isFinite(lr) && lr >= s.final && lr <= Math.max(s.peak, s.final) * (1 + 1e-12);
      },
    ),
    { numRuns: 3000 },
  );
});
