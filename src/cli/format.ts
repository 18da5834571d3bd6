/** Number formatting shared by the CLI's tables and summaries. */

/** 110106428 → "110,106,428". Exact: for the numbers users compare with papers. */
export function exact(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 1.23e9 → "1.23 G"; keeps three significant digits. */
export function si(n: number, unit = ''): string {
  const abs = Math.abs(n);
  const scales: [number, string][] = [
    [1e15, 'P'],
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, prefix] of scales) if (abs >= scale) return `${(n / scale).toPrecision(3)} ${prefix}${unit}`;
  return `${Number.isInteger(n) ? n : n.toPrecision(3)} ${unit}`.trimEnd();
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`;
}
