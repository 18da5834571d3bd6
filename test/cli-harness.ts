/** Runs the `convbert` CLI in this process with captured, colourless output: what the CLI tests share. */
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
