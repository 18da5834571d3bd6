/**
 * The learning-rate schedule of groupbert.md §9.5 (Graphcore's `lr_schedules/polynomial_decay.py`), with the
 * reference's floor of 1e-7 generalised to the spec's `final`.
 *
 * `t` is the 0-based index of the update being taken (0 … T−1), W = warmupSteps, T = totalSteps:
 *
 * - warmup, W > 0 and t ≤ W:  lr = peak · (t/W)^warmupPower                       (0 at t = 0, peak at t = W)
 * - then, by `decay`:
 *   - `linear`:     lr = final + (peak − final) · (T − t − 1)/(T − W)                 (the reference's scalar-power-1
 *                   form, the AdamW recipe: reaches `final` exactly at the last update t = T − 1)
 *   - `polynomial`: lr = final + (peak − final) · (1 − (t − W)/(T − W))^decayPower     (the reference's list form,
 *                   the LAMB recipe `lr_power [0.5, 1]`)
 *   - `cosine`:     lr = final + (peak − final) · ½(1 + cos(π · (t + 1 − W)/(T − W)))  (progress as in `linear`:
 *                   `final` at the last update)
 *   - `constant`:   lr = peak
 * - the progress is clamped to [0, 1] (t ≥ T stays at the end value) and the result to at least `final`.
 */
import type { ResolvedTraining } from '../spec/resolve';

export type LearningRateSchedule = ResolvedTraining['learningRate'];

export function learningRateAt(step: number, schedule: LearningRateSchedule, totalSteps: number): number {
  const { peak, final, warmupSteps: W, warmupPower, decay, decayPower } = schedule;
  const T = totalSteps;
  const t = Math.max(0, step);
  // Never below `final`, never above the peak (rounding of tiny rates could otherwise step past either).
  const top = Math.max(peak, final);
  const clamp = (lr: number) => Math.min(top, Math.max(final, Number.isFinite(lr) ? lr : final));
  if (W > 0 && t <= W) return clamp(peak * Math.pow(t / W, warmupPower));
  if (decay === 'constant' || T <= W) return clamp(peak);
  const span = T - W;
  const unit = (x: number) => Math.min(1, Math.max(0, x));
  switch (decay) {
    case 'linear':
      return clamp(final + (peak - final) * unit((T - t - 1) / span));
    case 'polynomial':
      return clamp(final + (peak - final) * Math.pow(unit(1 - (t - W) / span), decayPower));
    case 'cosine':
      return clamp(final + (peak - final) * (0.5 * (1 + Math.cos(Math.PI * unit((t + 1 - W) / span)))));
  }
}
