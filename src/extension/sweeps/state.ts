/**
 * The sweeps of a workspace as the dashboard's Sweep view needs them: `.convbert/sweeps/<name>/state.json`, read
 * with the runner's own reader (src/engines/sweep/state.ts), and the crossing table of each, built by the report's
 * pure analysis (`buildSweepReport`, src/core/compare/report.ts) from each run's directory: its spec snapshot (the
 * family, parameters and training FLOPs per token, by the cost model) and its metrics.jsonl through src/run-format
 * (`runEvalCurve`: validation loss with the training FLOPs and time spent through each evaluated step).
 *
 * Pure Node (no `vscode`): unit-tested against real directories.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildSweepReport, type SweepRunInput } from '../../core/compare/report';
import { specFamily } from '../../core/sweep/ablations';
import { readSweepState, SWEEPS_DIR } from '../../engines/sweep/state';
import type { SweepCrossing, SweepInfo } from '../../protocol/webview';
import { runEvalCurve } from '../../run-format/eval-curve';
import { readMetricEvents } from '../../run-format/metrics';
import { runPaths } from '../../run-format/run-dir';
import { analyzeSpecText } from '../analysis';

export { SWEEPS_DIR };
export { SWEEP_STATE_FILE } from '../../engines/sweep/state';

export interface SweepRecord {
  name: string;
  /** The sweep's folder, `.convbert/sweeps/<name>/`. */
  dir: string;
  planHash: string;
  /** Run ids in the order state.json lists them. */
  runIds: string[];
  /** Each run's directory, resolved against the workspace folder. */
  runDirs: Record<string, string>;
}

/**
 * Every sweep under `<workspace>/.convbert/sweeps/`, by name; a folder without a state.json yet is skipped, one
 * whose state.json is not a sweep state is skipped and said in `problems`.
 */
export async function readSweeps(workspaceDir: string): Promise<{ sweeps: SweepRecord[]; problems: string[] }> {
  const root = path.join(workspaceDir, SWEEPS_DIR);
  let names: string[];
  try {
    names = (await fsp.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return { sweeps: [], problems: [] };
  }
  const sweeps: SweepRecord[] = [];
  const problems: string[] = [];
  for (const name of names.sort()) {
    const dir = path.join(root, name);
    try {
      const state = await readSweepState(dir);
      if (!state) continue;
      const runDirs: Record<string, string> = {};
      for (const [id, entry] of Object.entries(state.runs)) runDirs[id] = path.resolve(workspaceDir, entry.runDir);
      sweeps.push({ name, dir, planHash: state.planHash, runIds: state.plan ?? Object.keys(state.runs), runDirs });
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
  }
  return { sweeps, problems };
}

/** A run's group in its sweep: the run name without the seed (`<sweep>--<run name>-s<seed>` → `<run name>`). */
export function sweepRunGroup(sweepName: string, runId: string): string {
  const prefix = `${sweepName}--`;
  const rest = runId.startsWith(prefix) ? runId.slice(prefix.length) : runId;
  return rest.replace(/-s\d+$/, '');
}

function seedOf(runId: string): number {
  const m = /-s(\d+)$/.exec(runId);
  return m ? Number(m[1]) : 0;
}

/** What a run's spec snapshot says about it (it never changes: cached by directory). */
type SpecFacts = { family: 'bert' | 'groupbert'; params: number; trainingFlopsPerToken: number } | null;
const specFactsCache = new Map<string, SpecFacts>();

async function specFacts(runDir: string): Promise<SpecFacts> {
  if (specFactsCache.has(runDir)) return specFactsCache.get(runDir)!;
  let facts: SpecFacts = null;
  try {
    const a = analyzeSpecText(await fsp.readFile(runPaths(runDir).spec, 'utf8'));
    if (a.spec && a.cost) facts = { family: specFamily(a.spec), params: a.cost.totals.params, trainingFlopsPerToken: a.cost.totals.trainingFlopsPerToken };
  } catch {
    return null; // not written yet: try again next time
  }
  specFactsCache.set(runDir, facts);
  return facts;
}

/** The report inputs of the sweep's runs that have a spec snapshot. */
export async function sweepRunInputs(record: SweepRecord): Promise<SweepRunInput[]> {
  const inputs: SweepRunInput[] = [];
  for (const id of record.runIds) {
    const dir = record.runDirs[id]!;
    const facts = await specFacts(dir);
    if (!facts) continue;
    const curve = runEvalCurve((await readMetricEvents(dir)).events);
    inputs.push({
      id,
      group: sweepRunGroup(record.name, id),
      seed: seedOf(id),
      ...facts,
      curve: curve.points,
      ...(curve.final ? { final: { step: curve.final.step, tokens: curve.final.tokens, flops: curve.final.flops, trainingMs: curve.final.trainingMs } } : {}),
      ...(curve.lossIncludesNsp ? { lossIncludesNsp: true } : {}),
    });
  }
  return inputs;
}

/** The crossing table of a sweep as the dashboard shows it (empty without both families evaluated). */
export function crossingRows(inputs: readonly SweepRunInput[]): SweepCrossing[] {
  if (inputs.length === 0) return [];
  const report = buildSweepReport(inputs);
  return report.crossings.map((c) => ({
    groupbert: c.groupbert,
    bert: c.bert,
    target: c.target,
    ...(c.flops.crossing.reached ? { flops: c.flops.crossing.x, ...(c.flops.ratio !== undefined ? { flopsRatio: c.flops.ratio } : {}) } : {}),
    ...(c.time.crossing.reached ? { timeMs: c.time.crossing.x, ...(c.time.ratio !== undefined ? { timeRatio: c.time.ratio } : {}) } : {}),
  }));
}

/** What the dashboard gets of a sweep: its runs, and the crossing table where the runs allow one. */
export async function sweepInfo(record: SweepRecord): Promise<SweepInfo> {
  let crossings: SweepCrossing[] = [];
  try {
    crossings = crossingRows(await sweepRunInputs(record));
  } catch {
    crossings = []; // a curve the report refuses (a torn metrics line): the chart still shows the runs
  }
  return { name: record.name, runIds: record.runIds, ...(crossings.length > 0 ? { crossings } : {}) };
}
