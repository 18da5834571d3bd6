/**
 * A trainer in this process, behind the same `TrainerHandle` as a forked one: for the CLI (one job, no editor
 * to keep responsive) and for tests. Messages are cloned both ways (as IPC would) and validated on arrival.
 * TF.js work blocks this thread between the loop's yields; the loop yields after every step.
 */
import { hostMessage } from '../../protocol';
import { TrainerHandleBase, type TrainerExit } from '../handle';
import { TrainerSession, type TrainerDeps } from './loop';

function cloned(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return value; // not cloneable: the receiver's validation rejects it
  }
}

export class InProcessTrainer extends TrainerHandleBase {
  private readonly session: TrainerSession;

  constructor(deps: TrainerDeps) {
    super();
    this.session = new TrainerSession((message) => this.deliver(cloned(message)), deps);
    void this.session.done.then(() => setImmediate(() => this.end({ code: null, signal: null })));
    setImmediate(() => this.session.hello());
  }

  protected post(message: unknown): void {
    const copy = cloned(message);
    setImmediate(() => this.session.receive(copy));
  }

  /** SIGTERM-like stop from the host process (e.g. Ctrl+C in the CLI). */
  requestStop(why: string): void {
    this.session.requestStop(why);
  }

  /** Asks for a graceful stop. An in-process job cannot be killed: after `timeoutMs` this resolves without `done`. */
  async stop(timeoutMs?: number): Promise<TrainerExit> {
    if (this.ended) return this.finished;
    this.sendWhenReady(hostMessage({ type: 'stop' }));
    if (timeoutMs === undefined) return this.finished;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<TrainerExit>((resolve) => {
      timer = setTimeout(() => resolve({ code: null, signal: null, error: `the trainer did not stop within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([this.finished, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  dispose(): void {
    this.session.requestStop('disposed');
    this.clearListeners();
  }
}
