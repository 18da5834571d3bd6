/** Running a sweep (docs/sweeps.md, "Running"): the runner, its state file, the run decisions and parallelism. */
export { SweepRunner, SweepRefused, type RunOutcome, type SweepEvent, type SweepRunResult, type SweepRunnerOptions } from './runner';
export { SWEEPS_DIR, SWEEP_STATE_FILE, readSweepState, sweepDir, writeSweepState, type SweepRunEntry, type SweepState } from './state';
export { changedRuns, sweepRefusals, decideRun, plannedRunDir, readRunOnDisk, type RunAction, type RunOnDisk, type RunRefusal } from './decide';
export { MEMORY_SHARE, chooseParallel, threadEnv, threadsPerRun, type ParallelChoice, type ParallelFacts } from './parallel';
export type { RunnablePlannedRun, RunnableSweepPlan } from './types';
export { sweepReportInputs, trainingFlopsPerToken } from './report-inputs';
