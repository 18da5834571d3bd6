/**
 * The trainer's probe files (`probes/step-<step>.probe`) in the host: which steps a run has, reading one, and
 * turning it into the dashboard's `probe` message. The file format is `core/train/probe-format.ts`, which does not
 * import TF.js (the extension host must not load it: the bundle test checks).
 */
import * as path from 'node:path';
import { probeFileName, probeStepsIn, readProbe, type ModelProbe } from '../../core/train/probe-format';
import { RUN_FILES } from '../../run-format/run-dir';
import { toWebview, type ProbeLayer, type ProbeMessage } from '../../protocol/webview';

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

/** The steps with a probe file in a run directory's `probes/`, ascending. */
export async function probeStepsOnDisk(runDir: string): Promise<number[]> {
  return probeStepsIn(path.join(runDir, RUN_FILES.probes));
}

/** The probe file of a step: `probes/step-000000100.probe`. */
export function probeFilePath(runDir: string, step: number): string {
  return path.join(runDir, RUN_FILES.probes, probeFileName(step));
}

export async function readProbeFile(runDir: string, step: number): Promise<ModelProbe> {
  return readProbe(probeFilePath(runDir, step));
}
