/**
 * Probe files in a run directory: `probes/step-<step, 9 digits>.probe`, one per evaluation. The bytes of a file are
 * the `.probe` encoding (src/core/train/probe-format.ts, TF.js-free: the extension host reads probes too); their
 * names, place and reading/writing are defined here, once, for every engine and reader.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decodeProbe, encodeProbe, type ModelProbe } from '../core/train/probe-format';
import { writeFileAtomic } from './files';
import { RUN_FILES } from './run-dir';

export { PROBE_FORMAT, PROBE_VERSION, decodeProbe, encodeProbe, probeHeader, type ModelProbe, type ProbeHeader } from '../core/train/probe-format';

/** The file name of a step's probe: `step-000000100.probe`. */
export function probeFileName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.probe`;
}

const PROBE_FILE = /^step-(\d+)\.probe$/;

/** The step of a probe file name (`step-000000100.probe` → 100), or undefined for any other name. */
export function probeFileStep(name: string): number | undefined {
  const m = PROBE_FILE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Writes `dir/step-<step>.probe` atomically (`writeFileAtomic`). Returns its path. */
export async function writeProbe(dir: string, probe: ModelProbe): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, probeFileName(probe.step));
  await writeFileAtomic(file, encodeProbe(probe));
  return file;
}

/** Reads and decodes a `.probe` file. */
export async function readProbe(file: string): Promise<ModelProbe> {
  return decodeProbe(new Uint8Array(await fsp.readFile(file)));
}

/** The steps with a probe file in a `probes/` folder, ascending (none when the folder is missing). */
export async function probeStepsIn(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  return names
    .map(probeFileStep)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
}

/** The probe file of a step in a run directory: `<runDir>/probes/step-000000100.probe`. */
export function probeFilePath(runDir: string, step: number): string {
  return path.join(runDir, RUN_FILES.probes, probeFileName(step));
}

/** The steps with a probe file in a run directory's `probes/`, ascending. */
export async function probeStepsOnDisk(runDir: string): Promise<number[]> {
  return probeStepsIn(path.join(runDir, RUN_FILES.probes));
}

/** Reads a run directory's probe of `step`. */
export async function readProbeFile(runDir: string, step: number): Promise<ModelProbe> {
  return readProbe(probeFilePath(runDir, step));
}

/** Writes a probe into a run directory's `probes/`; returns its path relative to the run directory, '/'-separated. */
export async function saveRunProbe(runDir: string, probe: ModelProbe): Promise<string> {
  const file = await writeProbe(path.join(runDir, RUN_FILES.probes), probe);
  return path.relative(runDir, file).split(path.sep).join('/');
}

/** The JSON side file of an evaluation's probes: `probes/step-<step, 9 digits>.json`. */
export function probeSummaryFileName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.json`;
}

/**
 * Writes `probes/step-<step>.json`, `{ step, summary, data }` (the summary numbers and the probe header with its
 * `.probe` file), next to the `.probe` file; returns its path relative to the run directory, '/'-separated.
 */
export async function writeProbeSummary(runDir: string, step: number, content: { summary: unknown; data: unknown }): Promise<string> {
  const rel = `${RUN_FILES.probes}/${probeSummaryFileName(step)}`;
  await fsp.mkdir(path.join(runDir, RUN_FILES.probes), { recursive: true });
  await fsp.writeFile(path.join(runDir, rel), `${JSON.stringify({ step, summary: content.summary, data: content.data })}\n`);
  return rel;
}
