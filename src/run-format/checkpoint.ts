/**
 * Checkpoints: weights, optimizer moments and everything else a run needs to continue the same trajectory
 * (data-iterator state, RNG state, step, spec hash), in `<run>/checkpoints/`:
 *
 *   checkpoints/
 *     ckpt-000000200-3fa9c1/   one checkpoint: manifest.json (names, dtypes, shapes, byte offsets, JSON state,
 *                              the SHA-256 of the .bin) + tensors.bin (all values, little-endian, 8-byte aligned)
 *     latest                   the name of the newest good checkpoint, replaced by rename
 *
 * Writing is atomic: everything goes into a `.tmp-…` directory, is fsynced, and the directory is renamed into
 * place; only then is `latest` replaced (write `latest.tmp-…`, fsync, rename). A crash at any point leaves the
 * previous checkpoint and pointer intact. `keep` older checkpoints are kept; the one `latest` named before is
 * never removed by the write that replaces it.
 *
 * Reading verifies the manifest and the .bin's length and SHA-256: `loadLatestCheckpoint` tries the one
 * `latest` names, then the others from the highest step down, and returns the first that is whole, with the
 * reasons the others were skipped.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { CHECKPOINT_NAME, CHECKPOINTS_DIR, listCheckpoints } from './checkpoint-name';
import { writeFileSynced } from './files';
import { BYTES_PER_ELEMENT, checkHostTensor, hostBytes, sizeOf, type HostDType, type HostTensor, type HostTensorMap } from '../core/train/tensors';
import { isRecord, type Json } from '../core/json';
import { Check } from '@sinclair/typebox/value';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, CheckpointManifestSchema, type CheckpointManifest } from './schema';

export { CHECKPOINTS_DIR, listCheckpoints };
export const LATEST_FILE = 'latest';
export const MANIFEST_FILE = 'manifest.json';
export const TENSORS_FILE = 'tensors.bin';
export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION };

const ALIGN = 8;

export type { Json };

/** What a checkpoint holds. The JSON parts are opaque to this module. */
export interface CheckpointContent {
  /** Updates completed. */
  step: number;
  /** `hashSpec` of the resolved spec the run trains. */
  specHash: string;
  /** Weights (`weights/<name>`), optimizer moments (`optimizer/m/<name>`…), anything else tensor-shaped. */
  tensors: HostTensorMap;
  /** Optimizer scalars (type, update count). */
  optimizer?: Json;
  /** The data pipeline's iterator state. */
  data?: Json;
  /** RNG state(s). */
  rng?: Json;
  /** The loop's own counters and anything else. */
  extra?: Json;
}

export interface LoadedCheckpoint extends CheckpointContent {
  /** The checkpoint directory (absolute). */
  path: string;
  /** Its name inside `checkpoints/`. */
  name: string;
  createdAt: string;
  /** Checkpoints passed over (torn, corrupt) before this one, newest first. */
  skipped: { name: string; reason: string }[];
}

export type CheckpointPhase = 'tensors' | 'tensors-written' | 'manifest-written' | 'renamed' | 'latest-written' | 'pruned';

export interface WriteCheckpointOptions {
  /** Older checkpoints to keep besides the new one (default and minimum 1: the new one and the previous one). */
  keep?: number;
  /**
   * Called at each phase of the write (and after every chunk of `tensors.bin` in phase `tensors`); may be async.
   * Tests use it to kill the process at a chosen point; it can also report progress of a large write.
   */
  onPhase?: (phase: CheckpointPhase, detail: { bytesWritten: number; bytesTotal: number }) => void | Promise<void>;
  /** Bytes per write call of `tensors.bin` (default 4 MiB). */
  chunkBytes?: number;
}

interface ManifestTensor {
  name: string;
  dtype: HostDType;
  shape: number[];
  offset: number;
  byteLength: number;
}

