/**
 * Where one run's curve reaches a loss another run ended at: the question "at equal compute, which trains better?"
 * asked as "how much compute (or time) does run B need to reach run A's final loss, and how does that compare with
 * what A spent?". Curves are (x, loss) points with x the training FLOPs or the training time, ascending.
 *
 * The crossing is the first x at which the curve is at or below the target loss, linearly interpolated between the
 * two points that bracket it (the last point above the target and the first at or below it). A curve that is at
 * or below the target at its first point reached it no later than that point: its first x, flagged `atStart` (no
 * point before it to interpolate from). A curve that never gets there has not reached it.
 */

export interface CurvePoint {
  /** Training FLOPs or training time (ascending along the curve). */
  x: number;
  /** The loss at x (usually the validation loss). */
  y: number;
}

export type Crossing =
  | {
      reached: true;
      /** The x at which the curve first reaches the target. */
      x: number;
      /** Interpolated between two points (`false`: exactly at a point). */
      interpolated: boolean;
      /** The first point is already at or below the target: `x` is that point's, an upper bound. */
      atStart: boolean;
    }
  | { reached: false; reason: 'empty' | 'not reached' };

function checkCurve(curve: readonly CurvePoint[], what: string): void {
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i]!;
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new RangeError(`${what}: point ${i} is not finite (x ${p.x}, loss ${p.y})`);
    if (i > 0 && p.x < curve[i - 1]!.x) throw new RangeError(`${what}: x must not decrease, but point ${i} (x ${p.x}) comes after x ${curve[i - 1]!.x}`);
  }
}

/** The first x at which `curve` reaches `target` (loss ≤ target), interpolated linearly; or why it does not. */
export function crossingAt(curve: readonly CurvePoint[], target: number): Crossing {
  if (!Number.isFinite(target)) throw new RangeError(`the target loss must be a finite number, not ${target}`);
  checkCurve(curve, 'curve');
  if (curve.length === 0) return { reached: false, reason: 'empty' };
  const i = curve.findIndex((p) => p.y <= target);
  if (i < 0) return { reached: false, reason: 'not reached' };
  const b = curve[i]!;
  if (i === 0) return { reached: true, x: b.x, interpolated: false, atStart: true };
  if (b.y === target) return { reached: true, x: b.x, interpolated: false, atStart: false };
  const a = curve[i - 1]!;
  // a.y > target > b.y: the straight line from a to b meets the target at this fraction of the way.
  const t = (a.y - target) / (a.y - b.y);
  return { reached: true, x: a.x + t * (b.x - a.x), interpolated: true, atStart: false };
}

export interface CrossingComparison {
  /** The reference's final loss: the target. */
  target: number;
  /** What the reference spent to get there: its last x. */
  referenceX: number;
  crossing: Crossing;
  /** crossing x / reference x: below 1, the other run reached the reference's final loss with less. */
  ratio?: number;
}

/**
 * How the other run fares against a reference: the x at which it first reaches the reference's final loss, and
 * that x as a ratio of what the reference spent (its last x). No ratio when not reached or the reference spent 0.
 */
export function compareAtFinalLoss(reference: readonly CurvePoint[], other: readonly CurvePoint[]): CrossingComparison | undefined {
  checkCurve(reference, 'reference curve');
  const last = reference[reference.length - 1];
  if (!last) return undefined;
  const crossing = crossingAt(other, last.y);
  return { target: last.y, referenceX: last.x, crossing, ...(crossing.reached && last.x > 0 ? { ratio: crossing.x / last.x } : {}) };
}
