/**
 * How a run is named in the editor (the Runs view, its tooltip, the Quick Picks, Compare's column titles): its
 * name, its short id and start time (what tells two runs of one spec apart), its state and progress, and its best
 * loss labelled train or val. Pure (no `vscode`): unit-tested.
 */
import { runTag } from '../../protocol/webview';
import { lossLabel } from '../../format';
import type { RunRecord } from './registry';

/** "best val 10.76" / "best train 10.77": which loss, always. */
export function bestLossLabel(r: RunRecord): string | undefined {
  return r.bestLoss === undefined ? undefined : `best ${r.bestKind ?? 'train'} ${lossLabel(r.bestLoss)}`;
}

/** "#3fa9c1 · 2025-01-01 12:00": the short id and the start time. */
export function runTagOf(r: RunRecord): string {
  return runTag(r.runId, r.createdAt);
}

/** The state and progress: "completed · wasm · step 30/30 · best val 10.76". */
export function runStatus(r: RunRecord): string {
  const parts: string[] = [r.state];
  if (r.backend) parts.push(r.backend);
  parts.push(r.totalSteps ? `step ${r.step}/${r.totalSteps}` : `step ${r.step}`);
  const best = bestLossLabel(r);
  if (best) parts.push(best);
  return parts.join(' · ');
}

export function runDescription(r: RunRecord): string {
  return `${runTagOf(r)} · ${runStatus(r)}`;
}

/** A Quick Pick item for a run: the same name, tag and status as the Runs view; the full id as its detail. */
export function runPickItem(r: RunRecord): { label: string; description: string; detail: string; runId: string } {
  return { label: r.name, description: runDescription(r), detail: r.runId, runId: r.runId };
}
