/** Number formatting for editor labels (CodeLens, hovers, status items, the Runs view). Pure. */
import { bytes, exact, si } from '../cli/format';

export { bytes, exact, si };

/** 110106428 → "110.1 M params". */
export function paramsLabel(n: number): string {
  if (n < 1000) return `${Math.round(n)} params`;
  return `${si(n)} params`;
}

/** FLOPs per token as GFLOPs with three significant digits ("22.4 GFLOPs/token"); tiny models in MFLOPs. */
export function flopsPerTokenLabel(flops: number): string {
  if (flops >= 1e8 || flops === 0) return `${(flops / 1e9).toPrecision(3)} GFLOPs/token`;
  return `${(flops / 1e6).toPrecision(3)} MFLOPs/token`;
}

/** A duration in ms as "1 h 02 min", "3 min 04 s", "12 s". */
export function durationLabel(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A loss value with 4 significant digits. */
export function lossLabel(loss: number | null | undefined): string {
  return loss === null || loss === undefined || !Number.isFinite(loss) ? '–' : loss.toPrecision(4);
}
