/**
 * `planSweep`: from the text of a `*.sweep.json` file to the runs it trains (docs/sweeps.md "Planning"), with
 * diagnostics placed in the sweep file exactly as the spec validator places its own (the same machinery,
 * `checkJsoncText` in core/validate).
 *
 * For each run × seed: the spec (file or inline) with `shared` over its `training`, the seed, the ablation applied,
 * `training.flopBudget` = the sweep's budget, `training.steps` = ceil(budget / the run's training FLOPs per step)
 * (`totalTrainingSteps`, core/cost/budget.ts, the trainer's own rule), `learningRate.warmupSteps` =
 * round(warmupFraction × steps) when the sweep sets a fraction. The trainer decays the schedule over the run's total
 * steps, so it ends exactly at the budget. Every run must share the data and schedule settings that make their losses
 * comparable (`SHARED_KEYS`); a run that disagrees with the first run is an error at that run.
 *
 * Paths: a run's spec file is read through `readSpec` (the path joined to the sweep file's folder); relative corpus
 * and vocabulary paths in every planned spec are relative to the sweep file's folder (a spec file's own are rebased).
 *
 * It never throws: whatever the text, the worst outcome is an `internal-error` diagnostic.
 */
import { dirname, isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import { totalTrainingSteps, trainingFlopsPerStep } from '../cost/budget';
import { isRecord } from '../json';
import { formatDiagnostic, pathLabel, type Diagnostic, type JsonPath, type Range } from '../spec/diagnostics';
import { deepMerge, resolveSpec, type ResolvedSpec } from '../spec/resolve';
import type { SpecFile } from '../spec/schema';
import { checkJsoncText, validateSpecText, type CheckedJsonc, type JsoncFormat, type ValidateOptions } from '../validate';
import { applyAblation, specFamily, withLayers, type Family } from './ablations';
import { hashJson } from './hash';
import { RUN_NAME_PATTERN, sweepSchemaJson, type AblationName, type SweepFile } from './schema';

export interface PlannedRun {
  /** `<sweep name>--<run name>-s<seed>`: the run directory's name. */
  id: string;
  /** The run's name (without the seed): runs of one name are one group in the report. */
  name: string;
  seed: number;
  family: Family;
  ablation?: AblationName;
  /** What is written as the run's spec (version 1; relative paths relative to the sweep file's folder). */
  specFile: SpecFile;
  resolved: ResolvedSpec;
  steps: number;
  /** Training FLOPs of one optimizer step (forward + backward, the cost model, one process). */
  flopsPerStep: number;
  /** Covers everything that decides this run (its spec file, with seed, steps and budget). */
  hash: string;
}

export interface SweepPlan {
  name: string;
  /** The sweep file, as given in `sweepPath`. */
  file: string;
  description?: string;
  flopBudget: number;
  runs: PlannedRun[];
  parallel: number | 'auto';
  /** Covers everything that decides the runs: the sweep's name and budget, and every run's id and hash. */
  hash: string;
}

export interface PlanOptions {
  /** The sweep file's path: spec files and relative paths are taken from its folder. */
  sweepPath: string;
  /** Reads a spec file (the path is the sweep file's folder joined with the run's `spec`); undefined or a throw: an error at the run. */
  readSpec: (path: string) => string | undefined;
  /** For the spec checks of every run (memory budget, the machine's facts). */
  validate?: ValidateOptions;
}

export interface PlanResult {
  /** Set when there are no errors (warnings allowed). */
  plan?: SweepPlan;
  diagnostics: Diagnostic[];
}

/** Codes the sweep's own checks emit (the spec's codes, `DIAGNOSTIC_CODES`, appear as well). */
export const SWEEP_DIAGNOSTIC_CODES = {
  'spec-file': 'A run\'s spec file cannot be read.',
  'run-spec': 'A run\'s spec (as planned: with `shared`, the seed and the ablation) is not valid.',
  'ablation-on-bert': 'An ablation on a BERT-family run (no conv or GFFN module to change).',
  'not-shared': 'A run trains with a data or schedule setting other runs do not share.',
  'duplicate-run': 'Two runs with the same name.',
  'no-runs': 'The sweep has no runs.',
  'grid-name': 'The grid\'s name template names no axis, or makes a name that is not allowed.',
  'grid-axis': 'A grid axis that cannot be set.',
  'no-budget-steps': 'A run\'s training FLOPs per step are unknown, so the budget gives no steps.',
  'warmup-past-steps': 'A run warms up for as many steps as it trains or more (its rate never decays).',
} as const;

/** Settings every run of a sweep shares (resolved training keys; `effectiveBatch` is batchSize × gradientAccumulation). */
export const SHARED_KEYS = ['corpus', 'tokenizer', 'sequenceLength', 'effectiveBatch', 'maskRate', 'maxPredictions', 'validationFraction', 'evalBatches', 'decay'] as const;

const SWEEP_FORMAT: JsoncFormat = { schema: sweepSchemaJson, noun: 'sweep', example: '{ "version": 1, "name": "my-sweep", "flopBudget": 1e14, "runs": [] }' };

/** At most this many runs × seeds. */
export const MAX_PLANNED_RUNS = 1000;

interface RunInput {
  name: string;
  /** How messages name it: `run "x"` or `grid run "x"`. */
  label: string;
  namePath: JsonPath;
  /** Where problems with its spec go. */
  specPath: JsonPath;
  file: SpecFile;
  seeds: number[];
  ablation?: AblationName;
  ablationPath: JsonPath;
  /** Its spec already had errors (reported): it is not planned. */
  broken: boolean;
}

function toPosix(p: string): string {
  return p.replace(/\\/g, '/');
}

/** A spec file's relative corpus and vocabulary paths, rebased from its folder to the sweep file's folder. */
function rebasePaths(file: SpecFile, fromDir: string, toDir: string): SpecFile {
  const t = file.training;
  if (!t) return file;
  const rebase = (p: string) => (isAbsolute(p) ? p : toPosix(relative(toDir, resolvePath(fromDir, p))) || '.');
  const training = { ...t };
  if (Array.isArray(t.corpus)) training.corpus = t.corpus.map(rebase);
  if (t.tokenizer?.vocabFile !== undefined) training.tokenizer = { ...t.tokenizer, vocabFile: rebase(t.tokenizer.vocabFile) };
  return { ...file, training };
}

/** Every character but line breaks as a space: offsets and lines stay where they were. */
function blank(text: string): string {
  return text.replace(/[^\r\n]/g, ' ');
}

/**
 * Checks an inline spec (at `path` in the sweep) with the spec validator, on a copy of the sweep's text in which
 * everything but the spec is blank, so each diagnostic's offset is its offset in the sweep file. Only errors are kept
 * (warnings such as memory depend on `shared` and are reported on the planned spec). Returns whether it had errors.
 */
function checkInlineSpec(doc: CheckedJsonc, path: JsonPath, options: PlanOptions): boolean {
  const { offset, length } = doc.rangeAt(path);
  const object = doc.text.slice(offset, offset + length);
  const value = nodeValue(doc.data, path);
  const inject = '{"version":1,';
  let text: string;
  if (isRecord(value) && !('version' in value) && offset + 1 >= inject.length && object.startsWith('{')) {
    text = blank(doc.text.slice(0, offset + 1 - inject.length)) + inject + object.slice(1);
  } else {
    text = blank(doc.text.slice(0, offset)) + object;
  }
  const result = validateSpecText(text, options.validate);
  // Errors that the sweep's `shared` settings put right (e.g. a sequence length past the spec's maxPositions that
  // `shared` lowers) are not errors of the run: keep only the kinds the spec still has with `shared` applied.
  const still = isRecord(value) ? errorCodesWithShared(value, doc.data, options) : undefined;
  let errors = false;
  for (const d of result.diagnostics) {
    if (d.severity !== 'error' || d.code === 'duplicate-key') continue;
    if (still && !still.has(d.code)) continue;
    errors = true;
    const inside = d.range.offset >= offset;
    doc.addAt('error', d.code, d.message, [...path, ...d.path], inside ? d.range.offset : offset, inside ? d.range.length : 1);
  }
  return errors;
}

/** The error codes the spec has with the sweep's `shared` over its training (what planning will check). */
function errorCodesWithShared(spec: Record<string, unknown>, sweep: unknown, options: PlanOptions): Set<string> {
  const shared = isRecord(sweep) && isRecord(sweep.shared) ? sweep.shared : {};
  const own = isRecord(spec.training) ? spec.training : {};
  const merged = { ...spec, version: 1, training: deepMerge(own as Record<string, unknown>, shared) };
  const checked = validateSpecText(JSON.stringify(merged), options.validate);
  return new Set(checked.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code));
}

