/**
 * `convbert train <spec> [--steps N] [--backend B] [--resume RUN] [--out DIR] [--seed N]`
 *
 * Validates the spec (compiler-style diagnostics), forks the trainer process (the engine's launch plan: the same
 * bundle the extension forks) and drives it over the protocol: a progress bar on a terminal, plain lines in a
 * pipe; which backend runs and why the others were skipped; Ctrl+C asks for a graceful stop (the step finishes
 * and a checkpoint is written), a second Ctrl+C kills the trainer. At the end, a summary from the run's
 * metrics.jsonl, and what to type to resume or evaluate. A fatal trainer error becomes one `convbert: …` line
 * with its hint, printed the moment it arrives, and exit code 1.
 *
 * Exit codes (`TRAIN_EXIT_CODES`, also in `convbert train --help` and README.md): 0 completed, 1 error or diverged,
 * 2 usage, 3 stopped or cancelled before the end (Ctrl+C, SIGTERM, Stop), 130 killed by a second Ctrl+C.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { resumingSentence, type MetricsMessage, type TrainerMessageOf } from '../protocol';
import type { ResolvedSpec } from '../core/spec/resolve';
import { RUNS_DIR, effectiveRunState, newRunId, readRunInfo, readRunLock, runPaths, type RunInfo } from '../run-format/run-dir';
import { listCheckpoints } from '../run-format/checkpoint-name';
import { readMetricEvents } from '../run-format/metrics';
import type { StartRequest, TrainerExit } from '../engines/handle';
import { CliError, type CliIo } from './io';
import { requireFit, requireValidSpec, requireWritableDir } from './load-spec';
import { machineFacts } from '../engines/machine';
import { displayPath, resolveRunRef, runRefFor } from './run-ref';
import { printRows, summarizeRun, summaryRows } from './run-summary';
import { ENGINES, allBackends, type Engine } from '../engines';
import { StartRunError, launchTrainer, pickEngine, type LaunchedTrainer } from '../engines/start-run';
import { checkDistributed, followerCommand } from '../engines/torch';
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { createProgressView, type ProgressView } from './train-progress';
import { duration, fraction, metric } from '../format';

/** `--backend`'s choices: auto and every engine's backends, from the engine registry. */
export const BACKEND_CHOICES: readonly string[] = ['auto', ...allBackends().map((b) => b.name)];
/** `--engine`'s choices, from the engine registry. */
export const ENGINE_CHOICES: readonly string[] = ENGINES.map((e) => e.id);

export interface TrainFlags {
  steps?: number;
  /** The engine that runs the job (default: the backend's, else tfjs). */
  engine?: string;
  backend?: string;
  resume?: string;
  out?: string;
  seed?: number;
  verbose?: boolean;
  /** Train even when the memory estimate is over the budget (never past the backend's hard limit). */
  force?: boolean;
  /** The torch engine's processes and rendezvous, and its interpreter. */
  nprocPerNode?: number;
  nnodes?: number;
  rdzvEndpoint?: string;
  nodeRank?: number;
  python?: string;
}

/** How long a graceful stop may take (the step in flight, then the checkpoint) before the trainer is killed. */
const STOP_TIMEOUT_MS = 10 * 60_000;

/** `convbert train`'s exit codes, one list for the code, `--help` and the README. */
export const TRAIN_EXIT_CODES = {
  completed: 0,
  error: 1,
  usage: 2,
  stopped: 3,
  killed: 130,
} as const;

export const TRAIN_EXIT_CODES_HELP = [
  `Exit codes: ${TRAIN_EXIT_CODES.completed} completed; ${TRAIN_EXIT_CODES.error} error or diverged; ${TRAIN_EXIT_CODES.usage} usage error;`,
  `${TRAIN_EXIT_CODES.stopped} stopped or cancelled before the end (Ctrl+C, SIGTERM, Stop); ${TRAIN_EXIT_CODES.killed} killed by a second Ctrl+C.`,
].join('\n');

/** The checks a resume can fail before a process is started (the trainer checks again: the editor starts it too). */
async function checkResumable(cwd: string, ref: string, dir: string, info: RunInfo, steps: number | undefined): Promise<void> {
  const state = effectiveRunState(info);
  const lock = await readRunLock(dir);
  if (state === 'running' || state === 'paused') {
    throw new CliError(`run ${ref} is being trained right now (trainer process ${lock?.pid ?? info.pid}); stop that first`);
  }
  const latest = (await listCheckpoints(dir))[0];
  if (!latest) {
    throw new CliError(
      `run ${ref} has no checkpoint yet — start over with \`convbert train ${displayPath(cwd, runPaths(dir).spec)}\` (it was ${state} before its first checkpoint: nothing to resume)`,
    );
  }
  // A resume starts from the latest checkpoint, which may be behind `info.step` after a crash.
  const from = latest.step;
  if (steps !== undefined && steps <= from) {
    throw new CliError(`--steps ${steps}: run ${ref} resumes from its checkpoint at step ${from}; give a larger total`, 2);
  }
  if (steps === undefined && info.state === 'completed' && info.totalSteps !== undefined && info.step >= info.totalSteps) {
    throw new CliError(`run ${ref} already completed its ${info.step} steps; pass --steps N (more than ${info.step}) to train it further, or \`convbert eval ${ref}\``);
  }
}

