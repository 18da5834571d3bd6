/**
 * The Pareto front of (cost, loss) points: the points no other point beats on both. A point is dominated when another
 * point costs no more and has a lower loss, or costs less and has no higher loss (standard dominance: at least as
 * good on both, strictly better on one). So of two points with the same cost the lower loss wins; of two with the
 * same loss the cheaper wins; two identical points are both on the front (neither beats the other).
 */

export interface ParetoPoint {
  id: string;
  /** What it costs (e.g. training FLOPs per token): lower is better. */
  cost: number;
  /** What it reached (e.g. the final validation loss): lower is better. */
  loss: number;
}

/** Whether `b` dominates `a`: no worse on both, strictly better on at least one. */
export function dominates(b: ParetoPoint, a: ParetoPoint): boolean {
  return b.cost <= a.cost && b.loss <= a.loss && (b.cost < a.cost || b.loss < a.loss);
}

/** The ids of the points on the front, in the order given. Non-finite points are never on it (and dominate none). */
export function paretoFront(points: readonly ParetoPoint[]): string[] {
  const finite = points.filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.loss));
  return finite.filter((a) => !finite.some((b) => b !== a && dominates(b, a))).map((p) => p.id);
}
