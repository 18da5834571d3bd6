/**
 * How `convbert sweep` shows a sweep while it goes: one display for all its runs. The figures (`SweepTally`): runs
 * done of the total, the running ones with step/steps and loss, training FLOPs done of the total (the cost model's, as
 * planned), and an ETA from the FLOPs this session has trained per second. On a terminal a redrawn block
 * (cli-progress: a bar for the sweep, one per running run, messages printed above it, as `convbert train`'s bar);
 * in a pipe or a log file one line per event (start, skip, evaluation, end), and a run's progress line every
 * `intervalMs` (its first and last step always).
 */
import type { SingleBar } from 'cli-progress';
import type { SweepEvent } from '../engines/sweep';
import { duration, metric, si } from '../format';
import type { CliIo } from './io';
import { BarDisplay, barStream, type BarStream } from './bar-display';

export interface TallyRun {
  id: string;
  steps: number;
  flopsPerStep: number;
}

interface RunNow {
  step: number;
  totalSteps: number;
  loss: number | undefined;
  running: boolean;
  finished: boolean;
}

/** The sweep's figures, from its events. */
export class SweepTally {
  private readonly runs = new Map<string, TallyRun & RunNow>();
  /** FLOPs done when this session started each run (resumed steps are not this session's work). */
  private sessionFlops = 0;
  private readonly startedAt: number;

  constructor(
    runs: readonly TallyRun[],
    private readonly now: () => number = () => Date.now(),
  ) {
    for (const r of runs) this.runs.set(r.id, { ...r, step: 0, totalSteps: r.steps, loss: undefined, running: false, finished: false });
    this.startedAt = now();
  }

  apply(event: SweepEvent): void {
    const r = this.runs.get(event.id);
    if (!r) return;
    switch (event.type) {
      case 'run-skip':
        r.step = Math.max(r.step, event.step);
        r.finished = true;
        break;
      case 'run-start':
        r.step = event.fromStep;
        r.totalSteps = event.totalSteps;
        r.running = true;
        break;
      case 'progress':
        if (event.step > r.step) this.sessionFlops += (event.step - r.step) * r.flopsPerStep;
        r.step = event.step;
        r.totalSteps = event.totalSteps;
        if (event.loss !== undefined) r.loss = event.loss;
        break;
      case 'run-end':
        r.running = false;
        r.finished = event.outcome === 'completed';
        r.step = Math.max(r.step, event.step);
        break;
      default:
        break;
    }
  }

  get total(): number {
    return this.runs.size;
  }

  get done(): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.finished) n++;
    return n;
  }

  get flopsTotal(): number {
    let f = 0;
    for (const r of this.runs.values()) f += r.totalSteps * r.flopsPerStep;
    return f;
  }

  get flopsDone(): number {
    let f = 0;
    for (const r of this.runs.values()) f += Math.min(r.step, r.totalSteps) * r.flopsPerStep;
    return f;
  }

  /** Time to the end at this session's FLOPs per second; undefined before any step of this session. */
  etaMs(): number | undefined {
    const elapsed = this.now() - this.startedAt;
    if (this.sessionFlops <= 0 || elapsed <= 0) return undefined;
    return ((this.flopsTotal - this.flopsDone) / this.sessionFlops) * elapsed;
  }

  running(): { id: string; step: number; totalSteps: number; loss: number | undefined }[] {
    return [...this.runs.values()].filter((r) => r.running).map(({ id, step, totalSteps, loss }) => ({ id, step, totalSteps, loss }));
  }

  run(id: string): { step: number; totalSteps: number; loss: number | undefined } | undefined {
    return this.runs.get(id);
  }

  /** "1/2 runs, 3.1 GFLOP of 6.2 GFLOP, ETA 12.0 s". */
  line(): string {
    const eta = this.etaMs();
    return `${this.done}/${this.total} runs, ${si(this.flopsDone, 'FLOP')} of ${si(this.flopsTotal, 'FLOP')}, ETA ${this.done === this.total ? 'done' : eta === undefined ? '…' : duration(eta)}`;
  }
}

export interface SweepView {
  event(event: SweepEvent): void;
  /** A message line that must not garble the display. */
  note(text: string, stream?: 'out' | 'err'): void;
  end(): void;
}

