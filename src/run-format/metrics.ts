/**
 * `metrics.jsonl`: the run's history, one validated protocol message per line, read back with the same
 * validators the host uses for live messages. And the step-time meter behind throughput and ETA.
 */
import { appendFileSync, promises as fsp } from 'node:fs';
import { parseTrainerMessage, type TrainerMessage } from '../protocol';
import { writeFileAtomic } from './files';
import { runPaths } from './run-dir';
import { HISTORY_TYPE_LIST } from './schema';

/** The message types `metrics.jsonl` keeps (schema.ts `MetricEventSchema`: schemas/metrics-event.schema.json). */
export const HISTORY_TYPES: ReadonlySet<TrainerMessage['type']> = new Set(HISTORY_TYPE_LIST);

/** Appends one message as a line (synchronously: lines keep their order and a crash loses at most the last one). */
export function appendMetricEvent(runDir: string, message: TrainerMessage): void {
  appendFileSync(runPaths(runDir).metrics, `${JSON.stringify(message)}\n`);
}

export interface MetricHistory {
  events: TrainerMessage[];
  /** Lines that did not parse or validate (a torn last line after a crash, a hand edit), 1-based. */
  invalid: { line: number; error: string }[];
}

export async function readMetricEvents(runDir: string): Promise<MetricHistory> {
  let text: string;
  try {
    text = await fsp.readFile(runPaths(runDir).metrics, 'utf8');
  } catch {
    return { events: [], invalid: [] };
  }
  return parseMetricLines(text);
}

export function parseMetricLines(text: string): MetricHistory {
  const events: TrainerMessage[] = [];
  const invalid: { line: number; error: string }[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      invalid.push({ line: i + 1, error: 'not JSON (torn line?)' });
      return;
    }
    const parsed = parseTrainerMessage(raw);
    if (parsed.ok) events.push(parsed.message);
    else invalid.push({ line: i + 1, error: parsed.error });
  });
  return { events, invalid };
}

/**
 * Prepares `metrics.jsonl` for a resume from the checkpoint at `step`: drops the per-step events after it (what
 * earlier sessions logged past that checkpoint, to be retrained), the `started` events of earlier attempts that
 * resumed from this same checkpoint (superseded by the one about to be written), and torn lines; rewrites the file
 * atomically. So no step is ever recorded twice. Returns how many lines were dropped and the last step that was
 * recorded past the checkpoint (the end of the retrained range), if any.
 */
export async function truncateMetricEventsAfter(runDir: string, step: number): Promise<{ dropped: number; lastDroppedStep?: number }> {
  const file = runPaths(runDir).metrics;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return { dropped: 0 };
  }
  const kept: string[] = [];
  let dropped = 0;
  let lastDroppedStep: number | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let keep = false;
    try {
      const parsed = parseTrainerMessage(JSON.parse(line));
      if (parsed.ok) {
        const m = parsed.message;
        const at = 'step' in m && typeof m.step === 'number' ? m.step : undefined;
        keep = at === undefined || (m.type === 'started' ? at < step : at <= step);
        if (!keep && m.type === 'metrics') lastDroppedStep = Math.max(lastDroppedStep ?? 0, m.step);
        // An earlier attempt from this checkpoint that died before its first step: its range is still to retrain.
        if (!keep && m.type === 'started' && m.retrained) lastDroppedStep = Math.max(lastDroppedStep ?? 0, m.retrained.to);
      }
    } catch {
      keep = false;
    }
    if (keep) kept.push(line);
    else dropped++;
  }
  if (dropped === 0) return { dropped: 0 };
  await writeFileAtomic(file, kept.length ? `${kept.join('\n')}\n` : '');
  return { dropped, ...(lastDroppedStep !== undefined ? { lastDroppedStep } : {}) };
}

/** Step time, throughput and ETA from an exponential moving average of recent steps. */
export class StepMeter {
  private ema: number | undefined;
  constructor(private readonly smoothing = 0.1) {}

  record(stepMs: number): void {
    this.ema = this.ema === undefined ? stepMs : this.ema + this.smoothing * (stepMs - this.ema);
  }

  /** Smoothed milliseconds per step, or `undefined` before the first step. */
  get stepMs(): number | undefined {
    return this.ema;
  }

  /** Milliseconds for `remainingSteps` more steps, or `null` before the first step. */
  etaMs(remainingSteps: number): number | null {
    return this.ema === undefined ? null : Math.max(0, remainingSteps) * this.ema;
  }
}

/** `count` per second over `ms` milliseconds (0 when no time passed). */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}
