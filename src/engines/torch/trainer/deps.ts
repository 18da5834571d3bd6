/**
 * What the torch engine gives the engine-neutral trainer (src/engines/trainer): its backend step (find Python with
 * PyTorch, pick the device) and its job (the worker-group proxy, ../job.ts). The launch's options arrive in the
 * environment (`CONVBERT_TORCH`, `CONVBERT_MLM_JOB` for the spec's folder), as the TF.js trainer's do.
 */
import type { BackendReport } from '../../../protocol';
import { isRecord } from '../../../core/json';
import type { BackendLoader, TrainerDeps } from '../../trainer/loop';
import { TrainerError } from '../../trainer/errors';
import { MLM_JOB_ENV } from '../../trainer/entry';
import { TORCH_OPTIONS_ENV, type TorchLaunchOptions } from '..';
import { TORCH_BACKENDS, backendOfDevice, deviceOf, type TorchDevice } from '../backends';
import { createTorchJob } from '../job';
import { worldSizeOf } from '../distributed';
import { findTorchPython, type TorchPython } from '../python';

function readJson(name: string): Record<string, unknown> {
  const text = process.env[name];
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    return isRecord(v) ? v : {};
  } catch {
    throw new TrainerError(`${name} is not JSON: ${text.slice(0, 80)}`);
  }
}

export function torchTrainerDeps(overrides: Partial<TrainerDeps> = {}, options: { onStderr?: (line: string) => void } = {}): TrainerDeps {
  const launch = readJson(TORCH_OPTIONS_ENV) as TorchLaunchOptions;
  let python: TorchPython | undefined;
  let device: TorchDevice | undefined;
  // Filled once Python is found: run.json's versions then name PyTorch's and Python's.
  const runtime = { versions: {} as Record<string, string> };

  const loadBackend: BackendLoader = async (requested, log): Promise<BackendReport> => {
    const asked = deviceOf(requested);
    if (asked === undefined) {
      throw new TrainerError(`the torch engine has no backend "${requested}"`, `use one of auto, ${TORCH_BACKENDS.map((b) => b.name).join(', ')}`);
    }
    const probe = await findTorchPython({ configured: launch.python });
    if (!probe.ok) throw new TrainerError(probe.reason, probe.hint);
    python = probe.info;
    runtime.versions.python = python.pythonVersion;
    runtime.versions.torch = python.torch;
    for (const t of probe.tried) log('debug', `python: ${t.python}: ${t.reason}`);
    const skipped: { name: string; reason: string }[] = [];
    const has = (d: TorchDevice) => (d === 'cuda' ? python!.cuda.available : d === 'mps' ? python!.mps : true);
    if (asked === 'auto') {
      device = (['cuda', 'mps', 'cpu'] as const).find((d) => {
        if (has(d)) return true;
        skipped.push({ name: backendOfDevice(d)!, reason: d === 'cuda' ? `PyTorch ${python!.torch} sees no CUDA device` : 'no Apple GPU (MPS) here' });
        return false;
      });
    } else if (!has(asked)) {
      throw new TrainerError(
        asked === 'cuda' ? `PyTorch ${python.torch} (${python.python}) sees no CUDA device` : 'PyTorch sees no Apple GPU (MPS) here',
        asked === 'cuda' ? 'install a CUDA build of PyTorch and the NVIDIA driver, or train with backend torch-cpu' : 'train with backend torch-cpu',
      );
    } else {
      device = asked;
    }
    const world = worldSizeOf(launch);
    const where = device === 'cuda' ? `${python.cuda.name ?? 'CUDA'}${python.cuda.devices > 1 ? ` (${python.cuda.devices} GPUs here)` : ''}` : device === 'mps' ? 'Apple GPU (MPS)' : 'the CPU';
    return {
      requested,
      name: backendOfDevice(device!)!,
      skipped,
      details: {
        description: `PyTorch ${python.torch} on ${where}${world > 1 ? `, ${world} ranks` : ''} (Python ${python.pythonVersion})`,
        python: python.python,
        torch: python.torch,
        worldSize: world,
      },
    };
  };

  return {
    loadBackend,
    createJob: (ctx) => {
      // Read when the job is made: `convbert eval` sets the spec's folder just before.
      const jobEnv = readJson(MLM_JOB_ENV);
      return createTorchJob(ctx, {
        python: python?.python ?? launch.python ?? 'python3',
        device: device ?? 'cpu',
        distributed: launch,
        ...(typeof jobEnv.specDir === 'string' ? { specDir: jobEnv.specDir } : {}),
        ...(typeof jobEnv.shardsDir === 'string' ? { shardsDir: jobEnv.shardsDir } : {}),
        onStderr: options.onStderr ?? ((line) => process.stderr.write(`${line}\n`)),
      });
    },
    runtime,
    ...overrides,
  };
}
