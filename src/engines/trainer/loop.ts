/**
 * `TrainerSession`: one job, driven by protocol messages, whatever carries them (the IPC channel of a forked
 * trainer process in `main.ts`, or direct calls in `in-process.ts`). It validates every incoming message,
 * answers a bad one with a non-fatal `error`, and runs the loop:
 *
 *   start → set up the run directory, load the backend, build the job, restore the latest checkpoint (resume)
 *         → step … step (metrics + progress each, eval and checkpoint at their intervals)
 *         → done (completed | stopped | nonfinite | error)
 *
 * `stop` (or SIGTERM, or the host going away) is honoured between steps: the current step finishes, a
 * checkpoint is written, and `done` `{ reason: 'stopped' }` is sent. A stop before the first step of the session
 * completes (during set-up, or while that step runs) ends at once with `{ reason: 'cancelled' }`: nothing new to
 * checkpoint, and the step in flight is abandoned.
 *
 * The run directory is locked (`trainer.lock`, see run-dir.ts) before anything in it is touched, so two trainers
 * never train one run. After a fatal error the job is not disposed when the wasm heap may be corrupt (a wasm
 * `RuntimeError`, out of memory): freeing tensors on a corrupt heap can spin forever, and the process exits anyway.
 * `pause` waits between steps until `resume` or `stop`. The loop yields to the event loop after every step, so
 * messages are seen within one step.
 */
import * as path from 'node:path';
import {
  PROTOCOL_VERSION,
  resumingSentence,
  parseHostMessage,
  trainerMessage,
  type BackendReport,
  type DoneMessage,
  type DoneReason,
  type LogLevel,
  type StartMessage,
  type Summary,
  type TrainerMessage,
  type TrainerMessageBody,
} from '../../protocol';
import { describeOutOfMemory } from '../../core/cost';
import type { ResolvedSpec } from '../../core/spec/resolve';
import { listCheckpoints } from '../../run-format/checkpoint-name';
import { hashSpec, loadLatestCheckpoint, writeCheckpoint, type Json, type LoadedCheckpoint, type WriteCheckpointOptions } from '../../run-format/checkpoint';
import type { JobContext, JobFactory, JobInfo, TrainingJob } from '../../core/train/job';
import { HISTORY_TYPES, StepMeter, appendMetricEvent, perSecond, truncateMetricEventsAfter } from '../../run-format/metrics';
import { Rng, parseRngState, restoreRng } from '../../core/rng';
import { RunLockedError, acquireRunLock, appendLog, defaultCacheDir, initRunDir, readRunInfo, removeTempFiles, updateRunInfo, type RunState } from '../../run-format/run-dir';
import { saveRunProbe, writeProbeSummary } from '../../run-format/probes';
import * as os from 'node:os';
import { learningRateAt } from '../../core/train/schedule';
import { totalTrainingSteps } from '../../core/cost/budget';
import { TrainerError } from './errors';
import { loadStartSpec } from './spec';
import { isRecord } from '../../core/json';

export interface TrainerDeps {
  createJob: JobFactory;
  /** The engine's backend chooser (TF.js: src/engines/tfjs/trainer/backend.ts). */
  loadBackend: BackendLoader;
  /** The engine's runtime: its versions for `hello`, and the memory it holds now (metrics), when it knows. */
  runtime?: TrainerRuntime;
  appVersion?: string;
  /** Passed to every checkpoint write (tests use `onPhase`). */
  checkpointOptions?: WriteCheckpointOptions;
  /** The pid reported in `hello` and `run.json`. */
  pid?: number;
}

/** An engine's backend step: loads (or finds) the backend asked for and reports what it got. */
/** `spec`: the run's model and training, for checks against the device it found (e.g. a GPU's largest buffer). */
export type BackendLoader = (requested: string, log: (level: LogLevel, message: string) => void, spec?: ResolvedSpec) => Promise<BackendReport>;

