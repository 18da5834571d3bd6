/**
 * The Costs tab's entries for specs the user is editing: a spec's current cost report, labelled with its name;
 * while the spec has errors the cost model cannot get past, its last good report, marked stale with the reason.
 * Pure (no `vscode`): the dashboard manager calls it after every analysis of a followed spec.
 */
import * as path from 'node:path';
import type { CostReport } from '../../core/cost/types';
import type { CostEntry } from '../../protocol/webview';

/** A label for a cost column: the spec's name, else its file name. */
export function costLabel(name: string | undefined, file: string): string {
  const label = name?.trim() || path.basename(file, '.convbert.json');
  return label.slice(0, 256) || 'spec';
}

export const STALE_MARK = '(stale: fix the spec’s errors to update)';

/**
 * The entry for a followed spec: its report now, or (no report: errors) the previous one marked stale; undefined
 * when there never was one.
 */
export function specCostEntry(name: string | undefined, file: string, report: CostReport | undefined, previous: CostEntry | undefined): CostEntry | undefined {
  if (report) return { label: costLabel(name, file), report };
  if (!previous) return undefined;
  const base = previous.label.endsWith(STALE_MARK) ? previous.label.slice(0, -STALE_MARK.length).trimEnd() : previous.label;
  return { label: `${costLabel(name ?? base, file)} ${STALE_MARK}`.slice(0, 256), report: previous.report };
}
