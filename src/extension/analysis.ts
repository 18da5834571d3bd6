/**
 * What the editor features know about one spec text: the core validator's result, the resolved spec and the
 * cost report at the spec's own sequence length and batch size. Pure (no `vscode`): the diagnostics, CodeLens,
 * hovers, the language status item and the dashboard's Costs tab all read the same analysis, computed once per
 * document version.
 *
 * When the spec has errors the validator gives no resolved spec; if the file still passed the schema (only
 * semantic errors, such as a hidden size the heads do not divide) the spec is resolved here anyway and costed
 * with the cost model's real-valued formulas, marked `exact: false`, so the numbers stay visible while typing.
 */
import { computeCost, fitRefusal, trainingFit, type CostReport, type MachineFacts, type TrainingFit } from '../core/cost';
import { checkCorpusPaths, type CorpusFs } from '../core/data/corpus-check';
import { resolveSpec, type ResolvedSpec } from '../core/spec/resolve';
import { validateSpecText, type Diagnostic, type ValidationResult } from '../core/validate/validate';

export interface AnalysisOptions {
  /** The `convbert.memoryBudgetMiB` setting (overrides `training.memoryBudgetMiB` when set). */
  memoryBudgetMiB?: number;
  /** The machine's memory and `auto`'s pick: a spec over every backend's hard limit is then an error. */
  machine?: MachineFacts;
  /** The spec file's folder: corpus paths and the vocabulary file are checked against the file system there. */
  specDir?: string;
  /** The file system for that check (default: the real one). */
  fs?: CorpusFs;
}

export interface SpecAnalysis {
  readonly text: string;
  readonly diagnostics: Diagnostic[];
  readonly result: ValidationResult;
  /** The resolved spec: always when valid; best effort when the only errors are semantic. */
  readonly spec?: ResolvedSpec;
  readonly cost?: CostReport;
  /** `true` when the spec has no errors (the numbers are the cost model's exact figures). */
  readonly valid: boolean;
  readonly errors: number;
  readonly warnings: number;
}

export function analyzeSpecText(text: string, options: AnalysisOptions = {}): SpecAnalysis {
  const result = validateSpecText(text, {
    ...(options.memoryBudgetMiB !== undefined ? { memoryBudgetMiB: options.memoryBudgetMiB } : {}),
    ...(options.machine ? { machine: options.machine } : {}),
  });
  const diagnostics = options.specDir !== undefined ? [...result.diagnostics, ...checkCorpusPaths(text, options.specDir, options.fs)] : result.diagnostics;
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  let spec = result.spec;
  if (!spec && result.file) {
    try {
      spec = resolveSpec(result.file);
    } catch {
      spec = undefined;
    }
  }
  let cost: CostReport | undefined;
  if (spec) {
    try {
      cost = computeCost(spec);
    } catch {
      cost = undefined;
    }
  }
  return {
    text,
    diagnostics,
    result,
    ...(spec ? { spec } : {}),
    ...(cost ? { cost } : {}),
    valid: errors === 0 && result.spec !== undefined,
    errors,
    warnings,
  };
}

/** Forward FLOPs (matmul + element-wise) per token of a part of the report. */
export function forwardFlopsPerToken(part: { forward: { matmul: number; elementwise: number } }, report: CostReport): number {
  return (part.forward.matmul + part.forward.elementwise) / report.tokensPerStep;
}

/** Forward FLOPs per token of the whole model (embeddings, layers, heads). */
export function totalForwardFlopsPerToken(report: CostReport): number {
  return (report.totals.forward.matmul + report.totals.forward.elementwise) / report.tokensPerStep;
}

/**
 * What Train does about memory before it forks a trainer: go ahead, refuse (past the backend's hard limit: no way
 * to start), or ask (over the budget only: a modal with "Train anyway"). `backend` is the effective setting: the
 * `convbert.trainer.backend` setting, or the spec's own when that says `spec`.
 */
export type FitVerdict = { kind: 'fits'; fit: TrainingFit } | { kind: 'refuse' | 'confirm'; fit: TrainingFit; message: string };

export function fitVerdict(spec: ResolvedSpec, backend: string, memoryBudgetMiB?: number, machine?: MachineFacts): FitVerdict {
  const fit = trainingFit(spec, backend === 'spec' ? spec.training.backend : backend, memoryBudgetMiB, machine);
  if (fit.fits) return { kind: 'fits', fit };
  if (!fit.canForce) return { kind: 'refuse', fit, message: `Cannot train ${spec.name}: ${fitRefusal(fit)}.` };
  return { kind: 'confirm', fit, message: `${spec.name}: ${fitRefusal(fit)}. Train anyway?` };
}
