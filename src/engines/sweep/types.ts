/**
 * What the runner needs of a sweep's plan (docs/sweeps.md, `SweepPlan`/`PlannedRun` of src/core/sweep). Structural
 * subsets, so the planner's richer types are accepted as they are.
 */
import type { ResolvedSpec } from '../../core/spec/resolve';

export interface RunnablePlannedRun {
  id: string;
  name: string;
  seed: number;
  family: 'bert' | 'groupbert';
  ablation?: string;
  /** What is written as the run's spec (`spec.convbert.json`): sent with `start` as an object. */
  specFile: object;
  resolved: ResolvedSpec;
  steps: number;
  flopsPerStep: number;
  hash: string;
}

export interface RunnableSweepPlan {
  name: string;
  /** The sweep file. */
  file: string;
  flopBudget: number;
  runs: RunnablePlannedRun[];
  parallel: number | 'auto';
  hash: string;
}
