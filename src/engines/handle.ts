/**
 * The host's view of a trainer, the same whether it is a forked process (`TrainerClient`) or runs in this
 * process (`InProcessTrainer`, for the CLI): typed events for validated messages, `start`, `pause`, `resume`,
 * `stop`, and a promise of how it ended. Messages that fail validation are reported through `onInvalid` and
 * otherwise dropped.
 */
import {
  hostMessage,
  parseHostMessage,
  parseTrainerMessage,
  type DoneMessage,
  type HelloMessage,
  type StartMessage,
  type TrainerMessage,
  type TrainerMessageOf,
  type TrainerMessageType,
} from '../protocol';

export interface TrainerExit {
  /** The `done` message, when the trainer sent one. */
  done?: DoneMessage;
  /** Process exit code / signal (forked trainers); `null` in process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the trainer ended without `done`, or was killed. */
  error?: string;
  /** `true` when `stop`'s timeout ran out and the process was killed. */
  killed?: boolean;
  /** `true` when a stop before the first step ended the trainer before it could say `done` (the run is cancelled). */
  cancelled?: boolean;
}

export type StartRequest = Omit<StartMessage, 'v' | 'type'>;

export interface TrainerHandle {
  /** Resolves on `hello`. */
  readonly ready: Promise<HelloMessage>;
  /** Resolves when the trainer has ended (never rejects). */
  readonly finished: Promise<TrainerExit>;
  on<K extends TrainerMessageType>(type: K, listener: (message: TrainerMessageOf<K>) => void): () => void;
  onMessage(listener: (message: TrainerMessage) => void): () => void;
  onInvalid(listener: (error: string, raw: unknown) => void): () => void;
  /** Validates and sends `start` (after `hello`). Throws if the request is malformed. */
  start(request: StartRequest): void;
  pause(): void;
  resume(): void;
  /** Asks for a graceful stop; after `timeoutMs` a forked trainer is killed. */
  stop(timeoutMs?: number): Promise<TrainerExit>;
  /** Sends anything, unvalidated (for tests of the trainer's own validation). */
  sendRaw(raw: unknown): void;
  dispose(): void;
}

type Listener = (message: TrainerMessage) => void;

/** Listener bookkeeping, validation and the `ready`/`finished` promises shared by both kinds of handle. */
export abstract class TrainerHandleBase implements TrainerHandle {
  readonly ready: Promise<HelloMessage>;
  readonly finished: Promise<TrainerExit>;
  protected hello: HelloMessage | undefined;
  protected lastDone: DoneMessage | undefined;
  protected ended = false;
  private readonly listeners = new Map<TrainerMessageType | '*', Set<Listener>>();
  private readonly invalidListeners = new Set<(error: string, raw: unknown) => void>();
  /** Messages held until `hello` (a child may not listen before it). */
  private readonly beforeHello: unknown[] = [];
  private resolveReady!: (hello: HelloMessage) => void;
  private rejectReady!: (error: Error) => void;
  private resolveFinished!: (exit: TrainerExit) => void;

  constructor() {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // observed through `finished`
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  protected abstract post(message: unknown): void;

  on<K extends TrainerMessageType>(type: K, listener: (message: TrainerMessageOf<K>) => void): () => void {
    return this.add(type, listener as Listener);
  }

  onMessage(listener: (message: TrainerMessage) => void): () => void {
    return this.add('*', listener);
  }

  onInvalid(listener: (error: string, raw: unknown) => void): () => void {
    this.invalidListeners.add(listener);
    return () => this.invalidListeners.delete(listener);
  }

  start(request: StartRequest): void {
    const parsed = parseHostMessage(hostMessage({ type: 'start', ...request }));
    if (!parsed.ok) throw new Error(parsed.error);
    this.sendWhenReady(parsed.message);
  }

  pause(): void {
    this.sendWhenReady(hostMessage({ type: 'pause' }));
  }

  resume(): void {
    this.sendWhenReady(hostMessage({ type: 'resume' }));
  }

  /** Sends now, or right after `hello` if it has not come yet. */
  protected sendWhenReady(message: unknown): void {
    if (this.hello) this.post(message);
    else this.beforeHello.push(message);
  }

  sendRaw(raw: unknown): void {
    this.post(raw);
  }

  abstract stop(timeoutMs?: number): Promise<TrainerExit>;
  abstract dispose(): void;

  /** Called with whatever arrives from the trainer. */
  protected deliver(raw: unknown): void {
    const parsed = parseTrainerMessage(raw);
    if (!parsed.ok) {
      for (const l of this.invalidListeners) l(parsed.error, raw);
      return;
    }
    const message = parsed.message;
    if (message.type === 'hello' && !this.hello) {
      this.hello = message;
      this.resolveReady(message);
      for (const held of this.beforeHello.splice(0)) this.post(held);
    }
    if (message.type === 'done') this.lastDone = message;
    for (const key of [message.type, '*'] as const) {
      for (const l of this.listeners.get(key) ?? []) {
        try {
          l(message);
        } catch (e) {
          // The other listeners still get the message; the error surfaces as an uncaught one, as from an EventEmitter.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    }
  }

  protected end(exit: Omit<TrainerExit, 'done'>): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.hello) this.rejectReady(new Error(exit.error ?? 'the trainer ended before saying hello'));
    this.resolveFinished({ ...exit, ...(this.lastDone ? { done: this.lastDone } : {}) });
  }

  protected clearListeners(): void {
    this.listeners.clear();
    this.invalidListeners.clear();
  }

  private add(key: TrainerMessageType | '*', listener: Listener): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}
