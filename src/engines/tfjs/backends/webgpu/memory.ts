/**
 * GPU memory as TF.js's webgpu backend holds it: bytes of buffers in use by tensors (its buffer manager's count) and
 * the most in use since the last look — the per-step peak the trainer records (`peakMemoryBytes`).
 */
interface BufferManagerLike {
  numBytesUsed: number;
  acquireBuffer(...args: unknown[]): unknown;
}

let tracked: { manager: BufferManagerLike; peak: number } | undefined;

/** Wraps the backend's buffer manager so acquisitions raise the peak. */
export function trackGpuMemory(backend: { bufferManager: BufferManagerLike }): void {
  const manager = backend.bufferManager;
  const state = { manager, peak: manager.numBytesUsed };
  const acquire = manager.acquireBuffer.bind(manager);
  manager.acquireBuffer = (...args: unknown[]) => {
    const buffer = acquire(...args);
    if (manager.numBytesUsed > state.peak) state.peak = manager.numBytesUsed;
    return buffer;
  };
  tracked = state;
}

/** Bytes in use now and the peak since the last call (which starts the next window at the current use). */
export function takeGpuMemory(): { inUse: number; peak: number } | undefined {
  if (!tracked) return undefined;
  const inUse = tracked.manager.numBytesUsed;
  const peak = Math.max(tracked.peak, inUse);
  tracked.peak = inUse;
  return { inUse, peak };
}
