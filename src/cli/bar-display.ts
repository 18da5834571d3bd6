/**
 * What `convbert train`'s and `convbert sweep`'s terminal displays share: a cli-progress MultiBar redrawn in place on
 * a terminal, with message lines printed above it (or straight to the output while no bar is drawn, and after the
 * end), and the terminal it draws on.
 */
import { MultiBar } from 'cli-progress';
import type { CliIo } from './io';

export type BarStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** stderr when it is a terminal (stdout stays for the results), else stdout. */
export function barStream(stream?: BarStream): BarStream {
  return stream ?? (process.stderr.isTTY ? process.stderr : process.stdout);
}

export abstract class BarDisplay {
  protected readonly multibar: MultiBar;
  protected ended = false;

  constructor(
    protected readonly io: CliIo,
    stream: BarStream,
    /** cli-progress's line format, after the bar. */
    format: string,
  ) {
    this.multibar = new MultiBar({
      stream,
      format: `  ${io.color.cyan('{bar}')} ${format}`,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      barsize: 24,
      hideCursor: true,
      gracefulExit: false, // Ctrl+C is ours: it stops the run(s) gracefully
      clearOnComplete: false,
      linewrap: false,
      fps: 5,
    });
  }

  /** Whether a bar is drawn yet: before, messages go straight to the output. */
  protected drawing(): boolean {
    return true;
  }

  /** A message line (warning, eval, stop notice) that must not garble the bars. */
  note(text: string, stream: 'out' | 'err' = 'out'): void {
    if (this.ended || !this.drawing()) {
      (stream === 'out' ? this.io.out : this.io.err)(`${text}\n`);
      return;
    }
    this.multibar.log(`${text}\n`);
  }

  /** Draws the final state and releases the terminal. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.drawing()) this.multibar.update(); // flushes the lines logged since the last redraw
    this.multibar.stop();
  }
}
