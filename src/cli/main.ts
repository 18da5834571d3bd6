/**
 * `convbert`: the ConvBERT Studio command line. Every command runs on the same core as the editor.
 *   convbert validate <spec…>          compiler-style diagnostics, exit 1 on errors
 *   convbert cost <spec> [--seq N] [--batch N] [--json] [--summary]
 *   convbert new <preset> [file]       write a spec that extends a preset
 *   convbert presets                   list the presets with their sizes and costs
 *   convbert train <spec> [--steps N] [--backend B] [--resume RUN] [--out DIR] [--seed N]
 *   convbert eval <run>                evaluate a run's latest checkpoint on the validation split
 *   convbert prepare <spec> --out DIR  write the data shards the PyTorch engine reads [--steps N] [--world-size W] [--verify]
 *   convbert sweep <file.sweep.json>   train specs at equal compute and report [--parallel N|auto] [--dry-run] [--report]
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { computeCost } from '../core/cost';
import { PRESETS, PRESET_NAMES, PRESET_SUMMARIES, presetSpecText } from '../core/spec/presets';
import { isPresetName } from '../core/spec/preset-names';
import { resolveSpec } from '../core/spec/resolve';
import { formatDiagnostic } from '../core/validate/validate';
import { costCommand } from './cost-command';
import { evalCommand } from './eval-command';
import { prepareCommand, type PrepareFlags } from './prepare-command';
import { SWEEP_EXIT_CODES_HELP, sweepCommand, type SweepFlags } from './sweep-command';
import { exact, si } from '../format';
import { CliError, processIo, type CliIo } from './io';
import { readSpecFile, requireValidSpec } from './load-spec';
import { machineFacts } from '../engines/machine';
import { BACKEND_CHOICES, ENGINE_CHOICES, TRAIN_EXIT_CODES_HELP, trainCommand, type TrainFlags } from './train-command';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0.');
  return n;
}

function seedValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 4_294_967_295) throw new InvalidArgumentError('expected a whole number from 0 to 4294967295.');
  return n;
}

function parallelValue(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  return positiveInt(value);
}

function backendName(value: string): string {
  if (!(BACKEND_CHOICES as readonly string[]).includes(value)) throw new InvalidArgumentError(`unknown backend "${value}"; use one of ${BACKEND_CHOICES.join(', ')}.`);
  return value;
}

function engineName(value: string): string {
  if (value !== 'auto' && !ENGINE_CHOICES.includes(value)) throw new InvalidArgumentError(`unknown engine "${value}"; use one of auto, ${ENGINE_CHOICES.join(', ')}.`);
  return value;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('convbert')
    .description('Design, cost and train BERT / GroupBERT encoders described by *.convbert.json specs.')
    .version('0.1.0')
    .showHelpAfterError('(run `convbert --help` for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  program
    .command('validate')
    .description('check specs; prints file:line:col: severity: message, exits 1 if any has errors')
    .argument('<spec...>', 'spec files')
    .option('--memory-budget <MiB>', 'warn when estimated training memory exceeds this', positiveInt)
    .action((files: string[], opts: { memoryBudget?: number }) => {
      let errors = 0;
      let warnings = 0;
      for (const file of files) {
        const loaded = readSpecFile(io.cwd, file, opts.memoryBudget, machineFacts());
        for (const d of loaded.diagnostics) {
          io.out(`${formatDiagnostic(file, d)}\n`);
          if (d.severity === 'error') errors++;
          else if (d.severity === 'warning') warnings++;
        }
      }
      const summary = `${files.length} spec${files.length === 1 ? '' : 's'}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
      io.err(`${errors ? io.color.red(summary) : io.color.green(summary)}\n`);
      if (errors) throw new CliError('', 1);
    });

  program
    .command('cost')
    .description('parameters, FLOPs and memory per layer and per module')
    .argument('<spec>', 'spec file')
    .option('--seq <N>', 'sequence length (default: training.sequenceLength)', positiveInt)
    .option('--batch <N>', 'batch size (default: training.batchSize)', positiveInt)
    .option('--json', 'machine-readable output')
    .option('--summary', 'one row per layer instead of one per module')
    .action((file: string, opts: { seq?: number; batch?: number; json?: boolean; summary?: boolean }) => {
      const spec = requireValidSpec(io.cwd, file, (line) => io.err(`${line}\n`));
      if (opts.seq !== undefined && opts.seq > spec.model.maxPositions) {
        throw new CliError(`--seq ${opts.seq} exceeds model.maxPositions ${spec.model.maxPositions}`);
      }
      costCommand(io, file, spec, opts);
    });

  program
    .command('new')
    .description('write a new spec that extends a preset')
    .argument('<preset>', `one of: ${PRESET_NAMES.join(', ')}`)
    .argument('[file]', 'where to write it (default: <preset>.convbert.json)')
    .option('--force', 'overwrite an existing file')
    .action((preset: string, file: string | undefined, opts: { force?: boolean }) => {
      if (!isPresetName(preset)) throw new CliError(`unknown preset "${preset}"; presets: ${PRESET_NAMES.join(', ')}`);
      const target = file ?? `${preset}.convbert.json`;
      if (!target.endsWith('.convbert.json')) throw new CliError(`${target}: spec files end in .convbert.json (the editor recognises them by that)`);
      const path = resolve(io.cwd, target);
      if (existsSync(path) && !opts.force) throw new CliError(`${target} exists; pass --force to overwrite it`);
      writeFileSync(path, presetSpecText(preset, basename(target, '.convbert.json')));
      io.out(`wrote ${target} (extends ${preset}); next: convbert cost ${target}\n`);
    });

  program
    .command('presets')
    .description('list the presets')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const rows = PRESET_NAMES.map((name) => {
        const spec = resolveSpec(PRESETS[name]);
        const cost = computeCost(spec, { sequenceLength: 128, batchSize: 1 });
        return { name, summary: PRESET_SUMMARIES[name], params: cost.totals.params, encoderForwardFlopsPerToken: cost.totals.encoderForwardMatmulFlopsPerToken };
      });
      if (opts.json) return io.out(`${JSON.stringify(rows, null, 2)}\n`);
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        io.out(`${io.color.bold(r.name.padEnd(width))}  ${exact(r.params).padStart(11)} params  ${si(r.encoderForwardFlopsPerToken, 'FLOP').padStart(11)}/token fwd (S=128)  ${io.color.dim(r.summary)}\n`);
      }
    });

  program
    .command('train')
    .description('train a spec in a trainer process (Ctrl+C stops after the step with a checkpoint; twice kills)')
    .argument('[spec]', 'spec file (may be left out with --resume: the run keeps its spec)')
    .option('--steps <N>', 'total optimizer steps (default: training.steps, or the flopBudget)', positiveInt)
    .option('--backend <name>', `TF.js backend: ${BACKEND_CHOICES.join(', ')} (default: training.backend)`, backendName)
    .option('--engine <id>', `engine that runs the job: auto, ${ENGINE_CHOICES.join(', ')} (default: training.engine)`, engineName)
    .option('--nproc-per-node <N>', 'torch engine: processes (ranks) on this machine, DDP (default 1)', positiveInt)
    .option('--nnodes <M>', 'torch engine: machines taking part (default 1; needs --rdzv-endpoint)', positiveInt)
    .option('--rdzv-endpoint <host:port>', 'torch engine: the rendezvous of a multi-machine run (the first node)')
    .option('--node-rank <K>', 'torch engine: this machine\'s index in a multi-machine run', nonNegativeInt)
    .option('--python <path>', 'torch engine: the Python with PyTorch (default: $CONVBERT_PYTHON, then python3 on PATH, then /usr/bin/python3)')
    .option('--resume <run>', 'continue a run from its latest checkpoint: a run id, a run directory, or "latest"')
    .option('--out <dir>', 'run directory for a new run (default: .convbert/runs/<new run id>)')
    .option('--seed <N>', 'seed for this run instead of training.seed', seedValue)
    .option('--verbose', "show the trainer's log and output")
    .addHelpText('after', `\n${TRAIN_EXIT_CODES_HELP}\n`)
    .option('--force', "train even when the memory estimate is over the budget (not past the backend's hard limit)")
    .action((file: string | undefined, opts: TrainFlags) => trainCommand(io, file, opts));

  program
    .command('eval')
    .description("evaluate a run's latest checkpoint on the validation split, and summarise its metrics.jsonl")
    .argument('<run>', 'a run id, a run directory, or "latest"')
    .option('--backend <name>', `TF.js backend (default: the one the run trained on)`, backendName)
    .option('--engine <id>', `engine that evaluates: ${ENGINE_CHOICES.join(', ')} (default: the backend's)`, engineName)
    .option('--verbose', 'show backend and job log lines')
    .action((run: string, opts: { backend?: string; engine?: string; verbose?: boolean }) => evalCommand(io, run, opts));

  program
    .command('prepare')
    .description('write the data shards the PyTorch engine reads (the training stream, validation batches, iterator states); reused when unchanged')
    .argument('<spec>', 'spec file')
    .requiredOption('--out <dir>', 'the shards folder')
    .option('--steps <N>', 'total optimizer steps (default: training.steps, or the flopBudget)', positiveInt)
    .option('--world-size <W>', 'ranks the run will train on: a step is batchSize × gradientAccumulation × W sequences (default 1)', positiveInt)
    .option('--verify', "also check every file's bytes against index.json's contentSha256")
    .action((file: string, opts: PrepareFlags) => prepareCommand(io, file, opts));

  program
    .command('sweep')
    .description('train a sweep\'s specs to the same FLOP budget and report who reaches which loss at what compute (run again to continue)')
    .argument('<file>', 'a *.sweep.json file')
    .option('--parallel <N>', 'runs at once: a number, or auto (cores and memory decide; default: the file\'s "parallel")', parallelValue)
    .option('--dry-run', 'print the plan (runs, steps, FLOPs, what is on disk) and train nothing')
    .option('--report', 'write the report from the runs on disk and exit')
    .addHelpText('after', `\n${SWEEP_EXIT_CODES_HELP}\n`)
    .action((file: string, opts: SweepFlags) => sweepCommand(io, file, opts));

  return program;
}

/** Runs the CLI; resolves to the exit code. Never lets a stack trace reach the user. */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) {
      if (e.message) io.err(`convbert: ${e.message}\n`);
      return e.exitCode;
    }
    io.err(`convbert: internal error: ${e instanceof Error ? e.message : String(e)}\n(please report this with the spec that caused it)\n`);
    return 70;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