function nodeValue(data: unknown, path: JsonPath): unknown {
  let v = data;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v) && typeof seg === 'string') v = v[seg];
    else return undefined;
  }
  return v;
}

function withVersion(spec: Record<string, unknown>): SpecFile {
  const { $schema: _schema, ...rest } = spec;
  return { ...rest, version: 1 } as SpecFile;
}

/** Reads and checks a run's spec file; errors go on the run's `spec` value. */
/** `validateSweepText` without a reader: spec files are not read, and their runs not checked. */
const NOT_READ: PlanOptions['readSpec'] = () => undefined;

function fileSpec(doc: CheckedJsonc, run: { label: string; specPath: JsonPath }, specPath: string, options: PlanOptions): SpecFile | undefined {
  const sweepDir = dirname(options.sweepPath);
  const full = isAbsolute(specPath) ? specPath : join(sweepDir, specPath);
  if (options.readSpec === NOT_READ) return undefined;
  let text: string | undefined;
  try {
    text = options.readSpec(full);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    doc.add('error', 'spec-file', `${run.label}: cannot read the spec file ${specPath}: ${why.split('\n')[0]}`, run.specPath);
    return undefined;
  }
  if (text === undefined) {
    doc.add('error', 'spec-file', `${run.label}: the spec file ${specPath} does not exist or cannot be read`, run.specPath);
    return undefined;
  }
  const result = validateSpecText(text, options.validate);
  let errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 && result.file) {
    const still = errorCodesWithShared(result.file as unknown as Record<string, unknown>, doc.data, options);
    errors = errors.filter((d) => still.has(d.code));
  }
  if (errors.length > 0 || !result.file) {
    for (const d of errors.slice(0, 5)) doc.add('error', 'run-spec', `${run.label}: ${formatDiagnostic(specPath, d)}`, run.specPath);
    if (errors.length > 5) doc.add('error', 'run-spec', `${run.label}: ${specPath} has ${errors.length - 5} more errors`, run.specPath);
    return undefined;
  }
  return rebasePaths(result.file, dirname(full), sweepDir);
}

