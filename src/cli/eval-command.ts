/**
 * `convbert eval <run> [--backend B]`: loads the run's latest checkpoint into the run's own job (the same
 * `TrainingJob` the trainer drives, from src/engines/tfjs/trainer/jobs.ts: no model code here) and evaluates it on the
 * validation split, then prints the run's history summary from metrics.jsonl. It reads the run directory and
 * writes nothing to it.
 *
 * The job runs in this process: evaluation is one short pass, and the protocol has no evaluate-only request.
 * TF.js and the model are imported only when this command runs, so the other commands start fast.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Json, LoadedCheckpoint } from '../run-format/checkpoint';
import type { EvalMetrics, JobState, TrainingJob } from '../core/train/job';
import { readMetricEvents } from '../run-format/metrics';
import { effectiveRunState, readRunInfo, runPaths } from '../run-format/run-dir';
import { CliError, type CliIo } from './io';
import { displayPath, resolveRunRef } from './run-ref';
import { fmtDuration, fmtNum, fmtPercent, printRows, summarizeRun, summaryRows } from './run-summary';
import { oneLine } from './train-command';
import { MLM_JOB_ENV, mlmJobEnv } from '../engines/tfjs/entry';

export interface EvalFlags {
  backend?: string;
  verbose?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A checkpoint as the job's `loadState` takes it (the inverse of the trainer loop's checkpoint write). */
export function jobStateFromCheckpoint(checkpoint: LoadedCheckpoint): JobState {
  const rngs = isRecord(checkpoint.rng) ? checkpoint.rng : {};
  const extra = isRecord(checkpoint.extra) ? checkpoint.extra : {};
  return {
    tensors: checkpoint.tensors,
    ...(checkpoint.optimizer !== undefined ? { optimizer: checkpoint.optimizer } : {}),
    ...(checkpoint.data !== undefined ? { data: checkpoint.data } : {}),
    ...(rngs.job !== undefined && rngs.job !== null ? { rng: rngs.job as Json } : {}),
    ...(extra.job !== undefined && extra.job !== null ? { extra: extra.job as Json } : {}),
  };
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

  // Heavy modules (TF.js, the model) load here, not when the CLI starts.
  const [{ loadLatestCheckpoint, hashSpec }, { specFromText }, { loadJobFactory }, { loadTrainerBackend }, { Rng, parseRngState, restoreRng }] = await Promise.all([
    import('../run-format/checkpoint'),
    import('../engines/tfjs/trainer/spec'),
    import('../engines/tfjs/trainer/jobs'),
    import('../engines/tfjs/trainer/backend'),
    import('../core/train/rng'),
  ]);

  const checkpoint = await loadLatestCheckpoint(run.dir);
  if (!checkpoint) throw new CliError(`run ${run.ref} has no checkpoint to evaluate yet; train it first (\`convbert train --resume ${run.ref}\`)`);
  for (const s of checkpoint.skipped) io.err(yellow(`warning: skipped checkpoint ${s.name}: ${s.reason}\n`));

  let job: TrainingJob | undefined;
  const t0 = Date.now();
  const log = (level: string, message: string) => {
    if (flags.verbose) io.err(dim(`${level}: ${message}\n`));
  };
  const specFile = runPaths(run.dir).spec;
  const specText = await fsp.readFile(specFile, 'utf8').catch(() => {
    throw new CliError(`run ${run.ref} has no spec snapshot (${path.basename(specFile)})`);
  });
  let evaluated: { result: EvalMetrics; backendName: string };
  try {
    evaluated = await withConsoleTo(
      (line) => log('console', line.trim()),
      async () => {
        const spec = specFromText(specText, displayPath(io.cwd, specFile));
        if (hashSpec(spec.resolved) !== checkpoint.specHash) {
          throw new CliError(`run ${run.ref}: its spec snapshot does not match the checkpoint's spec (edited by hand?); cannot evaluate`);
        }
        const requested = flags.backend ?? info.backend?.name ?? spec.resolved.training.backend;
        const backend = await loadTrainerBackend(requested, log);
        const rng = Rng.fromSeed(spec.resolved.training.seed);
        const createJob = await loadJobFactory();
        // Relative corpus paths of the snapshot resolve against the working directory, as with `train --resume`.
        const ctx = {
          spec: spec.resolved,
          runDir: run.dir,
          backend: backend.name,
          rng,
          log,
          warn: (message: string, hint?: string) => io.err(yellow(`warning: ${message}${hint ? ` (${hint})` : ''}\n`)),
        };
        const savedOptions = process.env[MLM_JOB_ENV];
        Object.assign(process.env, mlmJobEnv(io.cwd));
        try {
          job = await createJob(ctx);
        } finally {
          if (savedOptions === undefined) delete process.env[MLM_JOB_ENV];
          else process.env[MLM_JOB_ENV] = savedOptions;
        }
        await job.init();
        await job.loadState(jobStateFromCheckpoint(checkpoint));
        const rngs = isRecord(checkpoint.rng) ? checkpoint.rng : {};
        if (rngs.loop !== undefined) restoreRng(rng, parseRngState(rngs.loop));
        return { result: await job.evaluate(checkpoint.step), backendName: backend.name };
      },
    );
  } catch (e) {
    throw asCliError(e);
  } finally {
    try {
      (job as TrainingJob | undefined)?.dispose();
    } catch {
      // nothing to do
    }
    // Emscripten re-refs the threaded wasm build's pthread workers while they run; idle, they must not keep the CLI alive.
    await import('../engines/tfjs/backends/wasm/wasm-threads').then((m) => m.unrefPthreadWorkers()).catch(() => undefined);
  }
  const { result, backendName } = evaluated;
  const evalMs = Date.now() - t0;

  io.out(`${bold(`run ${run.ref}`)}  ${dim(`${info.name ?? ''} ${effectiveRunState(info)}, step ${info.step}${info.totalSteps !== undefined ? ` of ${info.totalSteps}` : ''}`.trim())}\n`);
  io.out(`\n${bold('validation')} ${dim(`(checkpoint at step ${checkpoint.step}, ${checkpoint.name}; ${backendName}, ${fmtDuration(evalMs)})`)}\n`);
  const rows: [string, string][] = [
    // The job reports one validation loss: MLM + NSP when the model has an NSP head.
    [result.nspAccuracy !== undefined ? 'loss (MLM + NSP)' : 'MLM loss', fmtNum(result.loss)],
    ['MLM accuracy', fmtPercent(result.mlmAccuracy)],
  ];
  if (result.nspAccuracy !== undefined) rows.push(['NSP accuracy', fmtPercent(result.nspAccuracy)]);
  if (result.nspAccuracy === undefined && result.loss > 0 && result.loss < 50) rows.push(['perplexity', fmtNum(Math.exp(result.loss))]);
  if (result.probes) {
    const shown = Object.entries(result.probes.summary)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
      .slice(0, 6)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v) : String(v)}`);
    if (shown.length) rows.push(['probes', shown.join(', ')]);
  }
  printRows(io, rows);

  const history = await readMetricEvents(run.dir);
  const summary = summarizeRun(history.events);
  io.out(`\n${bold('history')} ${dim('(metrics.jsonl)')}\n`);
  printRows(io, summaryRows(summary));
  if (history.invalid.length > 0) io.err(yellow(`warning: ${history.invalid.length} unreadable line(s) in metrics.jsonl were left out\n`));
}
