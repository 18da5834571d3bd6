/** Runs the `convbert` CLI in this process with captured, colourless output, and the tiny run it trains: what the CLI tests share. */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createColors } from 'picocolors';
import { runCli } from '../src/cli/main';
import type { CliIo } from '../src/cli/io';
import { JOB_MODULE_ENV } from '../src/engines/tfjs/trainer/jobs';

export async function cli(cwd: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(false), isTTY: false, cwd };
  const code = await runCli(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/**
 * Every trainer a test starts (the in-process CLI's or a child CLI's) inherits this process's environment: clear the
 * overrides, so it is the default trainer entry running the built-in masked-LM job.
 */
export function useBuiltInTrainer(): void {
  delete process.env.CONVBERT_TRAINER_ENTRY;
  delete process.env[JOB_MODULE_ENV];
}

export interface TinySpec {
  name: string;
  steps: number;
  seed: number;
  evalInterval: number;
  checkpointInterval: number;
  backend: string;
}

/**
 * A 1-layer BERT with hidden 32 on corpus.txt beside the spec, 2×16 tokens per step: the spec's text as a user writes
 * it (JSONC: a comment and trailing commas), with what the tests vary as options.
 */
export function tinySpecText(o: TinySpec): string {
  return `{
  // tiny masked-LM run
  "version": 1,
  "name": "${o.name}",
  "extends": "bert-tiny",
  "model": { "hiddenSize": 32, "numHeads": 2, "numLayers": 1, "vocabSize": 128, "maxPositions": 32 },
  "training": {
    "corpus": ["corpus.txt"],
    "sequenceLength": 16,
    "batchSize": 2,
    "steps": ${o.steps},
    "seed": ${o.seed},
    "learningRate": { "peak": 0.001, "warmupSteps": 2 },
    "evalInterval": ${o.evalInterval},
    "evalBatches": 1,
    "validationFraction": 0.2,
    "checkpointInterval": ${o.checkpointInterval},
    "backend": "${o.backend}",
  },
}
`;
}

/** The repository's 1 kB test corpus. */
export const SMALL_CORPUS = path.resolve(__dirname, 'fixtures/corpus/small.txt');

/** A fresh temporary directory holding tiny.convbert.json (`specText`) and corpus.txt; its path is pushed to `made`. */
export function tinyWorkspace(prefix: string, specText: string, made: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  writeFileSync(path.join(dir, 'tiny.convbert.json'), specText);
  copyFileSync(SMALL_CORPUS, path.join(dir, 'corpus.txt'));
  return dir;
}