/** Sets a dotted path (`model.numLayers`) in a copy of `spec`; a message when a step on the way is not an object. */
function setDotted(spec: Record<string, unknown>, dotted: string, value: unknown): Record<string, unknown> | string {
  const keys = dotted.split('.');
  if (keys.some((k) => k.length === 0)) return `"${dotted}" is not a dotted path of spec settings, like "model.numLayers"`;
  const out = structuredClone(spec);
  let cur: Record<string, unknown> = out;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined) cur[key] = {};
    else if (!isRecord(next)) return `"${dotted}" goes through "${key}", which is not an object in the base spec`;
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1] as string] = value;
  return out;
}

function gridRuns(doc: CheckedJsonc, sweep: SweepFile, baseBroken: boolean): { name: string; file: SpecFile; values: string }[] {
  const grid = sweep.grid;
  if (!grid) return [];
  const axes = Object.entries(grid.axes);
  const count = axes.reduce((n, [, values]) => n * values.length, 1);
  if (count > MAX_PLANNED_RUNS) {
    doc.add('error', 'grid-axis', `the grid makes ${count} runs; at most ${MAX_PLANNED_RUNS} are allowed`, ['grid', 'axes']);
    return [];
  }
  const template = grid.name ?? `grid${axes.map(([k]) => `-{${k}}`).join('')}`;
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] as string).filter((k) => !(k in grid.axes));
  if (unknown.length > 0) {
    doc.add('error', 'grid-name', `"{${unknown[0]}}" in the grid's name is not an axis; the axes are ${axes.map(([k]) => k).join(', ')}`, ['grid', 'name']);
    return [];
  }
  let combos: [string, unknown][][] = [[]];
  for (const [key, values] of axes) combos = combos.flatMap((c) => values.map((v) => [...c, [key, v] as [string, unknown]]));
  const out: { name: string; file: SpecFile; values: string }[] = [];
  for (const combo of combos) {
    const name = template.replace(/\{([^}]*)\}/g, (_, k: string) => String(combo.find(([key]) => key === k)?.[1]));
    let spec: Record<string, unknown> | string = grid.base as Record<string, unknown>;
    for (const [key, value] of combo) {
      spec = setDotted(spec, key, value);
      if (typeof spec === 'string') {
        doc.add('error', 'grid-axis', spec, ['grid', 'axes', key], 'key');
        return [];
      }
    }
    if (!new RegExp(RUN_NAME_PATTERN).test(name) || name.length > 100) {
      doc.add('error', 'grid-name', `the grid makes the run name "${name}"; names use letters, digits, "." and "-", starting with a letter or digit`, ['grid', 'name']);
      return [];
    }
    if (!baseBroken) out.push({ name, file: withVersion(spec), values: combo.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ') });
  }
  return out;
}

