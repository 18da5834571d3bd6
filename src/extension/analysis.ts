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
import { computeCost, type CostReport } from '../core/cost';
import { resolveSpec, type ResolvedSpec } from '../core/spec/resolve';
import { validateSpecText, type Diagnostic, type ValidationResult } from '../core/spec/validate';

export interface AnalysisOptions {
  /** The `convbert.memoryBudgetMiB` setting (overrides `training.memoryBudgetMiB` when set). */
  memoryBudgetMiB?: number;
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
  const result = validateSpecText(text, options.memoryBudgetMiB === undefined ? {} : { memoryBudgetMiB: options.memoryBudgetMiB });
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = result.diagnostics.filter((d) => d.severity === 'warning').length;
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
    diagnostics: result.diagnostics,
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
