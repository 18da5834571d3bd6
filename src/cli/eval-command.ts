/**
 * `convbert eval <run> [--backend B]`: asks the engine to evaluate the run's latest checkpoint on the validation
 * split (the TF.js engine's `evaluate`, src/engines/tfjs/evaluate.ts: the run's own job, restored from the
 * checkpoint; no model code here), then prints the run's history summary from metrics.jsonl. It reads the run
 * directory and writes nothing to it.
 *
 * The TF.js engine evaluates in this process: evaluation is one short pass, and the protocol has no evaluate-only
 * request. TF.js and the model are loaded only when this command runs, so the other commands start fast.
 */
import * as path from 'node:path';
import { chooseEngine, engineOfBackend, type Engine, type EvaluateResult } from '../engines';
import { readMetricEvents } from '../run-format/metrics';
import { effectiveRunState, readRunInfo, runPaths } from '../run-format/run-dir';
import { CliError, type CliIo } from './io';
import { displayPath, resolveRunRef } from './run-ref';
import { printRows, summarizeRun, summaryRows } from './run-summary';
import { oneLine } from './train-command';
import { duration, fraction, metric } from '../format';

export interface EvalFlags {
  backend?: string;
  engine?: string;
  verbose?: boolean;
}

/** A trainer failure (`TrainerError`: message + hint) or anything else, as a one-line CLI error. */
function asCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const hint = e instanceof Error && 'hint' in e && typeof (e as { hint?: unknown }).hint === 'string' ? (e as { hint: string }).hint : undefined;
  return new CliError(oneLine(message || 'evaluation failed', hint));
}

/**
 * Runs `fn` with console.log/info/warn going to `sink` instead of the terminal: TF.js prints notices there (the
 * "install our node backend" banner) that the trainer process keeps out of sight, and so does this command.
 */
async function withConsoleTo<T>(sink: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, info: console.info, warn: console.warn };
  const forward = (...args: unknown[]) => sink(args.map((a) => (typeof a === 'string' ? a : String(a))).join(' '));
  console.log = console.info = console.warn = forward;
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}

export async function evalCommand(io: CliIo, runArg: string, flags: EvalFlags): Promise<void> {
  const { bold, dim, yellow } = io.color;
  const run = await resolveRunRef(io.cwd, runArg);
  const info = await readRunInfo(run.dir);
  if (!info) throw new CliError(`${run.ref}: run.json is unreadable`);

  // The engine evaluates in this process; TF.js and the model load only now, not when the CLI starts.
  const specFile = runPaths(run.dir).spec;
  const log = (level: string, message: string) => {
    if (flags.verbose) io.err(dim(`${level}: ${message}\n`));
  };
  const t0 = Date.now();
  let engine: Engine;
  try {
    // The run's own backend, unless another engine is asked for (a run trained by one engine evaluates in the other).
    const runBackend = info.backend?.name;
    const runEngine = runBackend !== undefined ? engineOfBackend(runBackend)?.id : undefined;
    const inherit = flags.engine === undefined || flags.engine === 'auto' || flags.engine === runEngine;
    engine = chooseEngine(flags.engine ?? runEngine, flags.backend ?? (inherit ? runBackend : undefined));
    if (flags.backend === undefined && !inherit) flags = { ...flags, backend: 'auto' };
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  let evaluated: EvaluateResult;
  try {
    evaluated = await withConsoleTo(
      (line) => log('console', line.trim()),
      () =>
        engine.evaluate({
          runDir: run.dir,
          ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
          // Relative corpus paths of the snapshot resolve against the working directory, as with `train --resume`.
          specDir: io.cwd,
          specLabel: displayPath(io.cwd, specFile),
          log,
          warn: (message: string, hint?: string) => io.err(yellow(`warning: ${message}${hint ? ` (${hint})` : ''}\n`)),
        }),
    );
  } catch (e) {
    const kind = e instanceof Error && 'kind' in e ? (e as { kind?: unknown }).kind : undefined;
    if (kind === 'no-checkpoint') throw new CliError(`run ${run.ref} has no checkpoint to evaluate yet; train it first (\`convbert train --resume ${run.ref}\`)`);
    if (kind === 'no-spec') throw new CliError(`run ${run.ref} has no spec snapshot (${path.basename(specFile)})`);
    if (kind === 'spec-mismatch') throw new CliError(`run ${run.ref}: its spec snapshot does not match the checkpoint's spec (edited by hand?); cannot evaluate`);
    throw asCliError(e);
  }
  const { metrics: result, backend: backendName, checkpoint } = evaluated;
  const evalMs = Date.now() - t0;

  io.out(`${bold(`run ${run.ref}`)}  ${dim(`${info.name ?? ''} ${effectiveRunState(info)}, step ${info.step}${info.totalSteps !== undefined ? ` of ${info.totalSteps}` : ''}`.trim())}\n`);
  io.out(`\n${bold('validation')} ${dim(`(checkpoint at step ${checkpoint.step}, ${checkpoint.name}; ${backendName}, ${duration(evalMs)})`)}\n`);
  const rows: [string, string][] = [
    // The job reports one validation loss: MLM + NSP when the model has an NSP head.
    [result.nspAccuracy !== undefined ? 'loss (MLM + NSP)' : 'MLM loss', metric(result.loss)],
    ['MLM accuracy', fraction(result.mlmAccuracy)],
  ];
  if (result.nspAccuracy !== undefined) rows.push(['NSP accuracy', fraction(result.nspAccuracy)]);
  if (result.nspAccuracy === undefined && result.loss > 0 && result.loss < 50) rows.push(['perplexity', metric(Math.exp(result.loss))]);
  if (result.probes) {
    const shown = Object.entries(result.probes.summary)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
      .slice(0, 6)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? metric(v) : String(v)}`);
    if (shown.length) rows.push(['probes', shown.join(', ')]);
  }
  printRows(io, rows);

  const history = await readMetricEvents(run.dir);
  const summary = summarizeRun(history.events);
  io.out(`\n${bold('history')} ${dim('(metrics.jsonl)')}\n`);
  printRows(io, summaryRows(summary));
  if (history.invalid.length > 0) io.err(yellow(`warning: ${history.invalid.length} unreadable line(s) in metrics.jsonl were left out\n`));
}
