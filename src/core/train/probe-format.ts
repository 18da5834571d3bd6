/**
 * The `.probe` encoding, without TF.js and without files: the probe types, the header, encode/decode. `probes.ts`
 * computes probes with TF.js (in the trainer); the run format (src/run-format/probes.ts) names, writes and reads the
 * files with this module, and the extension host reads them with it alone (it must never load TF.js: the
 * extension bundle test checks).
 *
 * One `.probe` file per probe (named by step in a run directory's `probes/`: src/run-format/probes.ts): the ASCII
 * magic `CBPROBE1`, the header's byte length (uint32 LE), a JSON header (format, version, step, tokens, and per
 * entry its metadata and where its floats are), zero padding to a multiple of 4 bytes, then the float32 LE values
 * of every T×T map and offset-weight vector, in header order.
 */
import type { ConvModule } from '../spec/resolve';

export const PROBE_FORMAT = 'convbert-probe';
export const PROBE_VERSION = 1;
const MAGIC = 'CBPROBE1';

export interface AttentionMapProbe {
  layer: number;
  /** Module name in its layer: `attention` (`attention2`… when a layer has several). */
  module: string;
  heads: number;
  /** [heads, T, T], row-major: probs[(h·T + t)·T + s]. */
  probs: Float32Array;
  /** Per head. */
  meanDistance: number[];
}

export interface ConvMapProbe {
  layer: number;
  module: string;
  kernelSize: number;
  padding: ConvModule['padding'];
  /** Relative offset of each tap (s − t). */
  offsets: number[];
  /** Mean |kernel| per tap, in the order of `offsets`. */
  offsetWeights: Float32Array;
  /** [T, T], rows normalised to sum 1 (0 for rows with no weight). */
  map: Float32Array;
  meanDistance: number;
}

export interface ModelProbe {
  step: number;
  /** The sample's pieces, padding included (`[PAD]`). */
  tokens: string[];
  /** T: the side of every map. */
  length: number;
  /** Real (unpadded) tokens: the first `realLength` of the T. */
  realLength: number;
  attention: AttentionMapProbe[];
  conv: ConvMapProbe[];
}

/** Where one array's floats are in the data section. */
export interface HeaderTensor {
  /** Offset in floats from the start of the data section. */
  offset: number;
  length: number;
  shape: number[];
}

/** The JSON header of a `.probe` file: the probe's metadata, its arrays replaced by where they are. */
export interface ProbeHeader {
  format: typeof PROBE_FORMAT;
  version: number;
  step: number;
  tokens: string[];
  length: number;
  realLength: number;
  attention: (Omit<AttentionMapProbe, 'probs'> & { probs: HeaderTensor })[];
  conv: (Omit<ConvMapProbe, 'offsetWeights' | 'map'> & { offsetWeights: HeaderTensor; map: HeaderTensor })[];
}

/** The metadata of a probe without its arrays (what the `probes` JSON of the run keeps). */
export function probeHeader(probe: ModelProbe): ProbeHeader {
  let offset = 0;
  const place = (data: Float32Array, shape: number[]): HeaderTensor => {
    const t = { offset, length: data.length, shape };
    offset += data.length;
    return t;
  };
  const T = probe.length;
  return {
    format: PROBE_FORMAT,
    version: PROBE_VERSION,
    step: probe.step,
    tokens: probe.tokens,
    length: T,
    realLength: probe.realLength,
    attention: probe.attention.map((a) => ({ layer: a.layer, module: a.module, heads: a.heads, meanDistance: a.meanDistance, probs: place(a.probs, [a.heads, T, T]) })),
    conv: probe.conv.map((c) => ({
      layer: c.layer,
      module: c.module,
      kernelSize: c.kernelSize,
      padding: c.padding,
      offsets: c.offsets,
      meanDistance: c.meanDistance,
      offsetWeights: place(c.offsetWeights, [c.offsetWeights.length]),
      map: place(c.map, [T, T]),
    })),
  };
}

/** Encodes a probe as the bytes of a `.probe` file. */
export function encodeProbe(probe: ModelProbe): Uint8Array {
  const header = probeHeader(probe);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((MAGIC.length + 4 + json.length) / 4) * 4;
  const arrays = [...probe.attention.map((a) => a.probs), ...probe.conv.flatMap((c) => [c.offsetWeights, c.map])];
  const floats = arrays.reduce((n, a) => n + a.length, 0);
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(MAGIC.length, json.length, true);
  bytes.set(json, MAGIC.length + 4);
  let at = start;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++, at += 4) view.setFloat32(at, a[i]!, true);
  }
  return bytes;
}

/** Decodes the bytes of a `.probe` file; throws on anything malformed. */
export function decodeProbe(bytes: Uint8Array): ModelProbe {
  const text = new TextDecoder();
  if (bytes.length < MAGIC.length + 4 || text.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new Error('not a ConvBERT probe file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + jsonLength > bytes.length) throw new Error('probe file: the header runs past the end (truncated?)');
  let header: ProbeHeader;
  try {
    header = JSON.parse(text.decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength))) as ProbeHeader;
  } catch {
    throw new Error('probe file: the header is not JSON');
  }
  if (typeof header !== 'object' || header === null) throw new Error('probe file: the header is not an object');
  if (header.format !== PROBE_FORMAT || header.version !== PROBE_VERSION) throw new Error(`probe file: format ${String(header.format)} v${String(header.version)} is not supported`);
  if (!Array.isArray(header.tokens) || !Array.isArray(header.attention) || !Array.isArray(header.conv)) throw new Error('probe file: the header lacks tokens, attention or conv');
  const start = Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
  const read = (t: HeaderTensor | undefined): Float32Array => {
    const offset = t?.offset;
    const length = t?.length;
    if (!Number.isInteger(offset) || !Number.isInteger(length) || (offset as number) < 0 || (length as number) < 0 || start + 4 * ((offset as number) + (length as number)) > bytes.length) {
      throw new Error('probe file: an array lies outside the file (truncated?)');
    }
    const from = start + 4 * (offset as number);
    const out = new Float32Array(length as number);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(from + 4 * i, true);
    return out;
  };
  return {
    step: header.step,
    tokens: header.tokens,
    length: header.length,
    realLength: header.realLength,
    attention: header.attention.map((a) => ({ layer: a.layer, module: a.module, heads: a.heads, meanDistance: a.meanDistance, probs: read(a.probs) })),
    conv: header.conv.map((c) => ({
      layer: c.layer,
      module: c.module,
      kernelSize: c.kernelSize,
      padding: c.padding,
      offsets: c.offsets,
      meanDistance: c.meanDistance,
      offsetWeights: read(c.offsetWeights),
      map: read(c.map),
    })),
  };
}
