/** Number formatting for labels, tables and CSV; how a run is named. */
import { runShortId, runTag, type RunInfo } from '../../src/protocol/webview';

/** A run's name with its short id ("tiny #3fa9c1"): two runs of one spec are told apart in legends and lists. */
export function runLabel(info: RunInfo): string {
  return `${info.name} #${runShortId(info.id)}`;
}

/** The run list's second line: "#3fa9c1 · 2025-01-01 12:00 · completed · wasm". */
export function runDetail(info: RunInfo): string {
  return [runTag(info.id, info.createdAt), info.state, info.backend].filter(Boolean).join(' · ');
}

const UNITS = [
  { v: 1e12, s: 'T' },
  { v: 1e9, s: 'G' },
  { v: 1e6, s: 'M' },
  { v: 1e3, s: 'k' },
];

/** 3 significant digits with an SI prefix: 1.23 M, 456 k, 12.0 G. */
export function si(n: number, unit = ''): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  for (const u of UNITS) {
    if (a >= u.v) return `${(n / u.v).toPrecision(3)} ${u.s}${unit}`;
  }
  if (a === 0) return `0${unit ? ` ${unit}` : ''}`;
  return `${Number.isInteger(n) ? String(n) : n.toPrecision(3)}${unit ? ` ${unit}` : ''}`;
}

/** Bytes with binary prefixes. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : v.toPrecision(3)} ${units[i]}`;
}

/** Exact integer with thin-space grouping, for tables and tooltips. */
export function exact(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumSignificantDigits: 6 });
}

/** A short number for axis ticks and table cells of losses and distances. */
export function short(n: number, digits = 4): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 1e4 || (Math.abs(n) < 1e-3 && n !== 0) ? n.toExponential(2) : String(Number(n.toPrecision(digits)));
}