/** `manifest.json` (schema.ts `CheckpointManifestSchema`: schemas/checkpoint.schema.json), with its JSON parts typed. */
interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  endianness: 'little';
  step: number;
  specHash: string;
  createdAt: string;
  bin: { file: string; byteLength: number; sha256: string };
  tensors: ManifestTensor[];
  optimizer?: Json;
  data?: Json;
  rng?: Json;
  extra?: Json;
}

// The manifest type and the schema agree (a compile-time check, both ways).
const manifestFits: CheckpointManifest = null as unknown as Manifest;
const manifestFitsBack: Omit<Manifest, 'optimizer' | 'data' | 'rng' | 'extra'> = null as unknown as CheckpointManifest;
void manifestFits;
void manifestFitsBack;

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A short stable hash of a (resolved) spec: key order does not matter. */
/**
 * Training settings added after runs were first written (the torch engine's), hashed only away from their defaults so
 * that a run written before them keeps its hash and resumes.
 */
const LATER_DEFAULTS: Record<string, unknown> = { engine: 'auto', precision: 'fp32', compile: false };

export function hashSpec(spec: unknown): string {
  let value = spec;
  if (isRecord(spec) && isRecord(spec.training)) {
    const training = Object.fromEntries(Object.entries(spec.training).filter(([k, v]) => !(k in LATER_DEFAULTS) || LATER_DEFAULTS[k] !== v));
    value = { ...spec, training };
  }
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

function pad(step: number): string {
  return String(step).padStart(9, '0');
}

/** Opens, fsyncs and closes a file or directory; directories that cannot be opened (Windows) are skipped. */
async function fsyncPath(p: string, isDir = false): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(p, 'r');
    await handle.sync();
  } catch (e) {
    if (!isDir) throw e;
  } finally {
    await handle?.close();
  }
}

/** Writes a checkpoint atomically and points `latest` at it. Returns its directory (absolute) and name. */
export async function writeCheckpoint(runDir: string, content: CheckpointContent, options: WriteCheckpointOptions = {}): Promise<{ path: string; name: string }> {
  if (!isLittleEndian()) throw new Error('checkpoints are little-endian; this machine is big-endian');
  if (!Number.isInteger(content.step) || content.step < 0) throw new Error(`checkpoint step must be a whole number ≥ 0, got ${content.step}`);
  const dir = path.join(runDir, CHECKPOINTS_DIR);
  await fsp.mkdir(dir, { recursive: true });
  const onPhase = options.onPhase ?? (() => undefined);
  const chunkBytes = Math.max(1, options.chunkBytes ?? 4 * 1024 * 1024);

  // Layout.
  const tensors: ManifestTensor[] = [];
  let offset = 0;
  for (const name of Object.keys(content.tensors).sort()) {
    const h = content.tensors[name]!;
    checkHostTensor(name, h);
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    tensors.push({ name, dtype: h.dtype, shape: [...h.shape], offset, byteLength: h.data.byteLength });
    offset += h.data.byteLength;
  }
  const total = offset;

  const suffix = randomBytes(3).toString('hex');
  const name = `ckpt-${pad(content.step)}-${suffix}`;
  const tmp = path.join(dir, `.tmp-${name}`);
  await fsp.mkdir(tmp);

  // tensors.bin, in chunks, hashing as it goes.
  const hash = createHash('sha256');
  const bin = await fsp.open(path.join(tmp, TENSORS_FILE), 'w');
  let written = 0;
  try {
    const zeros = new Uint8Array(ALIGN);
    const put = async (bytes: Uint8Array) => {
      for (let start = 0; start < bytes.byteLength; start += chunkBytes) {
        const piece = bytes.subarray(start, Math.min(bytes.byteLength, start + chunkBytes));
        await bin.write(piece, 0, piece.byteLength, written);
        hash.update(piece);
        written += piece.byteLength;
        await onPhase('tensors', { bytesWritten: written, bytesTotal: total });
      }
    };
    for (const t of tensors) {
      if (t.offset > written) await put(zeros.subarray(0, t.offset - written));
      await put(hostBytes(content.tensors[t.name]!));
    }
    await bin.sync();
  } finally {
    await bin.close();
  }
  await onPhase('tensors-written', { bytesWritten: written, bytesTotal: total });

  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    endianness: 'little',
    step: content.step,
    specHash: content.specHash,
    createdAt: new Date().toISOString(),
    bin: { file: TENSORS_FILE, byteLength: total, sha256: hash.digest('hex') },
    tensors,
    ...(content.optimizer !== undefined ? { optimizer: content.optimizer } : {}),
    ...(content.data !== undefined ? { data: content.data } : {}),
    ...(content.rng !== undefined ? { rng: content.rng } : {}),
    ...(content.extra !== undefined ? { extra: content.extra } : {}),
  };
  await writeFileSynced(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
  await fsyncPath(tmp, true);
  await onPhase('manifest-written', { bytesWritten: written, bytesTotal: total });

  const previous = await readLatestPointer(runDir);
  const final = path.join(dir, name);
  await fsp.rename(tmp, final);
  await fsyncPath(dir, true);
  await onPhase('renamed', { bytesWritten: written, bytesTotal: total });

  const pointerTmp = path.join(dir, `${LATEST_FILE}.tmp-${suffix}`);
  await writeFileSynced(pointerTmp, `${name}\n`);
  await onPhase('latest-written', { bytesWritten: written, bytesTotal: total });
  await fsp.rename(pointerTmp, path.join(dir, LATEST_FILE));
  await fsyncPath(dir, true);

  await pruneCheckpoints(runDir, { keep: 1 + Math.max(1, options.keep ?? 1), protect: [name, ...(previous ? [previous] : [])] });
  await onPhase('pruned', { bytesWritten: written, bytesTotal: total });
  return { path: final, name };
}

