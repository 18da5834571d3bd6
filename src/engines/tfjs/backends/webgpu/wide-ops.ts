/**
 * Ops with one storage buffer per input fail pipeline validation once the inputs outnumber the device's
 * `maxStorageBuffersPerShaderStage` (8 by default, 16 on an H200, 16 on lavapipe): `tf.addN` of 20 tensors reads back
 * zeros. The masked-LM job's gradient norm sums 90+ squared norms. TF.js's webgpu Concat already splits by the
 * device's limit (and Pack is Concat); AddN does not: here it is summed in chunks that fit, each chunk one dispatch.
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];

let installed: { limit: number; original: tf.KernelConfig } | undefined;

/** Inputs one AddN dispatch may take: one storage buffer is the output's. */
export function addNChunk(maxStorageBuffersPerShaderStage: number): number {
  return Math.max(2, maxStorageBuffersPerShaderStage - 1);
}

/** Registers the chunked AddN for the webgpu backend (once; the limit of the device it was first given). */
export function splitWideOps(maxStorageBuffersPerShaderStage: number): void {
  if (installed) return;
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) throw new Error('the webgpu backend has no AddN kernel to wrap');
  const chunk = addNChunk(maxStorageBuffersPerShaderStage);
  const stock = original.kernelFunc;
  const kernelFunc: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (inputs.length <= chunk) return stock(args);
    const backend = args.backend as tf.KernelBackend;
    // Partial sums are ours to free once summed; the inputs are not.
    const partials = new Set<tf.TensorInfo>();
    const sum = (part: tf.TensorInfo[]): tf.TensorInfo => {
      if (part.length === 1) return part[0]!;
      const s = stock({ ...args, inputs: part as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
      for (const t of part) if (partials.delete(t)) backend.disposeData(t.dataId);
      return s;
    };
    let level: tf.TensorInfo[] = inputs;
    while (level.length > chunk) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += chunk) {
        const s = sum(level.slice(i, i + chunk));
        if (!inputs.includes(s)) partials.add(s);
        next.push(s);
      }
      level = next;
    }
    const out = sum(level);
    return out;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc });
  installed = { limit: maxStorageBuffersPerShaderStage, original };
}

/**
 * Runs TF.js's own AddN on more inputs than a dispatch may take, as a device fault for the tests of
 * ./device-errors.ts (the pipeline fails validation, exactly the silent-zero case). Returns nothing: the fault
 * reaches the caller as the next read's error.
 */
export function provokeWideAddNFault(): void {
  if (!installed) throw new Error('the webgpu AddN split is not installed');
  const n = installed.limit + 4;
  const stock = installed.original.kernelFunc;
  tf.tidy(() => {
    const inputs = Array.from({ length: n }, () => tf.ones([4]));
    const backend = tf.backend();
    const out = stock({ inputs: inputs as unknown as tf.NamedTensorInfoMap, backend, attrs: {} }) as tf.TensorInfo;
    backend.disposeData(out.dataId);
  });
}

/** Whether the split is in place (and for which limit). */
export function wideOpsSplit(): number | undefined {
  return installed?.limit;
}
