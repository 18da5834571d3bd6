/** core/compare/crossing.ts on synthetic curves whose crossings are worked out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAtFinalLoss, crossingAt, type CurvePoint } from '../../src/core/compare/crossing';

const curve = (...pairs: [number, number][]): CurvePoint[] => pairs.map(([x, y]) => ({ x, y }));
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

test('a monotone curve: interpolated linearly between the two bracketing points', () => {
  // Loss 4 → 2 between x = 10 and x = 20: loss 3 is half way (x = 15); loss 2.5 three quarters (x = 17.5).
  const c = curve([0, 6], [10, 4], [20, 2], [30, 1]);
  const half = crossingAt(c, 3);
  assert.ok(half.reached && near(half.x, 15) && half.interpolated && !half.atStart, JSON.stringify(half));
  const quarter = crossingAt(c, 2.5);
  assert.ok(quarter.reached && near(quarter.x, 17.5), JSON.stringify(quarter));
  // Between x = 20 (loss 2) and 30 (loss 1): loss 1.2 at 28.
  const late = crossingAt(c, 1.2);
  assert.ok(late.reached && near(late.x, 28), JSON.stringify(late));
});

test('a non-monotone curve: the first crossing counts, not a later one', () => {
  // Down through 3 between x = 1 (4) and 2 (2) at 1.5, back up above 3, and down through it again later.
  const c = curve([0, 5], [1, 4], [2, 2], [3, 5], [4, 1]);
  const r = crossingAt(c, 3);
  assert.ok(r.reached && near(r.x, 1.5), JSON.stringify(r));
});

test('reached exactly at a point: that point\'s x, not interpolated', () => {
  const r = crossingAt(curve([0, 5], [100, 3], [200, 2]), 3);
  assert.deepEqual(r, { reached: true, x: 100, interpolated: false, atStart: false });
});

test('never reached, and an empty curve: not reached, saying which', () => {
  assert.deepEqual(crossingAt(curve([0, 5], [1, 4], [2, 3.5]), 3), { reached: false, reason: 'not reached' });
  assert.deepEqual(crossingAt([], 3), { reached: false, reason: 'empty' });
});

test('a curve that starts below the target reached it by its first point (flagged: no point before it)', () => {
  assert.deepEqual(crossingAt(curve([7, 2], [8, 1]), 3), { reached: true, x: 7, interpolated: false, atStart: true });
});

test('the comparison with a reference: the reference\'s final loss, its last x, and the ratio', () => {
  // BERT ends at loss 2 after 100 FLOPs; the other run passes loss 2 between 40 (3) and 60 (1.5): at 40 + 20·(1/1.5) = 53.33…
  const bert = curve([0, 8], [50, 3], [100, 2]);
  const other = curve([0, 8], [40, 3], [60, 1.5], [80, 1]);
  const c = compareAtFinalLoss(bert, other)!;
  assert.equal(c.target, 2);
  assert.equal(c.referenceX, 100);
  assert.ok(c.crossing.reached && near(c.crossing.x, 40 + 20 / 1.5));
  assert.ok(near(c.ratio!, (40 + 20 / 1.5) / 100));
  const never = compareAtFinalLoss(bert, curve([0, 8], [100, 2.5]))!;
  assert.deepEqual(never.crossing, { reached: false, reason: 'not reached' });
  assert.equal(never.ratio, undefined);
  assert.equal(compareAtFinalLoss([], other), undefined, 'no reference loss: nothing to compare');
});

test('bad input is refused with a sentence: a decreasing x, a non-finite value or target', () => {
  assert.throws(() => crossingAt(curve([2, 5], [1, 4]), 3), /x must not decrease, but point 1 \(x 1\) comes after x 2/);
  assert.throws(() => crossingAt(curve([0, Number.NaN]), 3), /point 0 is not finite/);
  assert.throws(() => crossingAt(curve([0, 1]), Number.POSITIVE_INFINITY), /target loss must be a finite number/);
});
