/** Runs the `convbert` CLI in this process with captured, colourless output: what the CLI tests share. */
import { createColors } from 'picocolors';
import { runCli } from '../src/cli/main';
import type { CliIo } from '../src/cli/io';

export async function cli(cwd: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(false), isTTY: false, cwd };
  const code = await runCli(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}
