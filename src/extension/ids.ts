/** The ids the extension contributes in package.json: commands, the Runs view, the dashboard's view type. Pure. */
export const COMMANDS = {
  newSpec: 'convbert.newSpec',
  validate: 'convbert.validate',
  showCosts: 'convbert.showCosts',
  train: 'convbert.train',
  stop: 'convbert.stop',
  resume: 'convbert.resume',
  openDashboard: 'convbert.openDashboard',
  showLogs: 'convbert.showLogs',
  refreshRuns: 'convbert.runs.refresh',
  openRun: 'convbert.runs.open',
  compareRuns: 'convbert.runs.compare',
  deleteRun: 'convbert.runs.delete',
  renameRun: 'convbert.runs.rename',
  runSweep: 'convbert.runSweep',
} as const;

export const RUNS_VIEW = 'convbert.runs';
export const DASHBOARD_VIEW_TYPE = 'convbert.dashboard';
export const SETTINGS = [
  'convbert.trainer.nodePath',
  'convbert.trainer.engine',
  'convbert.trainer.backend',
  'convbert.runsFolder',
  'convbert.memoryBudgetMiB',
  'convbert.torch.python',
  'convbert.torch.nprocPerNode',
] as const;
