/**
 * Writes a sweep's report into its folder: report.md, loss-vs-flops.svg/.png and loss-vs-time.svg/.png, each
 * atomically (a temporary file renamed over the old one: a reader never sees half a file, and a failed write leaves
 * the previous report). The PNGs are the SVGs rasterised by @resvg/resvg-js (a prebuilt native module per platform);
 * where it cannot load, the SVGs and report.md are still written and the result says why there is no PNG.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { SweepReport } from '../../core/compare/report';
import { renderReportMarkdown, type SweepReportMeta } from '../../core/compare/report-md';
import { CHART_WIDTH, renderLossSvg } from '../../core/compare/report-svg';
import { writeFileAtomic } from '../../run-format/files';

/** The files of a report, by what they hold. */
export const REPORT_FILES = {
  markdown: 'report.md',
  flopsSvg: 'loss-vs-flops.svg',
  flopsPng: 'loss-vs-flops.png',
  timeSvg: 'loss-vs-time.svg',
  timePng: 'loss-vs-time.png',
} as const;

/** PNGs are rendered at this multiple of the SVG's size (crisp on high-density screens and in documents). */
export const PNG_SCALE = 2;

/** Font files used for the charts' text where they exist (Debian/Ubuntu: fonts-dejavu-core), else the system's fonts. */
export const CHART_FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

/** SVG text → PNG bytes, `PNG_SCALE` × its width. Rejects with a one-line Error when the rasteriser cannot load. */
export async function renderPng(svg: string, fontFiles: readonly string[] = CHART_FONT_FILES): Promise<Uint8Array> {
  let resvg: typeof import('@resvg/resvg-js');
  try {
    // Loaded when used (a native module: a bundle keeps it external, and a platform without its binary still
    // gets the SVGs and report.md).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    resvg = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  } catch (e) {
    throw new Error(`the PNG renderer (@resvg/resvg-js) did not load on this platform: ${(e as Error).message.split('\n')[0]}`);
  }
  const fonts = fontFiles.filter((f) => existsSync(f));
  const width = Number(/<svg[^>]*\swidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1] ?? CHART_WIDTH);
  const r = new resvg.Resvg(svg, {
    background: '#ffffff',
    fitTo: { mode: 'width', value: Math.round(width * PNG_SCALE) },
    font: fonts.length ? { loadSystemFonts: false, fontFiles: fonts, defaultFontFamily: 'DejaVu Sans' } : { loadSystemFonts: true },
  });
  return r.render().asPng();
}

export interface WrittenReport {
  /** The files written, absolute. */
  files: string[];
  /** What could not be written and why (the PNGs without a rasteriser), one line each. */
  warnings: string[];
}

/** Writes the report's files into `dir` (created if missing). `rasterise`: SVG → PNG (default `renderPng`). */
export async function writeSweepReport(
  dir: string,
  report: SweepReport,
  meta: SweepReportMeta,
  rasterise: (svg: string) => Promise<Uint8Array> = (svg) => renderPng(svg),
): Promise<WrittenReport> {
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  const warnings: string[] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    const file = path.join(dir, name);
    await writeFileAtomic(file, data);
    files.push(file);
  };
  const charts = [
    { svg: REPORT_FILES.flopsSvg, png: REPORT_FILES.flopsPng, text: renderLossSvg(report, 'flops') },
    { svg: REPORT_FILES.timeSvg, png: REPORT_FILES.timePng, text: renderLossSvg(report, 'time') },
  ];
  for (const c of charts) await write(c.svg, c.text);
  for (const c of charts) {
    try {
      await write(c.png, await rasterise(c.text));
    } catch (e) {
      warnings.push(`${c.png} not written: ${(e as Error).message}`);
    }
  }
  await write(REPORT_FILES.markdown, renderReportMarkdown(report, { ...meta, charts: { flops: REPORT_FILES.flopsSvg, time: REPORT_FILES.timeSvg } }));
  return { files, warnings };
}
