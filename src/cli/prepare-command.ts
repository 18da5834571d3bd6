/**
 * `convbert prepare <spec> --out DIR [--steps N] [--world-size W] [--verify]`
 *
 * Writes the binary shards the PyTorch engine's workers memory-map (docs/torch-engine.md, "Shards"): the training
 * stream a run of the spec consumes (`training.steps`, or the FLOP budget, × batchSize × gradientAccumulation × W
 * sequences), the validation batches and the batch iterator's state before every step. Shards whose key matches
 * are reused as they are. The tokenizer and the tokenized corpus come from (and go to) `.convbert/cache` of the
 * working directory, the cache `convbert train` uses there. A progress bar on a terminal, plain lines in a pipe.
 * Exit codes: 0 written, reused or verified; 1 error (or `--verify` found other bytes); 2 usage.
 */
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { verifyShards, writeShards, type WriteShardsResult } from '../core/data/shards';
import { bytes, duration, exact } from '../format';
import { CliError, type CliIo } from './io';
import { requireValidSpec, requireWritableDir } from './load-spec';
import { displayPath } from './run-ref';
import { RUNS_DIR, defaultCacheDir } from '../run-format/run-dir';

export interface PrepareFlags {
  out: string;
  steps?: number;
  worldSize?: number;
  verify?: boolean;
}

/** Rows written, as a bar on a terminal or a line every `intervalMs` (and the first and last) elsewhere. */
function rowProgress(io: CliIo, intervalMs = 10_000): { update(written: number, total: number): void; end(): void } {
  if (io.isTTY) {
    const stream = process.stderr.isTTY ? process.stderr : process.stdout;
    const { cyan, dim } = io.color;
    const bar = new SingleBar({
      stream,
      format: `  ${cyan('{bar}')} {value}/{total} sequences ${dim('|')} ETA {eta_formatted}`,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      linewrap: false,
      fps: 5,
    });
    let started = false;
    return {
      update(written, total) {
        if (!started) bar.start(total, written);
        else bar.update(written);
        started = true;
      },
      end() {
        if (started) bar.stop();
      },
    };
  }
  let last = -Infinity;
  let lastWritten = -1;
  return {
    update(written, total) {
      const now = Date.now();
      if (lastWritten < 0 || written === total || now - last >= intervalMs) {
        const width = String(total).length;
        io.err(`sequences ${String(written).padStart(width)}/${total}\n`);
        last = now;
      }
      lastWritten = written;
    },
    end() {},
  };
}

function describe(io: CliIo, r: WriteShardsResult): string {
  const i = r.index;
  const where = displayPath(io.cwd, r.dir);
  const what =
    `${exact(i.train.sequences)} training sequences (${i.steps} step${i.steps === 1 ? '' : 's'} × ${i.sequencesPerStep}: ` +
    `batch ${i.batchSize}${i.gradientAccumulation > 1 ? ` × ${i.gradientAccumulation} accumulated` : ''}${i.worldSize > 1 ? ` × ${i.worldSize} ranks` : ''}) ` +
    `and ${exact(i.validation.sequences)} validation sequences${i.validation.fromTraining ? ' (from training documents)' : ''}`;
  const size = `${i.files.length} files, ${bytes(r.bytes)}`;
  return r.reused ? `reused ${where}: ${what}, ${size}; nothing written\nkey ${i.key}\n` : `wrote ${where}: ${what}, ${size}\nkey ${i.key}\n`;
}

export async function prepareCommand(io: CliIo, file: string, flags: PrepareFlags): Promise<void> {
  const { dim, yellow, green } = io.color;
  const spec = requireValidSpec(io.cwd, file, (line) => io.err(`${line}\n`));
  const outDir = path.resolve(io.cwd, flags.out);
  await requireWritableDir(path.dirname(outDir), 'pick another --out');
  const specDir = path.dirname(path.resolve(io.cwd, file));
  const cacheDir = defaultCacheDir(path.join(io.cwd, RUNS_DIR, 'prepare'));
  const progress = rowProgress(io);
  const t0 = Date.now();
  let result: WriteShardsResult;
  try {
    result = await writeShards({
      spec,
      outDir,
      specDir,
      ...(cacheDir !== undefined ? { cacheDir } : {}),
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.worldSize !== undefined ? { worldSize: flags.worldSize } : {}),
      onProgress: (written, total) => progress.update(written, total),
      onLog: (message) => io.err(`${dim(message)}\n`),
      onWarning: (message, hint) => io.err(`${yellow(`warning: ${message}`)}${hint ? dim(` (${hint})`) : ''}\n`),
      createdBy: 'convbert prepare',
    });
  } catch (e) {
    // Our own bugs stay internal errors; everything else (corpus, vocabulary, the folder) is the input's.
    if (e instanceof TypeError || e instanceof ReferenceError || !(e instanceof Error)) throw e;
    throw new CliError(e.message.replace(/\s*\n\s*/g, ' '));
  } finally {
    progress.end();
  }
  io.out(describe(io, result));
  if (!result.reused) io.err(dim(`in ${duration(Date.now() - t0)}\n`));
  if (flags.verify) {
    const v = await verifyShards(result.dir);
    if (!v.ok) throw new CliError(`${displayPath(io.cwd, result.dir)}: ${v.problem}; delete the folder and run convbert prepare again`);
    io.out(green(`verified: every file has its size and contentSha256 ${v.index.contentSha256} matches\n`));
  }
}
