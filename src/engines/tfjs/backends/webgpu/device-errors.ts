/**
 * Never a silent wrong answer. WebGPU reports a failed validation, an out-of-memory or an internal error
 * asynchronously, to the device's `uncapturederror` event; by default Dawn only prints it, the dispatch is dropped
 * and the tensor reads back as zeros. Here every such error is recorded, and the next read of any tensor (the step's
 * one read of its metrics, a checkpoint's reads) throws it, naming the TF.js program it came from. A device error
 * leaves the device's state unknown, so the error stays: every later read throws it too.
 */
import type { DeviceLike } from './dawn';

export class WebGpuDeviceError extends Error {
  override readonly name = 'WebGpuDeviceError';
  constructor(
    message: string,
    /** 'validation' | 'out-of-memory' | 'internal' | 'device-lost' */
    readonly kind: string,
    /** The TF.js program (WGSL kernel) it came from, where the message names it. */
    readonly op: string | undefined,
  ) {
    super(message);
  }
}

const KINDS: Record<string, string> = {
  GPUValidationError: 'validation',
  GPUOutOfMemoryError: 'out-of-memory',
  GPUInternalError: 'internal',
};

/** The program a Dawn message is about: TF.js labels each compute pipeline with its program's name. */
export function opOfMessage(message: string): string | undefined {
  const m = /ComputePipeline "([^"]+)"/.exec(message) ?? /\b([A-Z][A-Za-z0-9]*Program)\b/.exec(message);
  return m?.[1];
}

export function deviceErrorMessage(kind: string, message: string): string {
  const op = opOfMessage(message);
  const first = message.split('\n')[0]!.trim();
  const what = kind === 'out-of-memory' ? 'ran out of GPU memory' : kind === 'device-lost' ? 'lost the GPU device' : `failed GPU ${kind}`;
  return `WebGPU ${what}${op ? ` in ${op}` : ''}: ${first}`;
}

export class DeviceErrorLog {
  private error: WebGpuDeviceError | undefined;
  /** Errors seen, the first kept (later ones usually follow from it). */
  count = 0;

  record(kind: string, message: string): void {
    this.count++;
    if (!this.error) this.error = new WebGpuDeviceError(deviceErrorMessage(kind, message), kind, opOfMessage(message));
  }

  get first(): WebGpuDeviceError | undefined {
    return this.error;
  }

  throwIfAny(): void {
    if (this.error) throw this.error;
  }

  /** Listens on `device` (replacing Dawn's printing of uncaptured errors) and for its loss. */
  attach(device: DeviceLike): void {
    device.onuncapturederror = (event) => {
      const e = event.error;
      this.record(KINDS[e.constructor?.name ?? ''] ?? 'validation', String(e.message));
    };
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.record('device-lost', `${info.reason}: ${info.message}`);
    });
  }
}
