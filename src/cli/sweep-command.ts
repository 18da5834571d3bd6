/**
 * `convbert sweep <file.sweep.json> [--parallel N] [--dry-run] [--report]` (docs/sweeps.md, "Running"): plans the
 * sweep (src/core/sweep), then trains its runs with src/engines/sweep's runner, each an ordinary run directory
 * `.convbert/runs/<id>/` in a forked trainer, `parallel` at a time, with one progress display; at the end (or with
 * `--report`, from whatever is on disk) writes the report into `.convbert/sweeps/<name>/`.
 *
 * Run it again after a kill and it continues: completed runs are skipped, the others resume from their checkpoints.
 * Ctrl+C stops every running trainer gracefully (each writes a checkpoint) and exits 3; a second Ctrl+C kills them
 * (130). A failed run is reported and the others go on; the exit code is then 1.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeCost } from '../core/cost';
import { trainingFit } from '../core/cost/fit';
import { buildSweepReport } from '../core/compare/report';
import { planSweep } from '../core/sweep/plan';
import { formatDiagnostic } from '../core/validate/validate';
import { machineFacts } from '../engines/machine';
import { pickEngine, StartRunError } from '../engines/start-run';
import {
  SweepRefused,
  SweepRunner,
  chooseParallel,
  decideRun,
  plannedRunDir,
  readRunOnDisk,
  sweepDir,
  sweepRefusals,
  sweepReportInputs,
  threadEnv,
  threadsPerRun,
  type RunnableSweepPlan,
  type SweepRunResult,
} from '../engines/sweep';
import { duration, mebibytes, si } from '../format';
import { CliError, type CliIo } from './io';
import { displayPath } from './run-ref';
import { readRunInfo } from '../run-format/run-dir';
import { writeSweepReport, type WrittenReport } from '../engines/sweep/report-files';
import { createSweepView, SweepTally } from './sweep-progress';
import { TRAIN_EXIT_CODES } from './train-command';

export interface SweepFlags {
  parallel?: number | 'auto';
  dryRun?: boolean;
  report?: boolean;
}

/** `convbert sweep`'s exit codes (`--help`), the values of `convbert train`'s. */
export const SWEEP_EXIT_CODES_HELP = [
  `Exit codes: ${TRAIN_EXIT_CODES.completed} every run completed; ${TRAIN_EXIT_CODES.error} a run failed (the others were trained) or an error;`,
  `${TRAIN_EXIT_CODES.usage} usage error; ${TRAIN_EXIT_CODES.stopped} stopped before the end (Ctrl+C, SIGTERM): run it again to continue;`,
  `${TRAIN_EXIT_CODES.killed} the trainers were killed by a second Ctrl+C (their runs resume from their latest checkpoints).`,
].join('\n');

/** How long a graceful stop may take (the step in flight, then the checkpoint) before a trainer is killed. */
const STOP_TIMEOUT_MS = 10 * 60_000;

/** The command as typed (for the report). */
function commandLine(file: string, flags: SweepFlags): string {
  return ['convbert sweep', file, ...(flags.parallel !== undefined ? [`--parallel ${flags.parallel}`] : []), ...(flags.report ? ['--report'] : [])].join(' ');
}