function sharedValues(spec: ResolvedSpec): Record<(typeof SHARED_KEYS)[number], unknown> {
  const t = spec.training;
  return {
    corpus: t.corpus,
    tokenizer: t.tokenizer,
    sequenceLength: t.sequenceLength,
    effectiveBatch: t.batchSize * t.gradientAccumulation,
    maskRate: t.maskRate,
    maxPredictions: t.maxPredictions,
    validationFraction: t.validationFraction,
    evalBatches: t.evalBatches,
    decay: t.learningRate.decay,
  };
}

const SHARED_LABELS: Record<(typeof SHARED_KEYS)[number], string> = {
  corpus: 'corpus',
  tokenizer: 'tokenizer',
  sequenceLength: 'sequenceLength',
  effectiveBatch: 'batchSize × gradientAccumulation',
  maskRate: 'maskRate',
  maxPredictions: 'maxPredictions',
  validationFraction: 'validationFraction',
  evalBatches: 'evalBatches',
  decay: 'learningRate.decay',
};

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function plan(doc: CheckedJsonc, options: PlanOptions): SweepPlan | undefined {
  if (!doc.ok) return undefined;
  const sweep = doc.data as SweepFile;
  const inputs: RunInput[] = [];
  const defaultSeeds = sweep.seeds ?? [1];

  (sweep.runs ?? []).forEach((run, i) => {
    const label = `run "${run.name}"`;
    const specPath: JsonPath = ['runs', i, 'spec'];
    let file: SpecFile | undefined;
    let broken = false;
    if (typeof run.spec === 'string') {
      file = fileSpec(doc, { label, specPath }, run.spec, options);
      broken = file === undefined;
    } else {
      broken = checkInlineSpec(doc, specPath, options);
      file = withVersion(run.spec as Record<string, unknown>);
    }
    inputs.push({
      name: run.name,
      label,
      namePath: ['runs', i, 'name'],
      specPath,
      file: file ?? { version: 1 },
      seeds: run.seeds ?? defaultSeeds,
      ...(run.ablation !== undefined ? { ablation: run.ablation } : {}),
      ablationPath: ['runs', i, 'ablation'],
      broken,
    });
  });
  if (sweep.grid) {
    const baseBroken = checkInlineSpec(doc, ['grid', 'base'], options);
    for (const g of gridRuns(doc, sweep, baseBroken)) {
      inputs.push({
        name: g.name,
        label: `grid run "${g.name}" (${g.values})`,
        namePath: ['grid', 'name'],
        specPath: ['grid', 'axes'],
        file: g.file,
        seeds: sweep.grid.seeds ?? defaultSeeds,
        ...(sweep.grid.ablation !== undefined ? { ablation: sweep.grid.ablation } : {}),
        ablationPath: ['grid', 'ablation'],
        broken: false,
      });
    }
  }
  if (inputs.length === 0 && !sweep.grid) {
    doc.add('error', 'no-runs', 'the sweep has no runs; add "runs" (specs to train) or a "grid"', ['runs'], 'key');
    return undefined;
  }

  const seen = new Map<string, RunInput>();
  for (const input of inputs) {
    const earlier = seen.get(input.name);
    if (earlier) {
      doc.add('error', 'duplicate-run', `two runs are named "${input.name}"; give each run its own name`, input.namePath);
      input.broken = true;
    } else seen.set(input.name, input);
  }
  const total = inputs.reduce((n, r) => n + r.seeds.length, 0);
  if (total > MAX_PLANNED_RUNS) {
    doc.add('error', 'no-runs', `the sweep has ${total} runs (runs × seeds); at most ${MAX_PLANNED_RUNS} are allowed`, ['runs'], 'key');
    return undefined;
  }

  const runs: PlannedRun[] = [];
  const groups: { input: RunInput; values: Record<(typeof SHARED_KEYS)[number], unknown> }[] = [];
  for (const input of inputs) {
    if (input.broken) continue;
    // The spec with `shared` over its training; the sweep decides steps, budget and seed.
    const { steps: _s, flopBudget: _b, seed: _seed, ...own } = input.file.training ?? {};
    const training = deepMerge(own, sweep.shared ?? {});
    const base: SpecFile = { ...input.file, name: input.name, training };
    const run = runs.length;
    for (const seed of input.seeds) {
      let specFile: SpecFile = { ...base, training: { ...training, seed } };
      const before = resolveSpec(specFile);
      if (input.ablation !== undefined) {
        if (specFamily(before) === 'bert') {
          doc.add('error', 'ablation-on-bert', `${input.label} is BERT-family (no conv or GFFN module), so "${input.ablation}" has nothing to change; ablations apply to GroupBERT-family runs`, input.ablationPath);
          break;
        }
        specFile = withLayers(specFile, applyAblation(before, input.ablation).model.layers);
      }
      const flopsPerStep = trainingFlopsPerStep(resolveSpec(specFile));
      const { steps, budgetIgnored } = totalTrainingSteps({ steps: 1, flopBudget: sweep.flopBudget }, flopsPerStep);
      if (budgetIgnored || !Number.isFinite(flopsPerStep)) {
        doc.add('error', 'no-budget-steps', `${input.label}: the cost model gives no training FLOPs per step, so the budget gives no steps`, input.specPath);
        break;
      }
      const lr = specFile.training?.learningRate ?? {};
      const warmupSteps = sweep.warmupFraction !== undefined ? Math.round(sweep.warmupFraction * steps) : (lr.warmupSteps ?? resolveSpec(specFile).training.learningRate.warmupSteps);
      specFile = { ...specFile, training: { ...specFile.training, flopBudget: sweep.flopBudget, steps, learningRate: { ...lr, warmupSteps } } };

      const checked = validateSpecText(JSON.stringify(specFile), options.validate);
      const errors = checked.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0 || !checked.spec) {
        for (const d of errors.slice(0, 5)) doc.add('error', 'run-spec', `${input.label}, as planned (with "shared"${input.ablation ? ` and "${input.ablation}"` : ''}): ${d.message} (${d.path.length ? pathLabel(d.path) : 'the spec'}) [${d.code}]`, input.specPath);
        break;
      }
      for (const d of checked.diagnostics) if (d.severity === 'warning') doc.add('warning', d.code, `${input.label}: ${d.message}`, input.specPath);
      if (warmupSteps >= steps && lr.decay !== 'constant' && checked.spec.training.learningRate.decay !== 'constant') {
        doc.add('warning', 'warmup-past-steps', `${input.label} warms up for ${warmupSteps} steps but trains ${steps}: its learning rate never decays; set "warmupFraction"`, input.specPath);
      }
      const resolved = checked.spec;
      runs.push({
        id: `${sweep.name}--${input.name}-s${seed}`,
        name: input.name,
        seed,
        family: specFamily(resolved),
        ...(input.ablation !== undefined ? { ablation: input.ablation } : {}),
        specFile,
        resolved,
        steps,
        flopsPerStep,
        hash: hashJson({ specFile, steps }),
      });
    }
    const first = runs[run];
    if (first) groups.push({ input, values: sharedValues(first.resolved) });
  }

  // Every run shares the data and schedule settings (seeds of one run share all but the seed): for each setting,
  // the value most runs have (the earliest on a tie) is the sweep's, and each run with another is an error there.
  for (const key of SHARED_KEYS) {
    const counts = new Map<string, { n: number; value: unknown; name: string }>();
    for (const g of groups) {
      const k = JSON.stringify(g.values[key]);
      const c = counts.get(k) ?? { n: 0, value: g.values[key], name: g.input.name };
      c.n++;
      counts.set(k, c);
    }
    if (counts.size <= 1) continue;
    const majority = [...counts.values()].reduce((a, b) => (b.n > a.n ? b : a));
    for (const g of groups) {
      if (JSON.stringify(g.values[key]) === JSON.stringify(majority.value)) continue;
      const others = majority.n === 1 ? `run "${majority.name}"` : `${majority.n} other runs`;
      doc.add('error', 'not-shared', `${g.input.label} trains with ${SHARED_LABELS[key]} ${shown(g.values[key])}, ${others} with ${shown(majority.value)}; every run of a sweep must share it: set it in "shared"`, g.input.specPath);
    }
  }

  const hasErrors = doc.finish().some((d) => d.severity === 'error');
  if (hasErrors) return undefined;
  return {
    name: sweep.name,
    file: options.sweepPath,
    ...(sweep.description !== undefined ? { description: sweep.description } : {}),
    flopBudget: sweep.flopBudget,
    runs,
    parallel: sweep.parallel ?? 'auto',
    hash: hashJson({ version: sweep.version, name: sweep.name, flopBudget: sweep.flopBudget, runs: runs.map((r) => [r.id, r.hash]) }),
  };
}

