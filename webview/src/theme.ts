/**
 * Colours from the VS Code theme (`--vscode-*` variables on the page), with per-kind fallbacks for a plain
 * browser. The theme kind comes from the body class (`vscode-light`, `vscode-dark`, `vscode-high-contrast`,
 * `vscode-high-contrast-light`). `watchTheme` calls back when the class or the variables change.
 */
import type { ThemeKind } from '../../src/protocol/webview';

export interface Theme {
  kind: ThemeKind;
  highContrast: boolean;
  foreground: string;
  muted: string;
  background: string;
  border: string;
  grid: string;
  focus: string;
  fontFamily: string;
  fontSize: number;
  /** Run colours, in order. */
  series: string[];
  /** Colours of the cost kinds (attention, conv, gffn, ffn, embeddings, heads). */
  kinds: Record<string, string>;
  lineWidth: number;
}

const FALLBACK: Record<'light' | 'dark' | 'hc', Record<string, string>> = {
  dark: {
    fg: '#cccccc',
    muted: '#9d9d9d',
    bg: '#1f1f1f',
    border: '#2b2b2b',
    grid: 'rgba(191, 191, 191, 0.25)',
    focus: '#0078d4',
    blue: '#3794ff',
    orange: '#d18616',
    green: '#89d185',
    purple: '#b180d7',
    red: '#f14c4c',
    yellow: '#cca700',
  },
  light: {
    fg: '#3b3b3b',
    muted: '#717171',
    bg: '#ffffff',
    border: '#e5e5e5',
    grid: 'rgba(0, 0, 0, 0.12)',
    focus: '#005fb8',
    blue: '#1a85ff',
    orange: '#d18616',
    green: '#388a34',
    purple: '#652d90',
    red: '#e51400',
    yellow: '#bf8803',
  },
  hc: {
    fg: '#ffffff',
    muted: '#ffffff',
    bg: '#000000',
    border: '#6fc3df',
    grid: '#6fc3df',
    focus: '#f38518',
    blue: '#3794ff',
    orange: '#d18616',
    green: '#89d185',
    purple: '#b180d7',
    red: '#f14c4c',
    yellow: '#ffff00',
  },
};

/** Extra run colours after the six `charts.*` colours (Okabe–Ito, distinguishable with colour-blindness). */
const EXTRA_SERIES = ['#56b4e9', '#e69f00', '#009e73', '#cc79a7', '#0072b2', '#d55e00'];

export function themeKind(body: HTMLElement = document.body): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  if (c.contains('vscode-dark')) return 'dark';
  return window.matchMedia?.('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
}

export function readTheme(): Theme {
  const kind = themeKind();
  const highContrast = kind === 'high-contrast' || kind === 'high-contrast-light';
  const fb = kind === 'high-contrast' ? FALLBACK.hc : kind === 'light' || kind === 'high-contrast-light' ? FALLBACK.light : FALLBACK.dark;
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => style.getPropertyValue(`--vscode-${name}`).trim() || fallback;
  const foreground = v('charts-foreground', v('foreground', fb.fg!));
  const contrastBorder = style.getPropertyValue('--vscode-contrastBorder').trim();
  const colour = (name: string) => v(`charts-${name}`, fb[name]!);
  const series = [colour('blue'), colour('orange'), colour('green'), colour('purple'), colour('red'), colour('yellow'), ...EXTRA_SERIES];
  const fontSize = Number.parseFloat(v('font-size', '13')) || 13;
  return {
    kind,
    highContrast,
    foreground,
    muted: v('descriptionForeground', fb.muted!),
    background: v('editor-background', v('sideBar-background', fb.bg!)),
    border: contrastBorder || v('panel-border', fb.border!),
    grid: highContrast && contrastBorder ? withAlpha(contrastBorder, 0.6) : v('charts-lines', fb.grid!),
    focus: v('focusBorder', fb.focus!),
    fontFamily: v('font-family', 'system-ui, -apple-system, "Segoe UI", sans-serif'),
    fontSize,
    series,
    kinds: {
      attention: colour('blue'),
      conv: colour('orange'),
      gffn: colour('green'),
      ffn: colour('purple'),
      embeddings: colour('yellow'),
      heads: colour('red'),
    },
    lineWidth: highContrast ? 2.5 : 1.75,
  };
}

let probe: CanvasRenderingContext2D | null | undefined;
/** `color` (any CSS colour) with its alpha multiplied by `alpha`, as `rgba(…)`. */
export function withAlpha(color: string, alpha: number): string {
  probe ??= document.createElement('canvas').getContext('2d');
  if (!probe) return color;
  probe.fillStyle = '#000000';
  probe.fillStyle = color;
  const normal = String(probe.fillStyle);
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(normal);
  if (m) return `rgba(${parseInt(m[1]!, 16)}, ${parseInt(m[2]!, 16)}, ${parseInt(m[3]!, 16)}, ${alpha})`;
  m = /^rgba?\(\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(normal);
  if (m) return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${(m[4] === undefined ? 1 : Number(m[4])) * alpha})`;
  return color;
}

/** Calls `onChange` (once per frame at most) when the body class or the theme variables change. */
export function watchTheme(onChange: () => void): () => void {
  let pending = false;
  const fire = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      onChange();
    });
  };
  const observer = new MutationObserver(fire);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind', 'data-vscode-theme-id'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return () => observer.disconnect();
}