export interface TrainerRuntime {
  versions: Record<string, string>;
  memoryBytes?: () => number;
  /** The most device memory held since the last call, where the runtime measures it (a GPU backend); else undefined. */
  peakMemoryBytes?: () => number | undefined;
}

type Phase = 'idle' | 'starting' | 'running' | 'paused' | 'finished';

interface LoopState {
  totalSteps: number;
  tokensSeen: number;
  elapsedMs: number;
}

/** A step's memory: what the job measured (a GPU's bytes in use), else what the runtime holds. */
function memoryOf(m: { memoryBytes?: number; peakMemoryBytes?: number }, runtime: TrainerRuntime | undefined): { memoryBytes: number; peakMemoryBytes?: number } {
  const peak = m.peakMemoryBytes ?? runtime?.peakMemoryBytes?.();
  return { memoryBytes: m.memoryBytes ?? runtime?.memoryBytes?.() ?? 0, ...(peak !== undefined ? { peakMemoryBytes: peak } : {}) };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Thrown between set-up phases when a stop arrived: the run ends as `cancelled`. */
class Cancelled extends Error {}

/** Errors after which TF.js's wasm heap may be corrupt, or memory ran out. */
const OUT_OF_MEMORY = /memory access out of bounds|Aborted\(OOM\)|out of memory|Array buffer allocation failed|Cannot allocate Wasm memory|could not allocate memory|Invalid typed array length/i;

/** Whether `e` is an out-of-memory failure of a backend (wasm trap, emscripten abort, allocation failure). */
export function isOutOfMemoryError(e: unknown): boolean {
  const message = e instanceof Error ? e.message : String(e);
  return OUT_OF_MEMORY.test(message);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function parseLoopState(extra: Json | undefined): LoopState & { job: Json | undefined } {
  const loop = isRecord(extra) && isRecord(extra.loop) ? extra.loop : undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const totalSteps = num(loop?.totalSteps);
  if (!loop || totalSteps === undefined) throw new TrainerError('the checkpoint has no loop state (step counts)', 'it was not written by this trainer; start a new run');
  return { totalSteps, tokensSeen: num(loop.tokensSeen) ?? 0, elapsedMs: num(loop.elapsedMs) ?? 0, job: isRecord(extra) ? (extra.job as Json | undefined) : undefined };
}

export class TrainerSession {
  private phase: Phase = 'idle';
  private stopRequested = false;
  private pauseRequested = false;
  private wake: (() => void) | undefined;
  private runDir: string | undefined;
  private step = 0;
  /** Steps completed in this session (a stop before the first is a cancel). */
  private sessionSteps = 0;
  private stopped!: () => void;
  /** Resolves when a stop is requested. */
  private readonly stopSignal = new Promise<void>((resolve) => (this.stopped = resolve));
  private releaseLock: (() => void) | undefined;
  /** The run directory once its lock is held (before `runDir`, which is set once it is initialised). */
  private lockedRunDir: string | undefined;
  private doneSent = false;
  private resolveDone!: (done: DoneMessage) => void;
  /** Resolves with the `done` message, after which nothing more is sent. */
  readonly done: Promise<DoneMessage>;

  constructor(
    private readonly emit: (message: TrainerMessage) => void,
    private readonly deps: TrainerDeps,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Announces the trainer: call once the transport listens for host messages. */
  hello(): void {
    this.send({ type: 'hello', pid: this.deps.pid ?? process.pid, versions: this.versions() });
  }

  /** Handles one raw message from the host (validated here). Never throws. */
  receive(raw: unknown): void {
    const parsed = parseHostMessage(raw);
    if (!parsed.ok) {
      this.send({ type: 'error', fatal: false, message: `rejected a message from the host: ${parsed.error}`, hint: `messages must follow protocol version ${PROTOCOL_VERSION} (src/protocol)` });
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'start':
        if (this.phase !== 'idle') {
          this.send({ type: 'error', fatal: false, message: `\`start\` ignored: this trainer is already ${this.phase === 'finished' ? 'finished' : 'running a job'}`, hint: 'one trainer process runs one job; start another process' });
          return;
        }
        this.phase = 'starting';
        void this.run(message);
        return;
      case 'stop':
        this.requestStop('the host asked to stop');
        return;
      case 'pause':
        if (this.phase !== 'starting' && this.phase !== 'running') {
          this.send({ type: 'error', fatal: false, message: `\`pause\` ignored: the trainer is ${this.phase}` });
          return;
        }
        this.pauseRequested = true;
        return;
      case 'resume':
        if (!this.pauseRequested) {
          this.send({ type: 'error', fatal: false, message: `\`resume\` ignored: the trainer is not paused (${this.phase})` });
          return;
        }
        this.pauseRequested = false;
        this.wake?.();
        return;
    }
  }

  /** Stops after the current step (message `stop`, SIGTERM, host gone). Idempotent. */
  requestStop(why: string): void {
    if (this.phase === 'finished' || this.stopRequested) return;
    if (this.phase === 'idle') {
      this.phase = 'finished';
      this.finish({ type: 'done', reason: 'stopped', step: 0, summary: { message: `${why} before any job was started` } });
      return;
    }
    this.stopRequested = true;
    this.stopped();
    if (this.phase === 'starting') {
      // Set-up (spec, backend, job build, restore) has nothing to checkpoint: end now, not when it is done.
      this.log('info', `cancelled during set-up: ${why}`);
      void this.endCancelled('cancelled during set-up');
      return;
    }
    this.log('info', this.sessionSteps === 0 ? `cancelling (no step completed yet): ${why}` : `stopping after the current step: ${why}`);
    this.send({ type: 'state', state: 'stopping', step: this.step });
    this.wake?.();
  }

  // -------------------------------------------------------------------------------------------------------

  private versions() {
    return { protocol: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, node: process.versions.node, ...this.deps.runtime?.versions, ...(this.deps.appVersion ? { app: this.deps.appVersion } : {}) };
  }

  private send(body: TrainerMessageBody): void {
    if (this.phase === 'finished' && body.type !== 'done') return;
    const message = trainerMessage(body);
    if (this.runDir) {
      try {
        if (HISTORY_TYPES.has(message.type)) appendMetricEvent(this.runDir, message);
        if (message.type === 'log') appendLog(this.runDir, message.level, message.message);
        else if (message.type === 'warning') appendLog(this.runDir, 'warn', message.hint ? `${message.message} (${message.hint})` : message.message);
        else if (message.type === 'error') appendLog(this.runDir, 'error', message.hint ? `${message.message} (${message.hint})` : message.message);
      } catch {
        // A full disk must not stop the messages; the host still gets them.
      }
    }
    this.emit(message);
  }

  private log(level: LogLevel, message: string): void {
    this.send({ type: 'log', level, message });
  }

  private finish(done: TrainerMessageBody & { type: 'done' }): void {
    if (this.doneSent) return;
    this.doneSent = true;
    this.phase = 'finished';
    this.releaseLock?.();
    const message = trainerMessage(done) as DoneMessage;
    if (this.runDir) {
      try {
        appendMetricEvent(this.runDir, message);
      } catch {
        // as in send()
      }
    }
    this.emit(message);
    this.resolveDone(message);
  }

  private async waitWhilePaused(): Promise<void> {
    this.phase = 'paused';
    this.send({ type: 'state', state: 'paused', step: this.step });
    if (this.runDir) await updateRunInfo(this.runDir, { state: 'paused', step: this.step }).catch(() => undefined);
    while (this.pauseRequested && !this.stopRequested) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    this.phase = 'running';
    if (!this.stopRequested) {
      this.send({ type: 'state', state: 'running', step: this.step });
      if (this.runDir) await updateRunInfo(this.runDir, { state: 'running' }).catch(() => undefined);
    }
  }

  /** Records the run as cancelled (when it has a run.json) and sends `done` `{ reason: 'cancelled' }`. */
  private async endCancelled(message: string): Promise<void> {
    const dir = this.runDir ?? this.lockedRunDir;
    if (dir && (await readRunInfo(dir))) await updateRunInfo(dir, { state: 'cancelled', step: this.step, endedAt: new Date().toISOString() }).catch(() => undefined);
    this.finish({ type: 'done', reason: 'cancelled', step: this.step, summary: { message } });
  }

  /** Ends set-up with `cancelled` when a stop has arrived. */
  private checkCancel(): void {
    if (this.stopRequested || this.doneSent) throw new Cancelled();
  }

  private async run(start: StartMessage): Promise<void> {
    let job: TrainingJob | undefined;
    let finalState: RunState = 'error';
    let resolvedSpec: Awaited<ReturnType<typeof loadStartSpec>>['resolved'] | undefined;
    let backendName: string | undefined;
    let keepJob = false;
    try {
      const runDir = path.resolve(start.runDir);
      const options = start.options ?? {};
      // The lock first: nothing in the run directory is read or written by a trainer that does not hold it.
      try {
        this.releaseLock = (await acquireRunLock(runDir, this.deps.pid ?? process.pid)).release;
      } catch (e) {
        if (e instanceof RunLockedError) throw new TrainerError(e.message, 'wait for it to finish, or stop it first; one trainer trains a run at a time');
        throw e;
      }
      this.lockedRunDir = runDir;
      await removeTempFiles(runDir);
      const spec = await loadStartSpec(start, runDir);
      resolvedSpec = spec.resolved;
      backendName = options.backend ?? spec.resolved.training.backend;
      const training = spec.resolved.training;
      const specHash = hashSpec(spec.resolved);

      // The run directory, and the checkpoint to resume from.
      const existing = await readRunInfo(runDir);
      let checkpoint: LoadedCheckpoint | undefined;
      const skippedWarnings: string[] = [];
      if (options.resume) {
        checkpoint = await loadLatestCheckpoint(runDir);
        if (!checkpoint) {
          throw new TrainerError(
            `cannot resume ${runDir}: no checkpoint yet (it was stopped or interrupted before its first checkpoint)`,
            `start over: train its spec (${path.join(runDir, 'spec.convbert.json')}) in a new run`,
          );
        }
        for (const s of checkpoint.skipped) skippedWarnings.push(`skipped checkpoint ${s.name}: ${s.reason}`);
        if (checkpoint && checkpoint.specHash !== specHash) {
          throw new TrainerError(
            `cannot resume ${runDir}: the spec differs from the one its checkpoint was trained with`,
            'resume without `spec`/`specPath` (the run keeps its snapshot), or start a new run for the changed spec',
          );
        }
      } else if (existing && (await listCheckpoints(runDir)).length > 0) {
        throw new TrainerError(`${runDir} already holds a run with checkpoints`, 'resume it (`options.resume`), or start in a new run directory');
      }
      await initRunDir(runDir, { spec: spec.snapshot, name: spec.resolved.name, seed: training.seed, specHash, versions: this.versions() });
      this.runDir = runDir;
      for (const w of skippedWarnings) this.send({ type: 'warning', message: w, hint: 'the run continues from the newest whole checkpoint' });
      this.checkCancel();

      const backend: BackendReport = await this.deps.loadBackend(options.backend ?? training.backend, (level, message) => this.log(level, message), spec.resolved);
      backendName = backend.name;
      this.checkCancel();

      // The job: built (and initialised from the seed) as in a fresh run, then overwritten by the checkpoint.
      const rng = Rng.fromSeed(training.seed);
      const ctx: JobContext = {
        spec: spec.resolved,
        runDir,
        backend: backend.name,
        rng,
        log: (level, message) => this.log(level, message),
        warn: (message, hint) => this.send({ type: 'warning', message, ...(hint ? { hint } : {}) }),
        cacheDir: defaultCacheDir(runDir),
        saveProbe: (probe) => saveRunProbe(runDir, probe),
      };
      job = await this.deps.createJob(ctx);
      this.checkCancel();
      const info: JobInfo = await job.init();
      this.checkCancel();

      const { steps: totalSteps, budgetIgnored } = totalTrainingSteps(training, info.flopsPerStep, options.steps);
      if (budgetIgnored) this.send({ type: 'warning', message: `flopBudget is ignored: the job does not know its FLOPs per step; training ${totalSteps} steps` });
      const loop: LoopState = { totalSteps, tokensSeen: 0, elapsedMs: 0 };
      let retrained: { from: number; to: number } | undefined;
      this.step = 0;
      if (checkpoint) {
        const saved = parseLoopState(checkpoint.extra);
        if (options.steps === undefined) loop.totalSteps = saved.totalSteps;
        else if (options.steps !== saved.totalSteps) this.send({ type: 'warning', message: `resuming with ${options.steps} total steps instead of ${saved.totalSteps}: the learning-rate schedule changes from here` });
        loop.tokensSeen = saved.tokensSeen;
        loop.elapsedMs = saved.elapsedMs;
      }
      // The job learns the run's length before any step (the torch engine writes the data shards for it).
      if (job.plan) {
        await job.plan({ totalSteps: loop.totalSteps, startStep: checkpoint?.step ?? 0 });
        this.checkCancel();
      }
      if (checkpoint) {
        const saved = parseLoopState(checkpoint.extra);
        const rngs = isRecord(checkpoint.rng) ? checkpoint.rng : {};
        await job.loadState({
          tensors: checkpoint.tensors,
          ...(checkpoint.optimizer !== undefined ? { optimizer: checkpoint.optimizer } : {}),
          ...(checkpoint.data !== undefined ? { data: checkpoint.data } : {}),
          ...(rngs.job !== undefined && rngs.job !== null ? { rng: rngs.job as Json } : {}),
          ...(saved.job !== undefined && saved.job !== null ? { extra: saved.job } : {}),
        });
        restoreRng(rng, parseRngState(rngs.loop));
        this.step = checkpoint.step;
        const truncated = await truncateMetricEventsAfter(runDir, checkpoint.step);
        if (truncated.dropped > 0) this.log('info', `dropped ${truncated.dropped} metrics.jsonl lines past the checkpoint at step ${checkpoint.step}`);
        if (truncated.lastDroppedStep !== undefined) retrained = { from: checkpoint.step + 1, to: truncated.lastDroppedStep };
      }
      this.checkCancel();

      await updateRunInfo(runDir, {
        state: 'running',
        backend: {
          requested: backend.requested,
          name: backend.name,
          ...(typeof backend.details?.description === 'string' ? { description: backend.details.description } : {}),
          ...(typeof backend.details?.limits === 'string' ? { limits: backend.details.limits } : {}),
        },
        seed: training.seed,
        step: this.step,
        totalSteps: loop.totalSteps,
        specHash,
        pid: this.deps.pid ?? process.pid,
        host: os.hostname(),
        message: undefined,
        startedAt: new Date().toISOString(),
        versions: this.versions(),
      });
      this.checkCancel();
      this.send({
        type: 'started',
        runId: path.basename(runDir),
        runDir,
        backend,
        seed: training.seed,
        step: this.step,
        totalSteps: loop.totalSteps,
        resumed: checkpoint !== undefined,
        ...(checkpoint ? { checkpoint: path.relative(runDir, checkpoint.path) } : {}),
        ...(retrained ? { retrained } : {}),
      });
      if (checkpoint) this.log('info', resumingSentence(checkpoint.step, retrained));
      this.log('info', `${info.description ?? spec.resolved.name}: ${info.parameterCount} parameters, ${loop.totalSteps} steps, backend ${backend.name}`);
      if (this.phase === 'starting') this.phase = 'running';

      const { reason, summary, abandoned } = await this.train(job, ctx, loop, specHash, checkpoint?.step ?? 0);
      if (abandoned) {
        // The step in flight when a cancel came: the job is disposed once it settles (in process), or never (the process exits).
        keepJob = true;
        const j = job;
        void abandoned.then(
          () => j.dispose(),
          () => undefined,
        );
      }
      finalState = reason;
      await updateRunInfo(runDir, { state: finalState, step: this.step, endedAt: new Date().toISOString() }).catch(() => undefined);
      this.finish({ type: 'done', reason, step: this.step, summary });
    } catch (e) {
      if (e instanceof Cancelled) {
        // Also after a cancel during set-up: this write comes after any this session made, so run.json ends cancelled.
        await this.endCancelled('cancelled before the first step');
        return;
      }
      if (this.doneSent) return; // cancelled during set-up; what failed after that does not matter
      const outOfMemory = isOutOfMemoryError(e);
      // A wasm trap or an allocation failure may leave the heap corrupt: disposing tensors then can spin forever.
      keepJob = outOfMemory || (e instanceof Error && e.name === 'RuntimeError');
      let hint = e instanceof TrainerError ? e.hint : undefined;
      let message = errorText(e) || 'the trainer failed';
      if (outOfMemory && resolvedSpec) {
        hint = `the backend reported: ${message}`;
        try {
          message = describeOutOfMemory(resolvedSpec, backendName ?? resolvedSpec.training.backend);
        } catch {
          message = `out of memory on the ${backendName ?? 'backend'} (${message})`;
        }
      } else if (outOfMemory) {
        message = `out of memory: ${message}`;
      }
      this.send({ type: 'error', fatal: true, message, ...(hint ? { hint } : {}) });
      if (!(e instanceof TrainerError) && e instanceof Error && e.stack) this.log('debug', e.stack);
      if (this.runDir) await updateRunInfo(this.runDir, { state: 'error', step: this.step, endedAt: new Date().toISOString(), message }).catch(() => undefined);
      this.finish({ type: 'done', reason: 'error', step: this.step, summary: { message } });
    } finally {
      try {
        if (!keepJob) job?.dispose();
      } catch {
        // nothing to do
      }
    }
  }

  private async train(
    job: TrainingJob,
    ctx: JobContext,
    loop: LoopState,
    specHash: string,
    checkpointStep: number,
  ): Promise<{ reason: Exclude<DoneReason, 'error'>; summary: Summary; abandoned?: Promise<unknown> }> {
    const training = ctx.spec.training;
    const runDir = ctx.runDir;
    const meter = new StepMeter();
    let lastCheckpointStep = checkpointStep;
    let lastCheckpointPath: string | null = null;
    let lastEvalStep = -1;
    let lastLoss: number | null = null;
    let lastEvalLoss: number | null = null;

    const evaluate = async () => {
      const result = await job.evaluate(this.step);
      lastEvalStep = this.step;
      if (![result.loss, result.mlmAccuracy, result.nspAccuracy ?? 0].every(Number.isFinite)) {
        this.send({ type: 'warning', message: `evaluation at step ${this.step} gave a non-finite loss or accuracy; not recorded` });
        return;
      }
      lastEvalLoss = result.loss;
      this.send({
        type: 'eval',
        step: this.step,
        loss: result.loss,
        ...(result.mlmLoss !== undefined ? { mlmLoss: result.mlmLoss } : {}),
        ...(result.nspLoss !== undefined ? { nspLoss: result.nspLoss } : {}),
        mlmAccuracy: result.mlmAccuracy,
        ...(result.nspAccuracy !== undefined ? { nspAccuracy: result.nspAccuracy } : {}),
      });
      if (result.probes) {
        const rel = await writeProbeSummary(runDir, this.step, result.probes);
        this.send({ type: 'probes', step: this.step, path: rel, summary: result.probes.summary });
      }
    };

    const checkpoint = async () => {
      const state = await job.saveState();
      const written = await writeCheckpoint(
        runDir,
        {
          step: this.step,
          specHash,
          tensors: state.tensors,
          ...(state.optimizer !== undefined ? { optimizer: state.optimizer } : {}),
          ...(state.data !== undefined ? { data: state.data } : {}),
          rng: { loop: ctx.rng.state(), job: state.rng ?? null },
          extra: { loop: { ...loop }, job: state.extra ?? null },
        },
        this.deps.checkpointOptions,
      );
      lastCheckpointStep = this.step;
      lastCheckpointPath = path.relative(runDir, written.path).split(path.sep).join('/');
      this.send({ type: 'checkpoint', step: this.step, path: lastCheckpointPath });
      await updateRunInfo(runDir, { step: this.step, lastCheckpoint: lastCheckpointPath }).catch(() => undefined);
    };

    let reason: Exclude<DoneReason, 'error'> = 'completed';
    let problem: string | undefined;
    const cancelled = (abandoned?: Promise<unknown>) => ({
      reason: 'cancelled' as const,
      summary: { steps: this.step, totalSteps: loop.totalSteps, message: 'cancelled before the first step' },
      ...(abandoned ? { abandoned } : {}),
    });
    while (this.step < loop.totalSteps) {
      await nextTurn();
      if (!this.stopRequested && this.pauseRequested) await this.waitWhilePaused();
      if (this.stopRequested) {
        if (this.sessionSteps === 0) return cancelled();
        reason = 'stopped';
        break;
      }
      const index = this.step;
      const learningRate = learningRateAt(index, training.learningRate, loop.totalSteps);
      const t0 = performance.now();
      const stepping = job.step({ step: index, learningRate });
      if (this.sessionSteps === 0) {
        // A stop during the first step cancels at once: the step is abandoned, not waited for.
        const first = await Promise.race([stepping.then((value) => ({ value })), this.stopSignal.then(() => undefined)]);
        if (!first) return cancelled(stepping.catch(() => undefined));
      }
      const m = await stepping;
      this.sessionSteps++;
      const stepMs = performance.now() - t0;
      const values = { loss: m.loss, mlmLoss: m.mlmLoss ?? m.loss, nspLoss: m.nspLoss ?? 0, gradNorm: m.gradNorm };
      const bad = Object.entries(values).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        reason = 'nonfinite';
        problem = `${bad[0]} is ${String(bad[1])} at step ${index + 1}`;
        this.send({ type: 'warning', message: `training diverged: ${problem}`, hint: 'lower the learning rate, lengthen the warmup, or check gradient clipping' });
        break;
      }
      this.step = index + 1;
      loop.tokensSeen += m.tokens;
      loop.elapsedMs += stepMs;
      meter.record(stepMs);
      lastLoss = m.loss;
      this.send({
        type: 'metrics',
        step: this.step,
        loss: m.loss,
        mlmLoss: m.mlmLoss ?? m.loss,
        ...(m.nspLoss !== undefined ? { nspLoss: m.nspLoss } : {}),
        learningRate,
        gradNorm: m.gradNorm,
        tokensPerSecond: perSecond(m.tokens, stepMs),
        stepMs,
        flopsPerSecond: perSecond(m.flops ?? 0, stepMs),
        ...memoryOf(m, this.deps.runtime),
      });
      this.send({ type: 'progress', step: this.step, totalSteps: loop.totalSteps, tokensSeen: loop.tokensSeen, elapsedMs: loop.elapsedMs, etaMs: meter.etaMs(loop.totalSteps - this.step) });
      if (this.step % training.evalInterval === 0) await evaluate();
      if (this.step % training.checkpointInterval === 0 && this.step < loop.totalSteps) await checkpoint();
    }

    if (reason === 'completed' && lastEvalStep !== this.step && this.step > 0) await evaluate();
    if (reason !== 'nonfinite' && lastCheckpointStep !== this.step) await checkpoint();
    return {
      reason,
      summary: {
        steps: this.step,
        totalSteps: loop.totalSteps,
        tokensSeen: loop.tokensSeen,
        elapsedMs: loop.elapsedMs,
        loss: lastLoss,
        evalLoss: lastEvalLoss,
        checkpoint: lastCheckpointPath,
        ...(problem ? { message: problem } : {}),
      },
    };
  }
}
