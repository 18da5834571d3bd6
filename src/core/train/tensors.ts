/**
 * Tensors as plain typed arrays on the host: what optimizer state, job state and checkpoints hold, so they can be
 * written to disk, compared bit for bit and sent over IPC without TF.js.
 */
import * as tf from '@tensorflow/tfjs';

export type HostDType = 'float32' | 'int32' | 'bool';
export type HostData = Float32Array | Int32Array | Uint8Array;

export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: HostData;
}

export type HostTensorMap = Record<string, HostTensor>;

export const BYTES_PER_ELEMENT: Record<HostDType, number> = { float32: 4, int32: 4, bool: 1 };

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function storableDType(t: tf.Tensor): HostDType {
  const dtype = t.dtype;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`cannot store a ${dtype} tensor (float32, int32 and bool only)`);
  return dtype;
}

/** A copy of the values read (the backend's array may be its own storage), in the array type of `dtype`. */
function hostTensorOf(dtype: HostDType, shape: readonly number[], values: tf.TypedArray): HostTensor {
  const data = dtype === 'float32' ? Float32Array.from(values as Float32Array) : dtype === 'int32' ? Int32Array.from(values as Int32Array) : Uint8Array.from(values as Uint8Array);
  return { dtype, shape: [...shape], data };
}

/** Copies a tensor's values to the host (one `dataSync`: backends with `syncReads` only, see core/ops/traits.ts). */
export function toHostTensor(t: tf.Tensor): HostTensor {
  const dtype = storableDType(t);
  return hostTensorOf(dtype, t.shape, t.dataSync());
}

/** `toHostTensor` with one `await data()`: works on every backend, webgpu in Node included. */
export async function toHostTensorAsync(t: tf.Tensor): Promise<HostTensor> {
  const dtype = storableDType(t);
  const shape = [...t.shape];
  return hostTensorOf(dtype, shape, await t.data());
}

export function fromHostTensor(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}

/** Throws unless `h` is a well-formed host tensor of the expected shape (when given). */
export function checkHostTensor(name: string, h: HostTensor, shape?: readonly number[]): void {
  const expectedArray = h.dtype === 'float32' ? Float32Array : h.dtype === 'int32' ? Int32Array : Uint8Array;
  if (!(h.data instanceof expectedArray)) throw new Error(`${name}: ${h.dtype} data must be a ${expectedArray.name}`);
  if (h.data.length !== sizeOf(h.shape)) throw new Error(`${name}: ${h.data.length} values for shape [${h.shape.join(', ')}]`);
  if (shape && (shape.length !== h.shape.length || shape.some((d, i) => d !== h.shape[i]))) {
    throw new Error(`${name}: shape [${h.shape.join(', ')}] does not match the variable's [${shape.join(', ')}]`);
  }
}

/** Bytes of a host tensor's values. */
export function hostBytes(h: HostTensor): Uint8Array {
  return new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength);
}
