/**
 * Runs a sweep's planned runs (docs/sweeps.md, "Running"): each an ordinary run directory `.convbert/runs/<id>/`
 * trained by a forked trainer from the engine's launch plan, `parallel` at a time. What each run needs is decided
 * from the disk (./decide.ts): skip completed, resume from a checkpoint, start over in place, or start; a run whose
 * plan hash changed refuses the whole sweep before anything starts. `stop()` asks every trainer for a graceful stop
 * (they checkpoint) and starts no more runs; `kill()` kills them. A failed run is reported and the others go on.
 * What happens is told through `onEvent`, for one progress display.
 */
import * as path from 'node:path';
import { truncateMetricEventsAfter } from '../../run-format/metrics';
import { runPaths } from '../../run-format/run-dir';
import type { TrainerClient } from '../client';
import type { TrainerExit } from '../handle';
import { launchTrainer, pickEngine } from '../start-run';
import { sweepRefusals, decideRun, plannedRunDir, readRunOnDisk, type RunAction } from './decide';
import { readSweepState, sweepDir, writeSweepState, type SweepState } from './state';
import type { RunnablePlannedRun, RunnableSweepPlan } from './types';

export type RunOutcome = 'completed' | 'skipped' | 'stopped' | 'failed' | 'killed';

export type SweepEvent =
  | { type: 'run-skip'; id: string; step: number }
  | { type: 'run-wait'; id: string; pid: number }
  | { type: 'run-start'; id: string; action: 'start' | 'restart' | 'resume'; fromStep: number; totalSteps: number; backend?: string }
  | { type: 'progress'; id: string; step: number; totalSteps: number; loss: number | undefined; etaMs: number | null }
  | { type: 'eval'; id: string; step: number; loss: number }
  | { type: 'warning'; id: string; message: string }
  | { type: 'run-end'; id: string; outcome: Exclude<RunOutcome, 'skipped'>; step: number; message?: string };

export interface SweepRunResult {
  id: string;
  runDir: string;
  outcome: RunOutcome;
  /** The last step the run reached (from `done`, or its last progress). */
  step: number;
  /** Why it failed or was stopped. */
  message?: string;
}

export interface SweepRunnerOptions {
  /** The workspace: `.convbert/runs` and `.convbert/sweeps` live here; the trainers' working directory. */
  workspace: string;
  /** The folder the specs' relative paths (corpus, vocabulary) resolve against: the sweep file's. */
  specDir: string;
  /** Runs at once (already resolved from `auto`). */
  parallel: number;
  /** Added to each trainer's environment (thread limits). */
  env?: Record<string, string>;
  onEvent?: (event: SweepEvent) => void;
  /** How long a graceful stop may take before a trainer is killed. */
  stopTimeoutMs?: number;
  /** How long to wait for a trainer still holding a run (one stopping after its sweep was killed). */
  busyWaitMs?: number;
}

/** Refusals before any run starts (changed runs, unreadable state): one line each. */
export class SweepRefused extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

const POLL_MS = 250;

export class SweepRunner {
  private stopping = false;
  private killing = false;
  private readonly active = new Map<string, TrainerClient>();

  constructor(
    private readonly plan: RunnableSweepPlan,
    private readonly options: SweepRunnerOptions,
  ) {}

  /** The sweep's folder. */
  get dir(): string {
    return sweepDir(this.options.workspace, this.plan.name);
  }

  /** Asks every running trainer to stop after its step with a checkpoint; no further run starts. */
  stop(): void {
    this.stopping = true;
    for (const client of this.active.values()) void client.stop(this.options.stopTimeoutMs);
  }

  /** Kills every running trainer (their runs resume from their latest checkpoints). */
  kill(): void {
    this.stopping = true;
    this.killing = true;
    for (const client of this.active.values()) client.dispose();
  }

