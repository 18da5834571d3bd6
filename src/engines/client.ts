/**
 * `TrainerClient`: the host side of a forked trainer process. Forks the entry with an IPC channel (V8
 * serialization, so typed arrays travel as such), validates every message it receives, exposes typed events,
 * and makes sure the child does not outlive it: `stop()` asks for a graceful stop and kills after a timeout;
 * `dispose()` kills; a child that has sent `done` or a fatal `error` but is still there `EXIT_GRACE_MS` later is
 * killed. A stop before the first step of the session (set-up, or the first step in flight, where the trainer may
 * be busy in synchronous work and deaf to messages) kills after `CANCEL_GRACE_MS` and records the run as cancelled.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostMessage } from '../protocol';
import { markRunCancelled } from '../run-format/run-dir';
import type { LaunchPlan } from './engine';
import { TrainerHandleBase, type StartRequest, type TrainerExit } from './handle';

/** How long a trainer may live on after `done` or a fatal `error` before it is killed. */
export const EXIT_GRACE_MS = 2000;
/** How long a stop before the first step may take before the trainer is killed (nothing to checkpoint). */
export const CANCEL_GRACE_MS = 1000;

export interface TrainerClientOptions {
  /** The trainer entry: the bundled `dist/trainer.js`, or `src/engines/tfjs/trainer/main.ts` with `execArgv: ['--import', 'tsx']`. */
  entry: string;
  execArgv?: string[];
  /** The Node binary (the extension host's Electron-as-Node by default, i.e. `process.execPath`). */
  execPath?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the child when it has not said `hello` by then (default 60 s). */
  helloTimeoutMs?: number;
  /** Default timeout of `stop()` before SIGKILL (default 30 s). */
  stopTimeoutMs?: number;
}

/** Fork options from an engine's launch plan (only the 'ipc' transport is spoken here so far). */
export function clientOptionsFromPlan(plan: LaunchPlan): TrainerClientOptions {
  if (plan.transport !== 'ipc') throw new Error(`the ${plan.engine} engine talks JSON lines over stdio, which this host does not speak yet`);
  return {
    entry: plan.script,
    execArgv: plan.execArgv,
    ...(plan.command ? { execPath: plan.command } : {}),
    env: plan.env,
    cwd: plan.cwd,
  };
}

export type OutputListener = (stream: 'stdout' | 'stderr', line: string) => void;

export class TrainerClient extends TrainerHandleBase {
  readonly child: ChildProcess;
  private readonly outputListeners = new Set<OutputListener>();
  private readonly stopTimeoutMs: number;
  private readonly helloTimer: NodeJS.Timeout;
  private failure: string | undefined;
  private killed = false;
  private runDir: string | undefined;
  /** A `metrics` message came: a stop now checkpoints, which may take its time. */
  private stepped = false;
  private cancelled = false;
  private exitTimer: NodeJS.Timeout | undefined;

  static fork(options: TrainerClientOptions): TrainerClient {
    return new TrainerClient(options);
  }

  constructor(options: TrainerClientOptions) {
    super();
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.child = fork(options.entry, [], {
      execArgv: options.execArgv ?? [],
      ...(options.execPath ? { execPath: options.execPath } : {}),
      env: { ...process.env, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.on('message', (raw: unknown) => this.deliver(raw));
    this.onMessage((m) => {
      if (m.type === 'metrics') this.stepped = true;
      if ((m.type === 'done' || (m.type === 'error' && m.fatal)) && !this.exitTimer) {
        this.exitTimer = setTimeout(() => {
          if (!this.ended && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
        }, EXIT_GRACE_MS);
        this.exitTimer.unref();
      }
    });
    this.child.on('error', (err) => {
      this.failure ??= `trainer process error: ${err.message}`;
      if (this.child.pid === undefined) this.end({ code: null, signal: null, error: this.failure });
    });
    this.child.on('close', (code, signal) => {
      clearTimeout(this.helloTimer);
      clearTimeout(this.exitTimer);
      const finish = () => {
        const error = this.failure ?? (this.lastDone || this.cancelled ? undefined : `the trainer exited without \`done\` (${signal ? `signal ${signal}` : `code ${String(code)}`})`);
        this.end({ code, signal, ...(error ? { error } : {}), ...(this.killed ? { killed: true } : {}), ...(this.cancelled ? { cancelled: true } : {}) });
      };
      // A trainer killed while cancelling could not record it: the run shows cancelled, not a crash.
      if (this.cancelled && this.runDir && this.child.pid !== undefined) void markRunCancelled(this.runDir, this.child.pid).then(finish, finish);
      else finish();
    });
    this.onInvalid((error, raw) => {
      // A trainer that cannot even say hello in our protocol (another version) is of no use: stop it now.
      if (!this.hello && typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'hello') {
        this.failure = `the trainer's hello was rejected: ${error}`;
        this.child.kill('SIGKILL');
      }
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let buffer = '';
      this.child[stream]?.setEncoding('utf8');
      this.child[stream]?.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) for (const l of this.outputListeners) l(stream, line);
      });
      this.child[stream]?.on('end', () => {
        if (buffer) for (const l of this.outputListeners) l(stream, buffer);
        buffer = '';
      });
    }
    const helloTimeoutMs = options.helloTimeoutMs ?? 60_000;
    this.helloTimer = setTimeout(() => {
      if (this.hello || this.ended) return;
      this.failure = `the trainer did not say hello within ${helloTimeoutMs} ms`;
      this.child.kill('SIGKILL');
    }, helloTimeoutMs);
    this.helloTimer.unref();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Lines the child writes to stdout/stderr (TF.js notices, crash traces). */
  onOutput(listener: OutputListener): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  override start(request: StartRequest): void {
    super.start(request);
    this.runDir = request.runDir;
  }

  protected post(message: unknown): void {
    if (this.ended || !this.child.connected) return;
    this.child.send(message as object, (err) => {
      if (err) this.failure ??= `could not send to the trainer: ${err.message}`;
    });
  }

  /**
   * Graceful stop: `stop` over IPC (SIGTERM if the channel is gone); SIGKILL after `timeoutMs`. Before the first
   * step of the session (nothing to checkpoint) the trainer gets `CANCEL_GRACE_MS` at most, and a kill then is a
   * cancel (`exit.cancelled`; run.json says `cancelled`), not a failure.
   */
  async stop(timeoutMs: number = this.stopTimeoutMs): Promise<TrainerExit> {
    if (this.ended) return this.finished;
    if (this.child.connected) this.sendWhenReady(hostMessage({ type: 'stop' }));
    else this.child.kill('SIGTERM');
    const cancelling = !this.stepped && !this.lastDone;
    const wait = cancelling ? Math.min(timeoutMs, CANCEL_GRACE_MS) : timeoutMs;
    const timer = setTimeout(() => {
      if (this.ended || this.lastDone) return;
      if (cancelling && !this.stepped) this.cancelled = true;
      else {
        this.killed = true;
        this.failure ??= `the trainer did not stop within ${timeoutMs} ms and was killed`;
      }
      this.child.kill('SIGKILL');
    }, wait);
    try {
      return await this.finished;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the child if it still runs and drops all listeners. `finished` still resolves. */
  dispose(): void {
    clearTimeout(this.helloTimer);
    if (!this.ended && this.child.exitCode === null && this.child.signalCode === null) {
      this.killed = true;
      this.failure ??= 'the trainer was disposed while running';
      this.child.kill('SIGKILL');
    }
    this.clearListeners();
    this.outputListeners.clear();
  }
}
