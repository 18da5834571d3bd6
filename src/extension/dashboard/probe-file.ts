/**
 * Reading the trainer's probe files (`probes/step-<step>.probe`, written by `core/train/probes.ts`) in the host,
 * and turning one into the dashboard's `probe` message.
 *
 * The decoder mirrors `decodeProbe` of core/train/probes.ts, which cannot be imported here: that module imports
 * TF.js, and the extension host must not load it (the bundle test checks). Only its types are imported.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ModelProbe } from '../../core/train/probes';
import { toWebview, type ProbeLayer, type ProbeMessage } from '../../protocol/webview';

const MAGIC = 'CBPROBE1';

interface HeaderTensor {
  offset: number;
  length: number;
}

/** Decodes the bytes of a `.probe` file; throws on anything malformed. */
export function decodeProbeFile(bytes: Uint8Array): ModelProbe {
  const text = new TextDecoder();
  if (bytes.length < MAGIC.length + 4 || text.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new Error('not a ConvBERT probe file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + jsonLength > bytes.length) throw new Error('probe file: the header runs past the end (truncated?)');
  const header = JSON.parse(text.decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength))) as Record<string, unknown>;
  if (header.format !== 'convbert-probe' || header.version !== 1) throw new Error(`probe file: format ${String(header.format)} v${String(header.version)} is not supported`);
  const start = Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
  const read = (t: HeaderTensor): Float32Array => {
    const from = start + 4 * t.offset;
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.length) || t.offset < 0 || t.length < 0 || from + 4 * t.length > bytes.length) {
      throw new Error('probe file: an array lies outside the file (truncated?)');
    }
    const out = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) out[i] = view.getFloat32(from + 4 * i, true);
    return out;
  };
  type A = ModelProbe['attention'][number];
  type C = ModelProbe['conv'][number];
  const attention = (header.attention as (Omit<A, 'probs'> & { probs: HeaderTensor })[]).map((a) => ({ ...a, probs: read(a.probs) }));
  const conv = (header.conv as (Omit<C, 'offsetWeights' | 'map'> & { offsetWeights: HeaderTensor; map: HeaderTensor })[]).map((c) => ({
    ...c,
    offsetWeights: read(c.offsetWeights),
    map: read(c.map),
  }));
  return {
    step: Number(header.step),
    tokens: header.tokens as string[],
    length: Number(header.length),
    realLength: Number(header.realLength),
    attention,
    conv,
  };
}

/** The dashboard's `probe` message for a decoded probe: one attention and one conv module per layer (the first of each). */
export function probeMessage(runId: string, probe: ModelProbe): ProbeMessage {
  const layers = new Map<number, ProbeLayer>();
  const layerOf = (i: number) => {
    let l = layers.get(i);
    if (!l) layers.set(i, (l = { layer: i }));
    return l;
  };
  for (const a of probe.attention) {
    const l = layerOf(a.layer);
    if (l.attention) continue;
    l.attention = { heads: a.heads, probs: a.probs };
    l.meanDistance = a.meanDistance.map((d) => (Number.isFinite(d) && d >= 0 ? d : 0));
  }
  for (const c of probe.conv) {
    const l = layerOf(c.layer);
    if (l.conv) continue;
    l.conv = {
      mixing: c.map,
      kernel: c.offsetWeights,
      kernelStart: c.offsets[0] ?? -Math.floor((c.kernelSize - 1) / 2),
      ...(Number.isFinite(c.meanDistance) && c.meanDistance >= 0 ? { meanDistance: c.meanDistance } : {}),
    };
  }
  const tokens = probe.tokens.map((t) => (t.length > 64 ? `${t.slice(0, 63)}…` : t));
  const realLength = Math.max(0, Math.min(tokens.length, Math.floor(probe.realLength)));
  return toWebview({ type: 'probe', runId, step: probe.step, tokens, realLength, layers: [...layers.values()].sort((a, b) => a.layer - b.layer) }) as ProbeMessage;
}

const PROBE_FILE = /^step-(\d+)\.probe$/;

/** The steps with a probe file in a run directory's `probes/`, ascending. */
export async function probeStepsOnDisk(runDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir(path.join(runDir, 'probes'));
  } catch {
    return [];
  }
  return names
    .map((n) => PROBE_FILE.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The probe file of a step: `probes/step-000000100.probe`. */
export function probeFilePath(runDir: string, step: number): string {
  return path.join(runDir, 'probes', `step-${String(step).padStart(9, '0')}.probe`);
}

export async function readProbeFile(runDir: string, step: number): Promise<ModelProbe> {
  return decodeProbeFile(new Uint8Array(await fsp.readFile(probeFilePath(runDir, step))));
}
