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
  guardClosedPipes();
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

let pipesGuarded = false;

/**
 * A closed stdout/stderr (`convbert cost … | head`) must not end the CLI with an EPIPE stack trace: later output
 * is dropped (a training run goes on to its end and checkpoint). Installed once per process, for good: the error of a
 * write arrives asynchronously, possibly after the command has returned.
 */
export function guardClosedPipes(): void {
  if (pipesGuarded) return;
  pipesGuarded = true;
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}