/** The sweep file planned, or a CliError with its diagnostics printed. */
export function loadSweepPlan(io: CliIo, file: string): RunnableSweepPlan {
  const sweepPath = path.resolve(io.cwd, file);
  let text: string;
  try {
    text = readFileSync(sweepPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory, not a sweep file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  const readSpec = (specPath: string): string => readFileSync(specPath, 'utf8');
  const { plan, diagnostics } = planSweep(text, { sweepPath, readSpec, validate: { machine: machineFacts() } });
  for (const d of diagnostics) if (d.severity !== 'info') io.err(`${formatDiagnostic(file, d)}\n`);
  if (!plan || diagnostics.some((d) => d.severity === 'error')) throw new CliError(`${file} has errors; fix them first`);
  return plan;
}

/** The planned runs' engine and backend must be the sweep's one (shared.engine); the first run's, for parallelism. */
function engineOf(plan: RunnableSweepPlan): { engine: string; backend: string } {
  const first = plan.runs[0]!.resolved.training;
  try {
    const picked = pickEngine({ specEngine: first.engine, specBackend: first.backend });
    return { engine: picked.engine.id, backend: picked.startBackend ?? first.backend };
  } catch (e) {
    throw new CliError((e as Error).message, e instanceof StartRunError && e.usage ? 2 : 1);
  }
}

/** The machine in words, for the report: CPU model, cores, memory. */
function machineWords(): string {
  const cpu = os.cpus()[0]?.model?.trim();
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return `${cpu ? `${cpu}, ` : ''}${cores} cores, ${mebibytes(os.totalmem())} memory, ${os.platform()} ${os.arch()}`;
}

/** Writes the report from what is on disk (the engines and versions the runs recorded); returns the folder. */
async function writeReport(io: CliIo, plan: RunnableSweepPlan, command: string): Promise<string> {
  const dir = sweepDir(io.cwd, plan.name);
  const { inputs, unreadable } = await sweepReportInputs(io.cwd, plan.runs);
  if (unreadable > 0) io.err(io.color.yellow(`warning: ${unreadable} unreadable line(s) in the runs' metrics.jsonl were left out of the report\n`));
  const backends = new Set<string>();
  const versions: Record<string, string> = { node: process.versions.node };
  for (const run of plan.runs) {
    const info = await readRunInfo(plannedRunDir(io.cwd, run.id)).catch(() => undefined);
    if (!info) continue;
    if (info.backend) backends.add(info.backend.name);
    for (const [k, v] of Object.entries(info.versions)) if (typeof v === 'string' && !(k in versions && k !== 'node')) versions[k] = v;
  }
  const engines = [...new Set(plan.runs.map((r) => r.resolved.training.engine))].join(', ');
  let written: WrittenReport;
  try {
    written = await writeSweepReport(dir, buildSweepReport(inputs), {
      sweep: plan.name,
      command,
      date: new Date().toISOString(),
      file: displayPath(io.cwd, plan.file),
      flopBudget: plan.flopBudget,
      machine: machineWords(),
      engine: `${engines} engine${backends.size ? `, ${[...backends].join(', ')}` : ''}`,
      versions,
    });
  } catch (e) {
    throw new CliError(`could not write the report into ${displayPath(io.cwd, dir)}: ${(e as Error).message}`);
  }
  for (const w of written.warnings) io.err(io.color.yellow(`warning: ${w}\n`));
  return dir;
}

async function dryRun(io: CliIo, plan: RunnableSweepPlan, parallel: { parallel: number; why: string }): Promise<void> {
  const { bold, dim } = io.color;
  io.out(`${bold(`sweep ${plan.name}`)}  ${dim(displayPath(io.cwd, plan.file))}\n`);
  io.out(`budget    ${si(plan.flopBudget, 'FLOP')} of training per run\n`);
  io.out(`parallel  ${parallel.parallel} (${parallel.why})\n\n`);
  const idWidth = Math.max(2, ...plan.runs.map((r) => r.id.length));
  io.out(`${'run'.padEnd(idWidth)}  family     ${'steps'.padStart(7)}  ${'FLOPs'.padStart(11)}  on disk\n`);
  const refused = await sweepRefusals(io.cwd, plan).catch((e: Error) => [{ id: '', message: e.message }]);
  let total = 0;
  let left = 0;
  for (const run of plan.runs) {
    const flops = run.steps * run.flopsPerStep;
    total += flops;
    const action = decideRun(run, await readRunOnDisk(plannedRunDir(io.cwd, run.id)));
    const disk = refused.some((r) => r.id === run.id)
      ? 'inputs changed: refused'
      : action.kind === 'start'
        ? 'new'
        : action.kind === 'skip'
          ? 'completed: skip'
          : action.kind === 'resume'
            ? `resume from step ${action.fromStep}`
            : action.kind === 'restart'
              ? 'start over in place (no checkpoint)'
              : `held by trainer process ${action.pid}`;
    if (refused.some((r) => r.id === run.id)) left += 0;
    else if (action.kind === 'resume') left += (run.steps - action.fromStep) * run.flopsPerStep;
    else if (action.kind !== 'skip') left += flops;
    const family = `${run.family}${run.ablation ? ` ${run.ablation}` : ''}`;
    io.out(`${run.id.padEnd(idWidth)}  ${family.padEnd(9)}  ${String(run.steps).padStart(7)}  ${si(flops, 'FLOP').padStart(11)}  ${disk}\n`);
  }
  io.out(`\n${plan.runs.length} run(s), ${si(total, 'FLOP')} of training in all, ${si(left, 'FLOP')} left to train\n`);
  for (const r of refused) io.err(io.color.yellow(`refused: ${r.message}\n`));
}

export async function sweepCommand(io: CliIo, file: string, flags: SweepFlags): Promise<void> {
  const { bold, green, yellow, red, dim } = io.color;
  if (flags.report && flags.dryRun) throw new CliError('--report and --dry-run do not go together', 2);
  const plan = loadSweepPlan(io, file);
  if (plan.runs.length === 0) throw new CliError(`${file}: the sweep has no runs`);

  if (flags.report) {
    const dir = await writeReport(io, plan, commandLine(file, flags));
    io.out(`report    ${displayPath(io.cwd, dir)}\n`);
    return;
  }

  // Parallelism: cores ÷ threads per run, bounded by memory (auto), or as asked.
  const { engine, backend } = engineOf(plan);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const runBytes = Math.max(...plan.runs.map((r) => computeCost(r.resolved).memory.totalBytes));
  const parallel = chooseParallel(flags.parallel ?? plan.parallel, { cores, threadsPerRun: threadsPerRun(engine, backend, cores), memoryBytes: os.totalmem(), runBytes, runs: plan.runs.length });

  if (flags.dryRun) return dryRun(io, plan, parallel);

  // Runs whose inputs changed since they were started refuse the sweep before anything starts.
  let refusals: string[];
  try {
    refusals = (await sweepRefusals(io.cwd, plan)).map((r) => r.message);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (refusals.length > 0) throw new CliError(`will not run sweep ${plan.name}:\n  ${refusals.join('\n  ')}`);

  // Every run must fit before any starts (as `convbert train` checks, without --force).
  const machine = machineFacts();
  for (const run of plan.runs) {
    const fit = trainingFit(run.resolved, run.resolved.training.backend, undefined, machine);
    if (!fit.fits) throw new CliError(`will not train run ${run.id}: ${fit.message}`);
  }

  io.out(`${bold(`sweep ${plan.name}`)}: ${plan.runs.length} run(s) of ${si(plan.flopBudget, 'FLOP')}, ${parallel.parallel} at a time (${parallel.why}), ${engine} engine\n`);
  const tally = new SweepTally(plan.runs.map((r) => ({ id: r.id, steps: r.steps, flopsPerStep: r.flopsPerStep })));
  const view = createSweepView(io, tally);
  const runner = new SweepRunner(plan, {
    workspace: io.cwd,
    specDir: path.dirname(path.resolve(io.cwd, file)),
    parallel: parallel.parallel,
    env: threadEnv(Math.max(1, Math.floor(cores / parallel.parallel)), cores),
    onEvent: (e) => view.event(e),
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });

  // Ctrl+C: first a graceful stop of every run, then a kill. SIGTERM stops gracefully too.
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      view.note(yellow(`${signal === 'SIGINT' ? 'Ctrl+C' : signal}: stopping every run after its current step with a checkpoint (Ctrl+C again to kill them)…`), 'err');
      runner.stop();
    } else if (interrupts === 2) {
      view.note(red('killing the trainers'), 'err');
      runner.kill();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = Date.now();
  let results: SweepRunResult[];
  try {
    results = await runner.run();
  } catch (e) {
    if (e instanceof SweepRefused) throw new CliError(`will not run sweep ${plan.name}:\n  ${e.lines.join('\n  ')}`);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    view.end();
  }

  const count = (o: SweepRunResult['outcome']) => results.filter((r) => r.outcome === o).length;
  const failed = results.filter((r) => r.outcome === 'failed');
  const notRun = plan.runs.length - results.length;
  const parts = [`${count('completed')} trained`, `${count('skipped')} already done`];
  if (count('stopped') > 0) parts.push(`${count('stopped')} stopped`);
  if (count('killed') > 0) parts.push(`${count('killed')} killed`);
  if (failed.length > 0) parts.push(`${failed.length} failed`);
  if (notRun > 0) parts.push(`${notRun} not started`);
  const headline = `sweep ${plan.name}: ${parts.join(', ')} in ${duration(Date.now() - t0)}`;
  io.out(`\n${bold(failed.length > 0 ? red(headline) : interrupts > 0 ? yellow(headline) : green(headline))}\n`);
  for (const f of failed) io.err(red(`  failed ${f.id}: ${f.message ?? 'unknown error'}\n`));

  const dir = await writeReport(io, plan, commandLine(file, flags));
  io.out(`report    ${displayPath(io.cwd, dir)}\n`);
  if (interrupts > 0 || count('stopped') > 0) io.out(dim(`continue with \`convbert sweep ${file}\`\n`));

  if (interrupts >= 2 || count('killed') > 0) throw new CliError('', TRAIN_EXIT_CODES.killed);
  if (interrupts > 0 || count('stopped') > 0 || notRun > 0) throw new CliError('', TRAIN_EXIT_CODES.stopped);
  if (failed.length > 0) throw new CliError(`${failed.length} of ${plan.runs.length} run(s) failed`, TRAIN_EXIT_CODES.error);
}
