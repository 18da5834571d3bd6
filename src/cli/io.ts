/** Where the CLI writes, so commands run the same in a terminal, in a pipe and in tests. */
import { createColors } from 'picocolors';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Colour only on a terminal, and never with NO_COLOR set. */
  color: ReturnType<typeof createColors>;
  isTTY: boolean;
  cwd: string;
}

export function processIo(): CliIo {
  const isTTY = Boolean(process.stdout.isTTY);
  const useColor = isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    color: createColors(useColor),
    isTTY,
    cwd: process.cwd(),
  };
}

/** A user-facing failure: printed as `convbert: message`, with exit code 1 (bad input) or 2 (usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
