/**
 * The PyTorch worker group, seen from Node: `python -m convbert_torch.launch …` started with pipes, its rank 0
 * answering one JSON request per line (docs/torch-engine.md, "Worker protocol"). Requests are sent one at a time;
 * each answer comes back as the request's promise; `log` events go to the caller. When the group exits, every
 * pending request fails with the exit code and the last lines it wrote to stderr (a Python traceback's last line
 * names the problem).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { isRecord } from '../../core/json';

export interface WorkerGroupOptions {
  python: string;
  /** Arguments after `-m convbert_torch.launch`. */
  launchArgs: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  onLog?: (level: string, message: string) => void;
  /** Each line the workers write to stderr (their own logs, tracebacks). */
  onStderr?: (line: string) => void;
}

/** A request failed: the worker's one-line error and hint, or the group exited. */
export class WorkerError extends Error {
  override name = 'WorkerError';
  constructor(
    message: string,
    readonly hint?: string,
    readonly exited = false,
  ) {
    super(message);
  }
}

type Answer = Record<string, unknown>;

const STDERR_TAIL = 20;

export class WorkerGroup {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void; cmd: string }>();
  private readonly stderrTail: string[] = [];
  private exitError: WorkerError | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(private readonly options: WorkerGroupOptions) {
    this.child = spawn(options.python, ['-m', 'convbert_torch.launch', ...options.launchArgs], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a signal to the trainer does not reach the ranks before the trainer has stopped them.
      detached: process.platform !== 'win32',
    });
    this.child.stdin!.on('error', () => undefined); // EPIPE when the group died; the exit handler reports it
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      options.onStderr?.(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        this.fail(new WorkerError(code === 'ENOENT' ? `${options.python} was not found` : `could not start ${options.python}: ${e.message}`, 'set CONVBERT_PYTHON or the convbert.torch.python setting to a Python with PyTorch', true));
        resolve({ code: null, signal: null });
      });
      this.child.on('exit', (code, signal) => {
        this.fail(new WorkerError(`the PyTorch workers exited (${signal ?? `code ${code}`})${this.lastProblem()}`, undefined, true));
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last meaningful stderr line (a traceback's exception), for messages. */
  private lastProblem(): string {
    const lines = this.stderrTail.map((l) => l.trim()).filter((l) => l && !l.startsWith('File ') && !l.startsWith('^'));
    const last = lines[lines.length - 1];
    return last ? `: ${last.slice(0, 400)}` : '';
  }

  private fail(error: WorkerError): void {
    this.exitError ??= error;
    for (const [, p] of this.pending) p.reject(error);
    this.pending.clear();
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.options.onStderr?.(line); // not the protocol: a library printed to stdout
      return;
    }
    if (!isRecord(msg)) return;
    if (msg.event === 'log') {
      this.options.onLog?.(typeof msg.level === 'string' ? msg.level : 'info', typeof msg.message === 'string' ? msg.message : JSON.stringify(msg.message));
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p) return;
    this.pending.delete(id!);
    if (msg.ok === true) p.resolve(msg);
    else p.reject(new WorkerError(typeof msg.error === 'string' ? msg.error : `${p.cmd} failed`, typeof msg.hint === 'string' ? msg.hint : undefined));
  }

  /** Sends one request and waits for its answer. */
  request(cmd: string, body: Record<string, unknown> = {}): Promise<Answer> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, cmd });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...body })}\n`);
    });
  }

  /** Asks the group to exit, and kills it (every rank: its process group) if it has not within `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.kill(), graceMs);
    timer.unref();
    try {
      await Promise.race([this.request('shutdown').catch(() => undefined), this.exited]);
      this.child.stdin!.end();
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL to the whole group (the launcher and its ranks). */
  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      if (process.platform !== 'win32') process.kill(-pid, 'SIGKILL');
      else this.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
