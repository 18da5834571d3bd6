/** Sweeps (docs/sweeps.md): the `*.sweep.json` format, ablations, and planning a sweep's runs at equal compute. */
export * from './schema';
export { applyAblation, specFamily, withLayers, type Family } from './ablations';
export { hashJson, stableStringify } from './hash';
export {
  MAX_PLANNED_RUNS,
  SHARED_KEYS,
  SWEEP_DIAGNOSTIC_CODES,
  planSweep,
  validateSweepText,
  type PlannedRun,
  type PlanOptions,
  type PlanResult,
  type SweepPlan,
} from './plan';
