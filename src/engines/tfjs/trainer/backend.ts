/** The trainer's backend step: the chooser of ./backends (in the registry's order), its report put in the protocol's shape. */
import { BACKEND_CHAIN, describeBackend, loadBackend, type BackendPreference } from '../backends';
import type { BackendLoader } from '../../trainer/loop';
import { TrainerError } from '../../trainer/errors';
import { bufferOverLimit } from '../../../core/cost/buffers';
import type { ResolvedSpec } from '../../../core/spec/resolve';
import { mebibytes } from '../../../format';
import type { DeviceReport } from '../backends/backend';
import { adapterLine } from '../backends/webgpu/adapter';

/**
 * A GPU that caps one buffer (WebGPU's maxStorageBufferBindingSize) cannot run a step whose largest tensor is over
 * it: said before the first step, with the tensor, its size and the limit. (WebGPU does not report the device's total
 * memory: running out of it mid-run is a device error, which stops the run with its last checkpoint.)
 */
export function checkDeviceBuffers(spec: ResolvedSpec, device: DeviceReport): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  if (!limit) return;
  const over = bufferOverLimit(spec, limit);
  if (!over) return;
  throw new TrainerError(
    `${over.what} would take ${mebibytes(over.bytes)}, more than the ${mebibytes(limit)} this GPU binds as one buffer (maxStorageBufferBindingSize of ${adapterLine(device)})`,
    'lower training.batchSize or training.sequenceLength (or the vocabulary size), or train on another backend',
  );
}

export type { BackendLoader };

export const loadTrainerBackend: BackendLoader = async (requested, log, spec) => {
  if (requested !== 'auto' && !(BACKEND_CHAIN as readonly string[]).includes(requested)) {
    throw new TrainerError(`unknown backend "${requested}"`, `use one of auto, ${BACKEND_CHAIN.join(', ')}`);
  }
  const report = await loadBackend(requested as BackendPreference, { log: (m) => log('debug', m) });
  if (report.device && spec) checkDeviceBuffers(spec, report.device);
  return {
    requested,
    name: report.name,
    skipped: report.tried.filter((t) => !t.ok).map((t) => ({ name: t.name, reason: t.reason ?? 'failed' })),
    details: {
      description: describeBackend(report),
      ...(report.threads !== undefined ? { threads: report.threads } : {}),
      ...(report.simd !== undefined ? { simd: report.simd } : {}),
      ...(report.device
        ? {
            adapter: `${report.device.vendor} ${report.device.architecture}`,
            adapterDescription: report.device.description,
            softwareAdapter: report.device.software,
            limits: Object.entries(report.device.limits).map(([k, v]) => `${k}=${v}`).join(', '),
          }
        : {}),
    },
  };
};
