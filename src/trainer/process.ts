/**
 * The trainer as a child process: speaks the protocol over the IPC channel `child_process.fork` opens, runs one
 * job, and exits after `done` (code 0 when completed or stopped, 1 otherwise). SIGTERM, SIGINT and the host
 * going away all stop gracefully (finish the step, checkpoint, `done`).
 */
import { trainerMessage, type TrainerMessage } from '../protocol';
import { defaultJobFactory } from './jobs';
import { TrainerSession, type TrainerDeps } from './loop';

export async function runTrainerProcess(deps: Partial<TrainerDeps> = {}): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('convbert trainer: this is the trainer process; the CLI and the extension start it with an IPC channel. It does not run on its own.\n');
    process.exitCode = 2;
    return;
  }
  let pending = 0;
  let drained: (() => void) | undefined;
  const emit = (message: TrainerMessage) => {
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
  const session = new TrainerSession(emit, { createJob: defaultJobFactory, ...deps, pid: process.pid });

  const crash = (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`convbert trainer crashed: ${e instanceof Error && e.stack ? e.stack : message}\n`);
    emit(trainerMessage({ type: 'error', fatal: true, message: `the trainer crashed: ${message}` }));
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
      setTimeout(resolve, 5000).unref();
    });
  }
  process.exit(done.reason === 'completed' || done.reason === 'stopped' ? 0 : 1);
}