/** Plans a sweep from its text. Never throws. */
export function planSweep(text: string, options: PlanOptions): PlanResult {
  try {
    const doc = checkJsoncText(text, SWEEP_FORMAT);
    let result: SweepPlan | undefined;
    try {
      result = plan(doc, options);
    } catch (e) {
      doc.addAt('error', 'internal-error', `the sweep planner failed: ${(e instanceof Error ? e.message : String(e)).slice(0, 200)}`, [], 0, 0);
      result = undefined;
    }
    return { ...(result ? { plan: result } : {}), diagnostics: doc.finish() };
  } catch (e) {
    const zero: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 }, offset: 0, length: 0 };
    return { diagnostics: [{ severity: 'error', code: 'internal-error', message: `the sweep planner failed: ${(e instanceof Error ? e.message : String(e)).slice(0, 200)}`, path: [], range: zero }] };
  }
}

/** The diagnostics of a sweep file, for the editor (without `readSpec`, spec files are not read or checked). */
export function validateSweepText(text: string, options: { sweepPath?: string; readSpec?: PlanOptions['readSpec']; validate?: ValidateOptions } = {}): Diagnostic[] {
  return planSweep(text, { sweepPath: options.sweepPath ?? 'sweep.sweep.json', readSpec: options.readSpec ?? NOT_READ, ...(options.validate ? { validate: options.validate } : {}) }).diagnostics;
}
