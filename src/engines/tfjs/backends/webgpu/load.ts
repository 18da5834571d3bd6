/**
 * Loads the `webgpu` backend (./index.ts declares it): Dawn and `navigator.gpu` (./dawn.ts), a hardware adapter
 * (or a software one when asked for by name) and a device with the adapter's limits (./adapter.ts), TF.js's webgpu
 * backend on that device with its errors turned into thrown ones (./device-errors.ts), wide ops split to fit
 * (./wide-ops.ts) and GPU memory tracked (./memory.ts); then smoke tests, one of them wide.
 */
import * as tf from '@tensorflow/tfjs';
import { setBackendTraits } from '../../../../core/ops/traits';
import { firstLine, type BackendLoader, type LoadOutcome } from '../backend';
import { nodeRequire } from '../resolver';
import { smokeTest } from '../smoke';
import { adapterLine, openAdapter, softwareRefusal } from './adapter';
import { bringUpDawn } from './dawn';
import { DeviceErrorLog } from './device-errors';
import { trackGpuMemory } from './memory';
import { addNChunk, provokeWideAddNFault, splitWideOps } from './wide-ops';
import { webgpu } from '.';

/** The errors of the device in use (one device per process). */
export const deviceErrors = new DeviceErrorLog();

interface WebGpuBackendModule {
  WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend & { bufferManager: never; read(id: object): Promise<tf.BackendValues> };
}

let loaded: LoadOutcome | undefined;

/**
 * Fault injection for the tests of "never a silent wrong answer": with CONVBERT_WEBGPU_FAULT_AT_READ=N set, the N-th
 * tensor read of the process is preceded by a dispatch that fails device validation (TF.js's own AddN on more inputs
 * than the device takes). Unset, nothing happens.
 */
const FAULT_AT_READ = Number(process.env.CONVBERT_WEBGPU_FAULT_AT_READ ?? 0);
let reads = 0;

/** An addN wider than one dispatch can take gives the right sum (the split works on this device). */
async function wideSmokeTest(maxStorageBuffers: number): Promise<void> {
  const n = addNChunk(maxStorageBuffers) * 2 + 3;
  const sum = tf.tidy(() => tf.addN(Array.from({ length: n }, (_, i) => tf.fill([4], i + 1))));
  const vals = Array.from(await sum.data());
  sum.dispose();
  const want = (n * (n + 1)) / 2;
  if (vals.some((v) => v !== want)) throw new Error(`an addN of ${n} tensors gave [${vals.join(', ')}], not ${want} each`);
}

export const loadWebgpu: BackendLoader = async (ctx) => {
  const fail = (reason: string): LoadOutcome => ({ attempt: { name: webgpu.name, ok: false, reason } });
  if (loaded) {
    // One device per process: switching back to it (tests, `convbert eval` after a run), on the same terms.
    if (loaded.device?.software && ctx.preference !== webgpu.name) return fail(softwareRefusal(loaded.device));
    if (!(await tf.setBackend(webgpu.tfBackendName))) return fail('the webgpu backend failed to start again');
    return loaded;
  }
  const dawn = bringUpDawn(ctx.resolver);
  if (!dawn.ok) return fail(dawn.reason);
  const opened = await openAdapter(dawn.gpu, ctx.preference === webgpu.name);
  if (!opened.ok) return fail(opened.reason);
  const { adapter, device, report } = opened;

  let mod: WebGpuBackendModule;
  try {
    // Only now: the package checks navigator.gpu when it is first evaluated.
    mod = nodeRequire()('@tensorflow/tfjs-backend-webgpu') as WebGpuBackendModule;
  } catch (err) {
    device.destroy();
    return fail(`@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine(err)}`);
  }
  deviceErrors.attach(device);
  // The package registers a factory that opens its own device with fewer limits: ours uses the device opened here.
  if (tf.findBackendFactory(webgpu.tfBackendName)) tf.removeBackend(webgpu.tfBackendName);
  tf.registerBackend(webgpu.tfBackendName, () => {
    const backend = new mod.WebGPUBackend(device, adapter.info);
    const read = backend.read.bind(backend);
    backend.read = async (dataId: object) => {
      if (FAULT_AT_READ > 0 && ++reads === FAULT_AT_READ) provokeWideAddNFault();
      const values = await read(dataId);
      deviceErrors.throwIfAny();
      return values;
    };
    trackGpuMemory(backend as unknown as Parameters<typeof trackGpuMemory>[0]);
    return backend;
  });
  try {
    if (!(await tf.setBackend(webgpu.tfBackendName))) return fail(`the webgpu backend failed to start on ${adapterLine(report)}`);
  } catch (err) {
    return fail(`the webgpu backend failed to start on ${adapterLine(report)}: ${firstLine(err)}`);
  }
  const maxStorage = device.limits.maxStorageBuffersPerShaderStage ?? 8;
  try {
    splitWideOps(maxStorage);
    setBackendTraits(webgpu.tfBackendName, webgpu.traits);
    await smokeTest();
    await wideSmokeTest(maxStorage);
  } catch (err) {
    return fail(`the webgpu backend on ${adapterLine(report)} failed a smoke test: ${firstLine(err)}`);
  }
  ctx.log(`webgpu: ${adapterLine(report)}; limits ${Object.entries(report.limits).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  loaded = {
    attempt: { name: webgpu.name, ok: true, ...(report.software ? { reason: 'a CPU emulating a GPU: far slower than wasm' } : {}) },
    device: report,
  };
  return loaded;
};
