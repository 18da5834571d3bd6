/**
 * Exports: the webview cannot write files, so it builds the file (a PNG data URL or CSV text) and asks the host
 * to save it with `exportFile`.
 */

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; formula-looking text is defused. */
export function csvField(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let s = value;
  // A spreadsheet would run "=…", "+…", "-…", "@…" as a formula: prefix a quote (OWASP CSV injection).
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csv(header: readonly string[], rows: readonly (readonly (string | number | undefined | null)[])[]): string {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export interface PngPart {
  canvas: HTMLCanvasElement;
  title?: string;
}

/**
 * The canvases side by side (wrapping after `perRow`) on the theme's background, each under its title, as a
 * `data:image/png;base64,` URL. Canvas backgrounds are transparent; the export is not.
 */
export function composePng(parts: readonly PngPart[], style: { background: string; foreground: string; font: string }, perRow = 2): string {
  const gap = 16;
  const titleH = parts.some((p) => p.title) ? 22 : 0;
  const rows: PngPart[][] = [];
  for (let i = 0; i < parts.length; i += perRow) rows.push(parts.slice(i, i + perRow));
  const width = Math.max(1, ...rows.map((r) => r.reduce((w, p) => w + p.canvas.width, 0) + gap * (r.length + 1)));
  const height = rows.reduce((h, r) => h + Math.max(0, ...r.map((p) => p.canvas.height)) + titleH + gap, gap);
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context for the export');
  ctx.fillStyle = style.background;
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = style.foreground;
  ctx.font = style.font;
  ctx.textBaseline = 'top';
  let y = gap;
  for (const row of rows) {
    let x = gap;
    for (const p of row) {
      if (p.title) ctx.fillText(p.title, x, y + 2);
      ctx.drawImage(p.canvas, x, y + titleH);
      x += p.canvas.width + gap;
    }
    y += Math.max(0, ...row.map((p) => p.canvas.height)) + titleH + gap;
  }
  return out.toDataURL('image/png');
}

/** A file name the protocol accepts: letters, digits, `.`, `_`, `-`. */
export function safeFileName(stem: string, ext: 'png' | 'csv'): string {
  const clean = stem.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100) || 'export';
  return `${clean}.${ext}`;
}
