/** How a run is named in the dashboard. Numbers are formatted by src/format (shared with the CLI and the extension). */
import { runShortId, runTag, type RunInfo } from '../../src/protocol/webview';

/** A run's name with its short id ("tiny #3fa9c1"): two runs of one spec are told apart in legends and lists. */
export function runLabel(info: RunInfo): string {
  return `${info.name} #${runShortId(info.id)}`;
}

/** The run list's second line: "#3fa9c1 · 2025-01-01 12:00 · completed · wasm". */
export function runDetail(info: RunInfo): string {
  return [runTag(info.id, info.createdAt), info.state, info.backend].filter(Boolean).join(' · ');
}
