/**
 * The safetensors format (https://github.com/huggingface/safetensors), the torch engine's tensor files
 * (python/convbert_torch/safetensors.py is its twin): an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}` (space-padded to a
 * multiple of 8), then the data buffer, each tensor little-endian C-order at [begin, end).
 *
 * Host tensors go out as F32, I32 and BOOL. Reading also takes F16, BF16 (→ float32), U8, U16 (→ int32) and I64
 * (→ int32 when every value fits). Files are untrusted input: every malformed one is one `SafetensorsError`.
 * TF.js-free (type imports only), so the extension host can read these files.
 */
import { promises as fsp } from 'node:fs';
import type { HostDType, HostTensor, HostTensorMap } from '../core/train/tensors';
import { writeFileAtomic } from './files';

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

/** Headers larger than this are refused (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const WIDTH = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, U16: 2, BOOL: 1 } as const;
type FileDType = keyof typeof WIDTH;
const OUT_DTYPE: Record<HostDType, FileDType> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

export interface SafetensorsFile {
  tensors: HostTensorMap;
  metadata: Record<string, string>;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The file bytes of `tensors` (in key order), with optional string metadata. */
export function encodeSafetensors(tensors: HostTensorMap, metadata?: Record<string, string>): Uint8Array {
  if (!littleEndian) throw new SafetensorsError('safetensors: big-endian hosts are not supported');
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new SafetensorsError(`safetensors metadata ${k} must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new SafetensorsError('a tensor cannot be named __metadata__');
    const dtype = OUT_DTYPE[t.dtype];
    if (!dtype) throw new SafetensorsError(`${name}: cannot store dtype ${String(t.dtype)}`);
    if (t.data.length !== sizeOf(t.shape)) throw new SafetensorsError(`${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json);
  json += ' '.repeat((8 - (jsonBytes.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const isWhole = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function convert(name: string, dtype: FileDType, bytes: Uint8Array, n: number): { dtype: HostDType; data: HostTensor['data'] } {
  const copy = new Uint8Array(bytes.length); // aligned and owned (Buffer#slice would share the file's memory)
  copy.set(bytes);
  const view = new DataView(copy.buffer);
  switch (dtype) {
    case 'F32':
      return { dtype: 'float32', data: new Float32Array(copy.buffer, 0, n) };
    case 'I32':
      return { dtype: 'int32', data: new Int32Array(copy.buffer, 0, n) };
    case 'BOOL':
      return { dtype: 'bool', data: copy };
    case 'U8':
      return { dtype: 'int32', data: Int32Array.from(copy) };
    case 'U16':
      return { dtype: 'int32', data: Int32Array.from(new Uint16Array(copy.buffer, 0, n)) };
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return { dtype: 'float32', data: out };
    }
    case 'BF16': {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return { dtype: 'float32', data: new Float32Array(bits.buffer) };
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v < -2147483648n || v > 2147483647n) throw new SafetensorsError(`${name}: I64 value ${v} does not fit int32`);
        out[i] = Number(v);
      }
      return { dtype: 'int32', data: out };
    }
  }
}

/** Parses and validates a safetensors file's bytes. `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const bad = (why: string) => new SafetensorsError(`${source} is not a valid safetensors file: ${why}`);
  if (!littleEndian) throw new SafetensorsError('safetensors: big-endian hosts are not supported');
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header of ${n} bytes (at most ${MAX_HEADER_BYTES})`);
  const headerLength = Number(n);
  if (8 + headerLength > bytes.length) throw bad(`header of ${headerLength} bytes runs past the end of the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const size = bytes.length - 8 - headerLength;
  const data = bytes.subarray(8 + headerLength);
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: FileDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, e] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad('__metadata__ must map strings to strings');
      for (const [k, v] of Object.entries(e)) {
        if (typeof v !== 'string') throw bad('__metadata__ must map strings to strings');
        metadata[k] = v;
      }
      continue;
    }
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad(`"${name}": an entry must be an object`);
    const { dtype, shape, data_offsets: offsets, ...rest } = e as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw bad(`"${name}": unknown field ${Object.keys(rest)[0]}`);
    if (typeof dtype !== 'string' || !Object.hasOwn(WIDTH, dtype)) throw bad(`"${name}": unsupported dtype ${JSON.stringify(dtype)} (${Object.keys(WIDTH).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isWhole)) throw bad(`"${name}": shape must be a list of whole numbers ≥ 0`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isWhole)) throw bad(`"${name}": data_offsets must be [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (!(begin <= end && end <= size)) throw bad(`"${name}": data_offsets [${begin}, ${end}] outside the ${size}-byte data buffer`);
    const want = sizeOf(shape) * WIDTH[dtype as FileDType];
    if (want !== end - begin) throw bad(`"${name}": ${end - begin} bytes for ${dtype} [${shape.join(', ')}] (${want} expected)`);
    entries.push({ name, dtype: dtype as FileDType, shape: shape as number[], begin, end });
  }
  let position = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (e.begin !== position) throw bad(`"${e.name}": data at ${e.begin} ${e.begin < position ? 'overlaps the previous tensor' : `leaves a gap after byte ${position}`}`);
    position = e.end;
  }
  if (position !== size) throw bad(`the data buffer has ${size - position} bytes no tensor uses`);
  const tensors: HostTensorMap = {};
  for (const e of entries) {
    const { dtype, data: values } = convert(e.name, e.dtype, data.subarray(e.begin, e.end), sizeOf(e.shape));
    tensors[e.name] = { dtype, shape: e.shape, data: values };
  }
  return { tensors, metadata };
}

/** Reads and validates a safetensors file (a `SafetensorsError` naming the file when malformed). */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  return decodeSafetensors(await fsp.readFile(file), file);
}

/** Writes a safetensors file atomically (temporary file, fsync, rename). */
export async function writeSafetensors(file: string, tensors: HostTensorMap, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
