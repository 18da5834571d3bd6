/**
 * How `convbert train` shows a run while it goes: a cli-progress bar on a terminal (step/total, loss, tokens/s,
 * ETA, redrawn in place, with messages printed above it), or plain lines in a pipe or a log file (the first step,
 * then one every `intervalMs`, and the last).
 */
import type { SingleBar } from 'cli-progress';
import type { MetricsMessage, ProgressMessage } from '../protocol';
import { BarDisplay, barStream, type BarStream } from './bar-display';
import type { CliIo } from './io';
import { duration, metric, rate } from '../format';

export interface ProgressView {
  /** The run is set up: `step` of `total` done. */
  begin(step: number, total: number): void;
  update(progress: ProgressMessage, metrics: MetricsMessage | undefined): void;
  /** A message line (warning, eval, stop notice) that must not garble the bar. */
  note(text: string, stream?: 'out' | 'err'): void;
  /** Draws the final state and releases the terminal. Idempotent. */
  end(): void;
}

function eta(progress: ProgressMessage): string {
  if (progress.step >= progress.totalSteps) return 'done';
  return progress.etaMs === null ? '…' : duration(progress.etaMs);
}

/** One progress line, as printed in a pipe. */
export function progressLine(progress: ProgressMessage, metrics: MetricsMessage | undefined): string {
  const width = String(progress.totalSteps).length;
  const parts = [`step ${String(progress.step).padStart(width)}/${progress.totalSteps}`];
  if (metrics) parts.push(`loss ${metric(metrics.loss)}`, `${rate(metrics.tokensPerSecond)} tokens/s`);
  parts.push(`ETA ${eta(progress)}`);
  return parts.join('  ');
}

export class LineProgress implements ProgressView {
  private lastPrinted = -Infinity;
  private lastStep = -1;
  private pending: { progress: ProgressMessage; metrics: MetricsMessage | undefined } | undefined;

  constructor(
    private readonly io: CliIo,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  begin(): void {}

  update(progress: ProgressMessage, metrics: MetricsMessage | undefined): void {
    const first = this.lastStep < 0;
    const last = progress.step >= progress.totalSteps;
    const t = this.now();
    if (first || last || t - this.lastPrinted >= this.intervalMs) {
      this.print(progress, metrics);
      this.lastPrinted = t;
    } else this.pending = { progress, metrics };
  }

  note(text: string, stream: 'out' | 'err' = 'out'): void {
    (stream === 'out' ? this.io.out : this.io.err)(`${text}\n`);
  }

  /** Prints the last step seen if it was not printed (a stop between two periodic lines). */
  end(): void {
    if (this.pending && this.pending.progress.step !== this.lastStep) this.print(this.pending.progress, this.pending.metrics);
    this.pending = undefined;
  }

  private print(progress: ProgressMessage, metrics: MetricsMessage | undefined): void {
    this.io.out(`${progressLine(progress, metrics)}\n`);
    this.lastStep = progress.step;
    this.pending = undefined;
  }
}

/** The terminal's stream for the bar; cli-progress needs a real stream (cursor moves). */
export class BarProgress extends BarDisplay implements ProgressView {
  private bar: SingleBar | undefined;

  constructor(io: CliIo, stream: BarStream) {
    const { dim } = io.color;
    super(io, stream, `{value}/{total} steps ${dim('|')} loss {loss} ${dim('|')} {tps} tokens/s ${dim('|')} ETA {etaText}`);
  }

  protected override drawing(): boolean {
    return this.bar !== undefined;
  }

  begin(step: number, total: number): void {
    this.bar = this.multibar.create(total, step, { loss: '…', tps: '…', etaText: '…' });
  }

  update(progress: ProgressMessage, metrics: MetricsMessage | undefined): void {
    if (!this.bar || this.ended) return;
    this.bar.setTotal(progress.totalSteps);
    this.bar.update(progress.step, {
      loss: metrics ? metric(metrics.loss) : '…',
      tps: metrics ? rate(metrics.tokensPerSecond) : '…',
      etaText: eta(progress),
    });
  }
}

/** A bar on a terminal, lines elsewhere. */
export function createProgressView(io: CliIo, options: { stream?: BarStream; intervalMs?: number } = {}): ProgressView {
  if (!io.isTTY) return new LineProgress(io, options.intervalMs);
  return new BarProgress(io, barStream(options.stream));
}
