/**
 * Writes a finished reference run into an e2e workspace: run.json, metrics.jsonl (valid protocol messages) and two
 * probe files in the trainer's own format (core/train/probes.ts), with synthetic attention and conv maps. The
 * in-host tests check that the host serves its probes; the UI test opens it to see the heatmaps render whatever
 * job the trainer runs. Prints the run id.
 *
 *   npx tsx test/e2e/make-reference-run.ts <workspace folder>
 */
import { mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { trainerMessage, type TrainerMessageBody } from '../../src/protocol';
import { encodeProbe, type ModelProbe } from '../../src/core/train/probe-format';
import { RUNS_DIR, newRunId } from '../../src/run-format/run-dir';

const TOKENS = ['[CLS]', 'the', 'model', 'mixes', 'tokens', 'with', 'attention', 'and', 'convolution', '[SEP]'];
const T = TOKENS.length;

function attentionProbs(heads: number, step: number, layer: number): Float32Array {
  const out = new Float32Array(heads * T * T);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) {
      const row = new Float64Array(T);
      let sum = 0;
      for (let s = 0; s < T; s++) {
        // Head 0 looks nearby, head 1 at [CLS] and far tokens; sharper as training goes on.
        const sharp = 0.5 + step / 20 + layer * 0.3;
        const score = h === 0 ? -Math.abs(t - s) * sharp : (s === 0 ? 2 : 0) + Math.abs(t - s) * 0.2 * sharp;
        row[s] = Math.exp(score);
        sum += row[s]!;
      }
      for (let s = 0; s < T; s++) out[(h * T + t) * T + s] = row[s]! / sum;
    }
  }
  return out;
}

function meanDistance(probs: Float32Array, h: number): number {
  let total = 0;
  for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) total += probs[(h * T + t) * T + s]! * Math.abs(t - s);
  return total / T;
}

function convMap(weights: number[], offsets: number[]): Float32Array {
  const map = new Float32Array(T * T);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    offsets.forEach((d, k) => {
      const s = t + d;
      if (s >= 0 && s < T) {
        map[t * T + s] = weights[k]!;
        sum += weights[k]!;
      }
    });
    if (sum > 0) for (let s = 0; s < T; s++) map[t * T + s] = map[t * T + s]! / sum;
  }
  return map;
}

function probeAt(step: number): ModelProbe {
  const offsets = [-3, -2, -1, 0, 1, 2, 3];
  const attention = [0, 1].map((layer) => {
    const probs = attentionProbs(2, step, layer);
    return { layer, module: 'attention', heads: 2, probs, meanDistance: [0, 1].map((h) => meanDistance(probs, h)) };
  });
  const conv = [0, 1].map((layer) => {
    const weights = offsets.map((d) => 1 / (1 + Math.abs(d)) + 0.05 * layer + 0.01 * step);
    const map = convMap(weights, offsets);
    return { layer, module: 'conv', kernelSize: 7, padding: 'same' as const, offsets, offsetWeights: Float32Array.from(weights), map, meanDistance: 1.5 };
  });
  return { step, tokens: TOKENS, length: T, realLength: T, attention, conv };
}

function main(): void {
  const ws = process.argv[2];
  if (!ws) throw new Error('usage: make-reference-run.ts <workspace folder>');
  const runId = newRunId(new Date(Date.UTC(2025, 0, 1, 12, 0, 0)), 'e2e0ef');
  const dir = path.join(ws, RUNS_DIR, runId);
  mkdirSync(path.join(dir, 'probes'), { recursive: true });
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  copyFileSync(path.join(ws, 'model.convbert.json'), path.join(dir, 'spec.convbert.json'));
  const t0 = Date.UTC(2025, 0, 1, 12, 0, 0);
  const lines: string[] = [];
  const add = (body: TrainerMessageBody, i: number) => lines.push(JSON.stringify(trainerMessage(body, t0 + i * 1000)));
  add({ type: 'started', runId, runDir: dir, backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 7, step: 0, totalSteps: 20, resumed: false }, 0);
  for (let step = 1; step <= 20; step++) {
    const loss = 7 * Math.exp(-step / 12) + 2;
    add({ type: 'metrics', step, loss, mlmLoss: loss, learningRate: 1e-3, gradNorm: 1, tokensPerSecond: 2000, stepMs: 120, flopsPerSecond: 1e9, memoryBytes: 1e7 }, step);
    if (step % 10 === 0) {
      add({ type: 'eval', step, loss: loss + 0.1, mlmAccuracy: 0.02 * step }, step);
      const probe = probeAt(step);
      const rel = `probes/step-${String(step).padStart(9, '0')}.probe`;
      writeFileSync(path.join(dir, rel), encodeProbe(probe));
      add({ type: 'probes', step, path: rel, summary: { tokens: T } }, step);
    }
  }
  add({ type: 'done', reason: 'completed', step: 20, summary: { steps: 20 } }, 21);
  writeFileSync(path.join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  const iso = new Date(t0).toISOString();
  writeFileSync(
    path.join(dir, 'run.json'),
    `${JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId, name: 'reference (synthetic probes)', state: 'completed', createdAt: iso, updatedAt: iso, startedAt: iso, endedAt: iso, seed: 7, backend: { requested: 'cpu', name: 'cpu' }, step: 20, totalSteps: 20, versions: { protocol: 1, node: process.versions.node } }, null, 2)}\n`,
  );
  process.stdout.write(`${runId}\n`);
}

main();