/** The name `latest` holds, if it holds a well-formed one. */
export async function readLatestPointer(runDir: string): Promise<string | undefined> {
  try {
    const text = (await fsp.readFile(path.join(runDir, CHECKPOINTS_DIR, LATEST_FILE), 'utf8')).trim();
    return CHECKPOINT_NAME.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps `keep` checkpoints (at least those in `protect`, then the newest by step) and removes the others, and
 * leftover `.tmp-` directories and pointer files of interrupted writes. One writer per run directory is assumed.
 */
export async function pruneCheckpoints(runDir: string, options: { keep: number; protect?: string[] }): Promise<string[]> {
  const dir = path.join(runDir, CHECKPOINTS_DIR);
  const all = await listCheckpoints(runDir);
  const kept = new Set((options.protect ?? []).filter((name) => all.some((c) => c.name === name)));
  for (const { name } of all) if (kept.size < options.keep) kept.add(name);
  const removed: string[] = [];
  for (const { name } of all) {
    if (kept.has(name)) continue;
    await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith('.tmp-') || name.startsWith(`${LATEST_FILE}.tmp-`)) {
      await fsp.rm(path.join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('manifest.json is not valid JSON (torn write?)');
  }
  if (!isRecord(raw) || raw.format !== CHECKPOINT_FORMAT) throw new Error('manifest.json is not a ConvBERT checkpoint manifest');
  if (raw.formatVersion !== CHECKPOINT_FORMAT_VERSION) throw new Error(`checkpoint format version ${String(raw.formatVersion)} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`);
  if (raw.endianness !== 'little') throw new Error('checkpoint is not little-endian');
  if (!Number.isInteger(raw.step) || (raw.step as number) < 0) throw new Error('manifest step is not a whole number');
  if (typeof raw.specHash !== 'string') throw new Error('manifest has no specHash');
  const bin = raw.bin;
  if (!isRecord(bin) || typeof bin.file !== 'string' || !Number.isInteger(bin.byteLength) || typeof bin.sha256 !== 'string') throw new Error('manifest has no valid `bin` entry');
  if (bin.file.includes('/') || bin.file.includes('\\') || bin.file.startsWith('.')) throw new Error('manifest `bin.file` must be a plain file name');
  if (!Array.isArray(raw.tensors)) throw new Error('manifest has no tensor list');
  for (const t of raw.tensors as unknown[]) {
    if (
      !isRecord(t) ||
      typeof t.name !== 'string' ||
      !(t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool') ||
      !Array.isArray(t.shape) ||
      !t.shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Number.isInteger(t.offset) ||
      !Number.isInteger(t.byteLength)
    ) {
      throw new Error('manifest has a malformed tensor entry');
    }
    const expected = sizeOf(t.shape as number[]) * BYTES_PER_ELEMENT[t.dtype];
    if (t.byteLength !== expected) throw new Error(`tensor ${t.name}: ${String(t.byteLength)} bytes for shape [${(t.shape as number[]).join(', ')}]`);
    if ((t.offset as number) % ALIGN !== 0 || (t.offset as number) + expected > (bin.byteLength as number)) throw new Error(`tensor ${t.name} lies outside ${bin.file}`);
  }
  if (!Check(CheckpointManifestSchema, raw)) throw new Error('manifest.json does not match the checkpoint schema (schemas/checkpoint.schema.json)');
  return raw as unknown as Manifest;
}

/** Reads and verifies one checkpoint directory; throws with the reason when it is not whole. */
export async function readCheckpoint(checkpointDir: string): Promise<Omit<LoadedCheckpoint, 'skipped'>> {
  let manifestText: string;
  try {
    manifestText = await fsp.readFile(path.join(checkpointDir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    throw new Error(`cannot read manifest.json (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const manifest = parseManifest(manifestText);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(checkpointDir, manifest.bin.file));
  } catch (e) {
    throw new Error(`cannot read ${manifest.bin.file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (bytes.byteLength !== manifest.bin.byteLength) throw new Error(`${manifest.bin.file} has ${bytes.byteLength} bytes, the manifest says ${manifest.bin.byteLength} (torn write?)`);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== manifest.bin.sha256) throw new Error(`${manifest.bin.file} does not match its SHA-256 (corrupt)`);

  const tensors: HostTensorMap = {};
  for (const t of manifest.tensors) {
    // Copy into a fresh, aligned buffer: Buffers from readFile may share a pool at any offset.
    const copy = new Uint8Array(t.byteLength);
    copy.set(bytes.subarray(t.offset, t.offset + t.byteLength));
    const data = t.dtype === 'float32' ? new Float32Array(copy.buffer) : t.dtype === 'int32' ? new Int32Array(copy.buffer) : copy;
    const h: HostTensor = { dtype: t.dtype, shape: t.shape, data };
    tensors[t.name] = h;
  }
  return {
    path: checkpointDir,
    name: path.basename(checkpointDir),
    createdAt: manifest.createdAt,
    step: manifest.step,
    specHash: manifest.specHash,
    tensors,
    ...(manifest.optimizer !== undefined ? { optimizer: manifest.optimizer } : {}),
    ...(manifest.data !== undefined ? { data: manifest.data } : {}),
    ...(manifest.rng !== undefined ? { rng: manifest.rng } : {}),
    ...(manifest.extra !== undefined ? { extra: manifest.extra } : {}),
  };
}

/**
 * The newest whole checkpoint of a run: the one `latest` names if it verifies, else the next by step. `undefined`
 * when there is none (the reasons others were skipped are then lost; use `listCheckpoints` + `readCheckpoint`).
 */
export async function loadLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint | undefined> {
  const skipped: { name: string; reason: string }[] = [];
  const pointer = await readLatestPointer(runDir);
  const order = (await listCheckpoints(runDir)).map((c) => c.name);
  const candidates = pointer ? [pointer, ...order.filter((n) => n !== pointer)] : order;
  for (const name of candidates) {
    try {
      const loaded = await readCheckpoint(path.join(runDir, CHECKPOINTS_DIR, name));
      return { ...loaded, skipped };
    } catch (e) {
      skipped.push({ name, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return undefined;
}
