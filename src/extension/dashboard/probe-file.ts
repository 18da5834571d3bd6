/**
 * The trainer's probe files (`probes/step-<step>.probe`) in the host: which steps a run has, reading one, and
 * turning it into the dashboard's `probe` message. The files are read through src/run-format/probes.ts (their
 * encoding, core/train/probe-format.ts, does not import TF.js: the extension host must not load it, the bundle test
 * checks).
 */
import type { ModelProbe } from '../../run-format/probes';
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

// The files themselves are the run format's.
export { probeFilePath, probeStepsOnDisk, readProbeFile } from '../../run-format/probes';