/** The spec to send with `start`: the file itself (its snapshot keeps comments), or with --seed a parsed copy. */
function specForStart(io: CliIo, file: string, seed: number | undefined): Pick<StartRequest, 'spec' | 'specPath'> {
  const specPath = path.resolve(io.cwd, file);
  if (seed === undefined) return { specPath };
  const raw = parseJsonc(readFileSync(specPath, 'utf8'), [], { allowTrailingComma: true }) as Record<string, unknown>;
  const training = typeof raw.training === 'object' && raw.training !== null ? (raw.training as Record<string, unknown>) : {};
  return { spec: { ...raw, training: { ...training, seed } } };
}

function backendLine(started: TrainerMessageOf<'started'>): string {
  const b = started.backend;
  const description = typeof b.details?.description === 'string' ? b.details.description : b.name;
  const asked = b.requested !== b.name && b.requested !== 'auto' ? ` (asked for ${b.requested})` : '';
  const limits = typeof b.details?.limits === 'string' ? `\nlimits    ${b.details.limits}` : '';
  return `backend   ${description}${asked}${limits}`;
}

export async function trainCommand(io: CliIo, file: string | undefined, flags: TrainFlags): Promise<void> {
  const { bold, dim, yellow, green, red } = io.color;
  if (file === undefined && flags.resume === undefined) throw new CliError('give a spec file to train, or --resume RUN to continue a run', 2);
  if (flags.resume !== undefined && flags.out !== undefined) throw new CliError('--out and --resume do not go together: a resumed run stays in its own directory', 2);
  if (flags.resume !== undefined && flags.seed !== undefined) throw new CliError('--seed cannot change a resumed run (the seed is part of its state); start a new run instead', 2);

  let spec: ResolvedSpec | undefined;
  const machine = machineFacts();
  if (file !== undefined) spec = requireValidSpec(io.cwd, file, (line) => io.err(`${line}\n`), machine);
  if (spec) requireFit(io, spec, flags.backend ?? spec.training.backend, flags.force, machine);

  // The run directory.
  let runDir: string;
  let resumedBackend: string | undefined;
  let name = spec?.name;
  if (flags.resume !== undefined) {
    const found = await resolveRunRef(io.cwd, flags.resume);
    const info = await readRunInfo(found.dir);
    if (!info) throw new CliError(`${found.ref}: run.json is unreadable`);
    await checkResumable(io.cwd, found.ref, found.dir, info, flags.steps);
    name ??= info.name;
    resumedBackend = info.backend?.name;
    runDir = found.dir;
  } else {
    runDir = flags.out !== undefined ? path.resolve(io.cwd, flags.out) : path.join(io.cwd, RUNS_DIR, newRunId());
    if (existsSync(runPaths(runDir).run)) {
      throw new CliError(`${displayPath(io.cwd, runDir)} already holds a run; continue it with \`convbert train --resume ${runRefFor(io.cwd, runDir)}\` or pick another --out`);
    }
    await requireWritableDir(path.dirname(runDir), flags.out !== undefined ? 'pick another --out' : 'run from a writable folder, or give --out');
  }
  const ref = runRefFor(io.cwd, runDir);

  // Relative corpus paths in the spec are the spec file's; a resumed run without a spec file uses the working directory.
  const specDir = file !== undefined ? path.dirname(path.resolve(io.cwd, file)) : io.cwd;
  // The engine is chosen here, before any process starts (an engine may start another program than Node).
  let engine: Engine;
  let startBackend: string | undefined;
  try {
    ({ engine, startBackend } = pickEngine({
      engine: flags.engine,
      backend: flags.backend,
      specEngine: spec?.training.engine,
      specBackend: spec?.training.backend,
      resumedBackend,
      python: flags.python,
    }));
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  const distributed = { nprocPerNode: flags.nprocPerNode, nnodes: flags.nnodes, rdzvEndpoint: flags.rdzvEndpoint, nodeRank: flags.nodeRank, python: flags.python };
  const scaled = distributed.nprocPerNode !== undefined || distributed.nnodes !== undefined || distributed.rdzvEndpoint !== undefined || distributed.nodeRank !== undefined;
  if (scaled && engine.id !== 'torch') throw new CliError(`--nproc-per-node, --nnodes, --rdzv-endpoint and --node-rank are the torch engine's; this run uses the ${engine.id} engine (add --engine torch)`, 2);
  if (engine.id === 'torch' && (distributed.nodeRank ?? 0) > 0) {
    // Not the first machine: no trainer, no run directory here; the ranks take their work from the first machine.
    const problem = checkDistributed(distributed);
    if (problem) throw new CliError(problem, 2);
    const follower = await followerCommand(distributed).catch((e: Error) => {
      throw new CliError(e.message);
    });
    io.err(dim(`node ${distributed.nodeRank}: starting ${distributed.nprocPerNode ?? 1} rank(s); the run is written on the first machine\n`));
    const code = await new Promise<number>((resolve) => {
      const child = spawn(follower.command, follower.args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...follower.env } });
      child.on('error', (e) => {
        io.err(`${e.message}\n`);
        resolve(1);
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1)));
    });
    if (code !== 0) throw new CliError(`the ranks of node ${distributed.nodeRank} exited with code ${code}`, code === 130 ? 130 : 1);
    return;
  }
  let launched: LaunchedTrainer;
  try {
    launched = launchTrainer(engine, { cwd: io.cwd, specDir, distributed: Object.fromEntries(Object.entries(distributed).filter(([, v]) => v !== undefined)) }, { stopTimeoutMs: STOP_TIMEOUT_MS });
  } catch (e) {
    throw new CliError((e as Error).message, e instanceof StartRunError && e.usage ? 2 : 1);
  }
  const { plan, client } = launched;
  if (flags.verbose) io.err(dim(`trainer: ${plan.transport === 'ipc' ? plan.script : plan.command} (${plan.why})\n`));

  const view: ProgressView = createProgressView(io);
  let started: TrainerMessageOf<'started'> | undefined;
  let lastMetrics: MetricsMessage | undefined;
  let fatal: TrainerMessageOf<'error'> | undefined;
  let lastCheckpointStep: number | undefined;
  const stderrTail: string[] = [];

  client.on('started', (m) => {
    started = m;
    io.out(`${bold(m.resumed ? 'resuming' : 'training')} ${name ?? ref}  ${dim(`run ${ref}`)}\n`);
    io.out(`run dir   ${displayPath(io.cwd, m.runDir)}\n`);
    io.out(`${backendLine(m)}\n`);
    for (const s of m.backend.skipped) io.out(dim(`          skipped ${s.name}: ${s.reason}\n`));
    if (m.resumed) {
      io.out(`from      step ${m.step} (${m.checkpoint ?? 'checkpoint'}), to step ${m.totalSteps}\n`);
      io.out(`${resumingSentence(m.step, m.retrained)}\n`);
    }
    else io.out(`steps     ${m.totalSteps}, seed ${m.seed}\n`);
    view.begin(m.step, m.totalSteps);
  });
  client.on('metrics', (m) => (lastMetrics = m));
  client.on('progress', (p) => view.update(p, lastMetrics?.step === p.step ? lastMetrics : undefined));
  client.on('eval', (e) => {
    const nsp = e.nspAccuracy !== undefined ? `, NSP accuracy ${fraction(e.nspAccuracy)}` : '';
    view.note(`eval      step ${e.step}: val loss ${metric(e.loss)}, MLM accuracy ${fraction(e.mlmAccuracy)}${nsp}`);
  });
  client.on('checkpoint', (c) => {
    lastCheckpointStep = c.step;
    if (flags.verbose) view.note(dim(`checkpoint step ${c.step}: ${c.path}`));
  });
  client.on('warning', (w) => view.note(yellow(`warning: ${w.message}${w.hint ? ` (${w.hint})` : ''}`), 'err'));
  client.on('error', (e) => {
    if (e.fatal) {
      // At once: the trainer may take a moment to exit (or be killed), the user need not wait for it.
      fatal ??= e;
      if (fatal === e) view.note(red(`convbert: ${oneLine(e.message, e.hint)}`), 'err');
    } else view.note(yellow(`warning: the trainer reported: ${e.message}`), 'err');
  });
  client.on('log', (l) => {
    if (flags.verbose || l.level === 'warn' || l.level === 'error') view.note(dim(`trainer ${l.level}: ${l.message}`), 'err');
  });
  client.onOutput((stream, line) => {
    if (stream === 'stderr') {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    }
    if (flags.verbose) view.note(dim(`trainer ${stream}: ${line}`), 'err');
  });
  client.onInvalid((error) => view.note(yellow(`warning: ignored a malformed trainer message: ${error}`), 'err'));

  // Ctrl+C: first a graceful stop, then a kill. SIGTERM stops gracefully too.
  let interrupts = 0;
  let killedByUser = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      view.note(yellow(`${signal === 'SIGINT' ? 'Ctrl+C' : signal}: stopping after the current step and writing a checkpoint (Ctrl+C again to kill the trainer)…`), 'err');
      void client.stop(STOP_TIMEOUT_MS);
    } else if (!killedByUser) {
      killedByUser = true;
      view.note(red('killing the trainer'), 'err');
      client.dispose();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  let exit: TrainerExit;
  try {
    client.start({
      runDir,
      ...(file !== undefined ? specForStart(io, file, flags.seed) : {}),
      options: {
        ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
        ...(startBackend !== undefined ? { backend: startBackend } : {}),
        ...(flags.resume !== undefined ? { resume: true } : {}),
      },
    });
    exit = await client.finished;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    view.end();
    client.dispose();
  }
  const wallMs = Date.now() - t0;
  const done = exit.done;

  const resumeHint = `convbert train --resume ${ref}`;
  if (!done || done.reason === 'error') {
    if (killedByUser) {
      const at = lastCheckpointStep !== undefined ? `the latest checkpoint is at step ${lastCheckpointStep}` : 'no checkpoint was written in this session';
      throw new CliError(`the trainer was killed; ${at}${started ? `; continue with \`${resumeHint}\`` : ''}`, 130);
    }
    if (fatal) throw new CliError('', TRAIN_EXIT_CODES.error); // printed when it arrived
    if (exit.cancelled) {
      io.out(`\n${bold(yellow(`cancelled before the first step`))}\n`);
      throw new CliError('', TRAIN_EXIT_CODES.stopped);
    }
    const clue = stderrTail.map((l) => l.trim()).find((l) => /error/i.test(l) && !l.startsWith('at ')) ?? stderrTail.find((l) => l.trim() !== '');
    const log = started ? `; see ${displayPath(io.cwd, runPaths(runDir).log)}` : '';
    throw new CliError(oneLine(`${exit.error ?? 'the trainer ended without finishing the run'}${clue ? `: ${clue.trim()}` : ''}`, `rerun with --verbose for the trainer's output${log}`));
  }

  // The summary, from the run's history (it covers earlier sessions of a resumed run too).
  const history = await readMetricEvents(runDir);
  const summary = summarizeRun(history.events);
  const headline =
    done.reason === 'completed'
      ? green(`completed ${done.step} steps`)
      : done.reason === 'stopped'
        ? yellow(`stopped at step ${done.step}${summary.totalSteps !== undefined ? ` of ${summary.totalSteps}` : ''}`)
        : done.reason === 'cancelled'
          ? yellow(`cancelled before the first step${done.step > 0 ? ` (the run stays at its checkpoint, step ${done.step})` : ''}`)
          : red(`diverged at step ${done.step + 1}`);
  io.out(`\n${bold(headline)}\n`);
  const rows = summaryRows(summary);
  rows.unshift(['run', displayPath(io.cwd, runDir)]);
  rows.push(['time', `${duration(wallMs)} wall, ${duration(summary.trainMs)} in training steps`]);
  if (summary.checkpoint) rows.push(['checkpoint', `step ${summary.checkpoint.step} (${summary.checkpoint.path})`]);
  printRows(io, rows);
  if (history.invalid.length > 0) io.err(yellow(`warning: ${history.invalid.length} unreadable line(s) in metrics.jsonl were left out of the summary\n`));

  const next: string[] = [];
  if (done.reason === 'stopped' || (done.reason === 'cancelled' && summary.checkpoint)) next.push(`${resumeHint}   continue from the checkpoint`);
  if (done.reason === 'completed') next.push(`${resumeHint} --steps ${done.step * 2}   train further`);
  if (done.reason !== 'nonfinite' && summary.checkpoint) next.push(`convbert eval ${ref}   evaluate the latest checkpoint`);
  if (next.length) io.out(`\nnext:\n${next.map((n) => `  ${n}\n`).join('')}`);

  if (done.reason === 'nonfinite') {
    throw new CliError(oneLine(`training diverged${typeof done.summary.message === 'string' ? `: ${done.summary.message}` : ''}`, 'lower the learning rate, lengthen the warmup, or check gradient clipping'));
  }
  if (done.reason === 'stopped' || done.reason === 'cancelled') throw new CliError('', TRAIN_EXIT_CODES.stopped);
}

/** `message; hint` on one line (multi-line messages, e.g. several spec errors, are joined with "; "). */
export function oneLine(message: string, hint?: string): string {
  const text = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
  return hint ? `${text}; ${hint}` : text;
}