/** The words of an event (all but progress), or undefined. */
export function eventLine(event: SweepEvent): string | undefined {
  switch (event.type) {
    case 'run-skip':
      return `skip   ${event.id}: completed (${event.step} steps)`;
    case 'run-wait':
      return `wait   ${event.id}: trainer process ${event.pid} still holds it (stopping after the sweep was killed?)`;
    case 'run-start': {
      const how =
        event.action === 'resume' ? `resuming from step ${event.fromStep} of ${event.totalSteps}` : event.action === 'restart' ? `starting over (no checkpoint), ${event.totalSteps} steps` : `${event.totalSteps} steps`;
      return `start  ${event.id}: ${how}${event.backend ? ` on ${event.backend}` : ''}`;
    }
    case 'eval':
      return `eval   ${event.id}: step ${event.step}, val loss ${metric(event.loss)}`;
    case 'warning':
      return `warning: ${event.id}: ${event.message}`;
    case 'run-end':
      return event.outcome === 'completed'
        ? `done   ${event.id}: completed ${event.step} steps`
        : `${event.outcome === 'failed' ? 'FAILED' : event.outcome.padEnd(6)} ${event.id}: at step ${event.step}${event.message ? `: ${event.message}` : ''}`;
    default:
      return undefined;
  }
}

export class LineSweepView implements SweepView {
  private readonly lastPrinted = new Map<string, number>();

  constructor(
    private readonly io: CliIo,
    private readonly tally: SweepTally,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  event(event: SweepEvent): void {
    this.tally.apply(event);
    if (event.type === 'progress') {
      const t = this.now();
      const last = this.lastPrinted.get(event.id);
      if (last !== undefined && t - last < this.intervalMs && event.step < event.totalSteps) return;
      this.lastPrinted.set(event.id, t);
      const loss = event.loss !== undefined ? `  loss ${metric(event.loss)}` : '';
      this.io.out(`step   ${event.id}: ${event.step}/${event.totalSteps}${loss}  | ${this.tally.line()}\n`);
      return;
    }
    const line = eventLine(event);
    if (!line) return;
    const toErr = event.type === 'warning' || (event.type === 'run-end' && event.outcome === 'failed');
    (toErr ? this.io.err : this.io.out)(`${line}${event.type === 'run-end' || event.type === 'run-skip' ? `  | ${this.tally.line()}` : ''}\n`);
  }

  note(text: string, stream: 'out' | 'err' = 'out'): void {
    (stream === 'out' ? this.io.out : this.io.err)(`${text}\n`);
  }

  end(): void {}
}

export class BarSweepView extends BarDisplay implements SweepView {
  private readonly overall: SingleBar;
  private readonly bars = new Map<string, SingleBar>();

  constructor(
    io: CliIo,
    private readonly tally: SweepTally,
    stream: BarStream,
  ) {
    super(io, stream, '{label}');
    const { dim } = io.color;
    this.overall = this.multibar.create(1000, 0, { label: `sweep ${dim('|')} ${tally.line()}` });
  }

  event(event: SweepEvent): void {
    this.tally.apply(event);
    if (this.ended) return;
    const { dim } = this.io.color;
    if (event.type === 'run-start') this.bars.set(event.id, this.multibar.create(event.totalSteps, event.fromStep, { label: `${event.id} ${dim('|')} ${event.fromStep}/${event.totalSteps} steps` }));
    const bar = this.bars.get(event.id);
    if (event.type === 'progress' && bar) {
      bar.setTotal(event.totalSteps);
      bar.update(event.step, { label: `${event.id} ${dim('|')} ${event.step}/${event.totalSteps} steps ${dim('|')} loss ${event.loss !== undefined ? metric(event.loss) : '…'}` });
    }
    if (event.type === 'run-end' && bar) {
      this.multibar.remove(bar);
      this.bars.delete(event.id);
    }
    const total = this.tally.flopsTotal;
    this.overall.update(total > 0 ? Math.round((1000 * this.tally.flopsDone) / total) : 0, { label: `sweep ${dim('|')} ${this.tally.line()}` });
    const line = event.type === 'progress' ? undefined : eventLine(event);
    if (line) this.multibar.log(`${line}\n`);
  }
}

/** A redrawn block on a terminal, lines elsewhere. */
export function createSweepView(io: CliIo, tally: SweepTally, options: { stream?: BarStream; intervalMs?: number } = {}): SweepView {
  if (!io.isTTY) return new LineSweepView(io, tally, options.intervalMs);
  return new BarSweepView(io, tally, barStream(options.stream));
}
