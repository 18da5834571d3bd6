/**
 * The trainer as a child process, for every engine (each gives its job factory and backend loader): speaks the protocol over the IPC channel `child_process.fork` opens, runs one
 * job, and exits after `done` (code 0 when completed, stopped or cancelled, 1 otherwise). SIGTERM, SIGINT and the
 * host going away all stop gracefully (finish the step, checkpoint, `done`).
 *
 * Exit is guaranteed: once `done` or a fatal `error` has been sent, a watchdog on its own thread kills the process
 * after `EXIT_DEADLINE_MS` whatever the main thread is doing (after a wasm out-of-memory trap, freeing tensors on
 * the corrupt heap spun forever at 100 % CPU; a timer on the main thread could not have fired).
 */
import { Worker } from 'node:worker_threads';
import { trainerMessage, type TrainerMessage } from '../../protocol';
import { TrainerSession, type TrainerDeps } from './loop';

/** How long the process may take to exit after `done` or a fatal `error`. */
export const EXIT_DEADLINE_MS = 1000;

/**
 * A thread that SIGKILLs this process `ms` after `arm(ms)` (the earliest arming counts). It does not keep the
 * process alive, and it works while the main thread is stuck in synchronous code.
 */
function startExitWatchdog(): { arm: (ms: number) => void } {
  let worker: Worker | undefined;
  try {
    worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       let armed = false;
       parentPort.on('message', (ms) => {
         if (armed) return;
         armed = true;
         setTimeout(() => {
           process.stderr.write('convbert trainer: still running ' + ms + ' ms after done or a fatal error; killing it\\n');
           process.kill(process.pid, 'SIGKILL');
         }, ms);
       });`,
      { eval: true },
    );
    worker.unref();
    worker.on('error', () => undefined);
  } catch {
    worker = undefined; // no threads: the host's kill after done is the guarantee
  }
  return { arm: (ms) => worker?.postMessage(ms) };
}

/** Runs one job in this process for the host at the other end of the IPC channel, with the engine's `deps`. */
export async function runTrainerProcess(deps: TrainerDeps): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('convbert trainer: this is the trainer process; the CLI and the extension start it with an IPC channel. It does not run on its own.\n');
    process.exitCode = 2;
    return;
  }
  const watchdog = startExitWatchdog();
  let pending = 0;
  let drained: (() => void) | undefined;
  const emit = (message: TrainerMessage) => {
    if (message.type === 'done' || (message.type === 'error' && message.fatal)) watchdog.arm(EXIT_DEADLINE_MS);
    if (!process.connected) return;
    pending++;
    try {
      send(message, undefined, undefined, () => {
        pending--;
        if (pending === 0) drained?.();
      });
    } catch {
      pending--;
    }
  };
  const session = new TrainerSession(emit, { ...deps, pid: process.pid });

  const crash = (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`convbert trainer crashed: ${e instanceof Error && e.stack ? e.stack : message}\n`);
    emit(trainerMessage({ type: 'error', fatal: true, message: `the trainer crashed: ${message}` }));
    watchdog.arm(EXIT_DEADLINE_MS);
    setTimeout(() => process.exit(1), 200).unref();
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('message', (raw: unknown) => session.receive(raw));
  process.on('SIGTERM', () => session.requestStop('SIGTERM'));
  process.on('SIGINT', () => session.requestStop('SIGINT'));
  process.on('disconnect', () => session.requestStop('the host disconnected'));
  session.hello();

  const done = await session.done;
  if (pending > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, EXIT_DEADLINE_MS / 2).unref();
    });
  }
  process.exit(done.reason === 'completed' || done.reason === 'stopped' || done.reason === 'cancelled' ? 0 : 1);
}
