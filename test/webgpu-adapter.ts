/**
 * The webgpu tests' one question: is there a WebGPU adapter here? Loads the backend by name (a software adapter
 * counts: CI has mesa's lavapipe) and answers `false`, or the reason to skip — printed, so a skipped run says why.
 */
import { loadBackend, type BackendReport } from '../src/engines/tfjs/backends';

export async function webgpuOrSkip(): Promise<{ skip: false; report: BackendReport } | { skip: string; report?: undefined }> {
  try {
    return { skip: false, report: await loadBackend('webgpu', { strict: true }) };
  } catch (err) {
    const skip = `no WebGPU adapter here: ${(err as Error).message}`;
    console.log(`# skipped: ${skip}`);
    return { skip };
  }
}
