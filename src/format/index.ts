/**
 * How numbers are printed, once, for the CLI, the extension (labels, hovers, the Runs view) and the dashboard
 * webview. A leaf: it imports nothing (no Node, no DOM), so every layer can use it.
 *
 * One function per presentation:
 *   exact 110,106,428 · si 1.23 GFLOP · bytes 1.5 MiB · mebibytes 3840 MiB / 36 GiB (memory against MiB budgets)
 *   count 1.2 B (counts in sentences) · percent 12.5% (of a whole) · fraction 12.34% (a ratio in [0, 1])
 *   metric 2.3456 (losses, accuracies: 5 significant digits) · short 2.346 (axis ticks, table cells) · rate 1,234
 *   duration 12.3 s / 3 min 04 s (precise) · durationLabel 12 s (whole seconds, for labels)
 *   paramsLabel 110 M params · flopsPerTokenLabel 22.4 GFLOPs/token · lossLabel 2.346 or –
 */

/** 110106428 → "110,106,428" (rounded to an integer). Exact: for the numbers users compare with papers. */
export function exact(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.round(n).toLocaleString('en-US');
}

const SI: [number, string][] = [
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** 1.23e9 → "1.23 G" (with a unit: "1.23 GFLOP"); three significant digits. */
export function si(n: number, unit = ''): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  for (const [scale, prefix] of SI) if (abs >= scale) return `${(n / scale).toPrecision(3)} ${prefix}${unit}`;
  return `${Number.isInteger(n) ? n : n.toPrecision(3)} ${unit}`.trimEnd();
}

/** Bytes with binary prefixes: "512 B", "1.5 MiB", "120 GiB" (one decimal below 100). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(Math.abs(v) >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Memory as MiB or GiB, never smaller units: "3840 MiB", "7.7 GiB", "36 GiB" (next to budgets given in MiB). */
export function mebibytes(n: number): string {
  const mib = n / 2 ** 20;
  if (mib >= 1024) return `${(mib / 1024).toFixed(mib >= 10240 ? 0 : 1)} GiB`;
  return `${mib.toFixed(mib >= 100 ? 0 : 1)} MiB`;
}

/** Counts in sentences: "1.2 B", "345.6 M", "12.0 k", "999". */
export function count(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1e12) return `${(n / 1e12).toFixed(1)} T`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** `part` of `whole` as "12.5%"; "–" when the whole is 0. */
export function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** A ratio in [0, 1] (an accuracy) as "12.34%". */
export function fraction(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** A loss or accuracy as printed: 5 significant digits (so a reader can match it against metrics.jsonl). */
export function metric(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(5))) : x.toExponential(4);
}

/** A short number for axis ticks and table cells of losses and distances. */
export function short(n: number, digits = 4): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 1e4 || (Math.abs(n) < 1e-3 && n !== 0) ? n.toExponential(2) : String(Number(n.toPrecision(digits)));
}

/** A throughput: 1234 → "1,234"; 12.34 → "12.3". */
export function rate(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

/** A duration in ms, precisely: "250 ms", "12.3 s", "3 min 04 s", "1 h 02 min". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(sec).padStart(2, '0')} s`;
}

/** A duration in ms in whole seconds, for labels: "12 s", "3 min 04 s", "1 h 02 min". */
export function durationLabel(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** 110106428 → "110 M params"; small counts exactly ("512 params"). */
export function paramsLabel(n: number): string {
  if (n < 1000) return `${Math.round(n)} params`;
  return `${si(n)} params`;
}

/** FLOPs per token as GFLOPs with three significant digits ("22.4 GFLOPs/token"); tiny models in MFLOPs. */
export function flopsPerTokenLabel(flops: number): string {
  if (flops >= 1e8 || flops === 0) return `${(flops / 1e9).toPrecision(3)} GFLOPs/token`;
  return `${(flops / 1e6).toPrecision(3)} MFLOPs/token`;
}

/** A loss value with 4 significant digits; "–" when there is none. */
export function lossLabel(loss: number | null | undefined): string {
  return loss === null || loss === undefined || !Number.isFinite(loss) ? '–' : loss.toPrecision(4);
}