  /** Checks the state, records the runs in state.json, then trains what is left. Throws `SweepRefused` before starting anything. */
  async run(): Promise<SweepRunResult[]> {
    let state: SweepState | undefined;
    let changed: string[];
    try {
      state = await readSweepState(this.dir);
      changed = (await sweepRefusals(this.options.workspace, this.plan)).map((r) => r.message);
    } catch (e) {
      throw new SweepRefused([(e as Error).message]);
    }
    if (changed.length > 0) throw new SweepRefused(changed);
    const runs: SweepState['runs'] = { ...(state?.runs ?? {}) };
    for (const run of this.plan.runs) runs[run.id] = { runDir: path.relative(this.options.workspace, plannedRunDir(this.options.workspace, run.id)), hash: run.hash };
    await writeSweepState(this.dir, { format: 'convbert-sweep', version: 1, planHash: this.plan.hash, plan: this.plan.runs.map((r) => r.id), runs });

    const results = new Map<string, SweepRunResult>();
    const queue = [...this.plan.runs];
    const worker = async () => {
      for (let run = queue.shift(); run !== undefined; run = queue.shift()) {
        if (this.stopping) break;
        results.set(run.id, await this.runOne(run));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.parallel, this.plan.runs.length)) }, worker));
    return this.plan.runs.map((r) => results.get(r.id)).filter((r): r is SweepRunResult => r !== undefined);
  }

  private emit(event: SweepEvent): void {
    this.options.onEvent?.(event);
  }

  /** The action for a run, waiting (up to `busyWaitMs`) while another trainer still holds it. */
  private async decide(run: RunnablePlannedRun, runDir: string): Promise<RunAction> {
    const deadline = Date.now() + (this.options.busyWaitMs ?? 120_000);
    let told = false;
    for (;;) {
      const action = decideRun(run, await readRunOnDisk(runDir));
      if (action.kind !== 'busy' || Date.now() > deadline || this.stopping) return action;
      if (!told) this.emit({ type: 'run-wait', id: run.id, pid: action.pid });
      told = true;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private async runOne(run: RunnablePlannedRun): Promise<SweepRunResult> {
    const runDir = plannedRunDir(this.options.workspace, run.id);
    const fail = (message: string, step = 0): SweepRunResult => {
      this.emit({ type: 'run-end', id: run.id, outcome: 'failed', step, message });
      return { id: run.id, runDir, outcome: 'failed', step, message };
    };
    const action = await this.decide(run, runDir);
    if (action.kind === 'busy') {
      if (this.stopping) return { id: run.id, runDir, outcome: 'stopped', step: 0, message: 'not started' };
      return fail(`run ${run.id} is still held by trainer process ${action.pid}; stop it, then run the sweep again`);
    }
    if (action.kind === 'skip') {
      this.emit({ type: 'run-skip', id: run.id, step: action.step });
      return { id: run.id, runDir, outcome: 'skipped', step: action.step };
    }
    // Started over in place: what an attempt without a checkpoint logged is dropped, so no step is recorded twice.
    if (action.kind === 'restart') await truncateMetricEventsAfter(runDir, 0);

    let client: TrainerClient;
    let startBackend: string | undefined;
    try {
      const picked = pickEngine({ specEngine: run.resolved.training.engine, specBackend: run.resolved.training.backend });
      startBackend = picked.startBackend;
      client = launchTrainer(picked.engine, { cwd: this.options.workspace, specDir: this.options.specDir }, { stopTimeoutMs: this.options.stopTimeoutMs ?? 10 * 60_000, ...(this.options.env ? { env: this.options.env } : {}) }).client;
    } catch (e) {
      return fail((e as Error).message);
    }
    this.active.set(run.id, client);
    // A stop asked for while this one was being launched.
    if (this.killing) client.dispose();
    else if (this.stopping) void client.stop(this.options.stopTimeoutMs);

    let step = action.kind === 'resume' ? action.fromStep : 0;
    let loss: number | undefined;
    let fatal: string | undefined;
    const stderrTail: string[] = [];
    client.on('started', (m) => {
      step = m.step;
      this.emit({ type: 'run-start', id: run.id, action: action.kind === 'resume' ? 'resume' : action.kind === 'restart' ? 'restart' : 'start', fromStep: m.step, totalSteps: m.totalSteps, backend: m.backend.name });
    });
    client.on('metrics', (m) => (loss = m.loss));
    client.on('progress', (p) => {
      step = p.step;
      this.emit({ type: 'progress', id: run.id, step: p.step, totalSteps: p.totalSteps, loss, etaMs: p.etaMs });
    });
    client.on('eval', (e) => this.emit({ type: 'eval', id: run.id, step: e.step, loss: e.loss }));
    client.on('warning', (w) => this.emit({ type: 'warning', id: run.id, message: w.message }));
    client.on('error', (e) => {
      if (e.fatal) fatal ??= e.hint ? `${e.message}; ${e.hint}` : e.message;
      else this.emit({ type: 'warning', id: run.id, message: e.message });
    });
    client.onOutput((stream, line) => {
      if (stream !== 'stderr') return;
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    });

    let exit: TrainerExit;
    try {
      client.start({
        runDir,
        ...(action.kind === 'resume' ? {} : { spec: run.specFile as Record<string, unknown> }),
        options: { steps: run.steps, ...(startBackend !== undefined ? { backend: startBackend } : {}), ...(action.kind === 'resume' ? { resume: true } : {}) },
      });
      exit = await client.finished;
    } catch (e) {
      client.dispose();
      this.active.delete(run.id);
      return fail((e as Error).message, step);
    }
    client.dispose();
    this.active.delete(run.id);

    const done = exit.done;
    const end = (outcome: Exclude<RunOutcome, 'skipped'>, at: number, message?: string): SweepRunResult => {
      this.emit({ type: 'run-end', id: run.id, outcome, step: at, ...(message ? { message } : {}) });
      return { id: run.id, runDir, outcome, step: at, ...(message ? { message } : {}) };
    };
    if (done?.reason === 'completed') return end('completed', done.step);
    if (done?.reason === 'stopped' || done?.reason === 'cancelled' || (exit.cancelled && this.stopping)) return end('stopped', done?.step ?? step);
    if (done?.reason === 'nonfinite') return end('failed', done.step, `diverged at step ${done.step + 1} (a non-finite loss)`);
    if (this.killing) return end('killed', step, 'killed');
    const clue = stderrTail.map((l) => l.trim()).find((l) => /error/i.test(l) && !l.startsWith('at '));
    const message = fatal ?? `${exit.error ?? 'the trainer ended without finishing the run'}${clue ? `: ${clue}` : ''}`;
    return end('failed', step, `${message.split('\n').map((l) => l.trim()).filter(Boolean).join('; ')} (see ${path.relative(this.options.workspace, runPaths(runDir).log)})`);
  }
}
