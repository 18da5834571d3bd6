/**
 * Probes of a tiny model on a padded sample: attention maps per layer and head (shapes, rows summing to 1,
 * padded keys ≈ 0, mean distances), the conv modules' mixing (offsets, mean |kernel| per offset, the banded
 * row-normalised map), and the `.probe` file round trip.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel, type Model } from '../../src/core/model';
import { resolveSpec, type SpecFile } from '../../src/core/spec';
import { computeProbes, decodeProbe, encodeProbe, probeSummary, type ModelProbe } from '../../src/core/train/probes';
import { probeFileName, readProbe, writeProbe } from '../../src/run-format/probes';

const T = 10;
const REAL = 7;
const sample = {
  ids: [2, 11, 12, 13, 14, 15, 3, 0, 0, 0],
  tokens: ['[CLS]', 'a', 'b', 'c', 'd', 'e', '[SEP]', '[PAD]', '[PAD]', '[PAD]'],
  realLength: REAL,
};

function tinyModel(model: SpecFile['model']): Model {
  const spec = resolveSpec({ version: 1, extends: 'groupbert-tiny', model: { vocabSize: 20, maxPositions: 16, hiddenSize: 32, numHeads: 2, numLayers: 2, intermediateSize: 64, initializerRange: 0.2, ...model } } as SpecFile);
  return buildModel(spec, { seed: 4 });
}

const dirs: string[] = [];
before(async () => {
  await tf.setBackend('cpu');
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('probes', () => {
  let model: Model;
  let probe: ModelProbe;
  before(async () => {
    model = tinyModel({ layer: { modules: [{ type: 'conv', kernelSize: 3, channelsPerGroup: 8 }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } });
    probe = await computeProbes(model, sample, 5);
  });
  after(() => model.dispose());

  it('attention: one [heads, T, T] map per layer, rows sum to 1, padded keys ≈ 0, mean distance per head', () => {
    assert.equal(probe.step, 5);
    assert.equal(probe.length, T);
    assert.equal(probe.realLength, REAL);
    assert.deepEqual(probe.tokens, sample.tokens);
    assert.deepEqual(
      probe.attention.map((a) => [a.layer, a.module, a.heads, a.probs.length]),
      [
        [0, 'attention', 2, 2 * T * T],
        [1, 'attention', 2, 2 * T * T],
      ],
    );
    for (const a of probe.attention) {
      for (let h = 0; h < a.heads; h++) {
        let distance = 0;
        for (let t = 0; t < T; t++) {
          const row = a.probs.subarray((h * T + t) * T, (h * T + t + 1) * T);
          const sum = row.reduce((x, y) => x + y, 0);
          assert.ok(Math.abs(sum - 1) < 1e-5, `layer ${a.layer} head ${h} row ${t} sums to ${sum}`);
          for (let s = REAL; s < T; s++) assert.ok(row[s]! < 1e-6, `padded key ${s} gets ${row[s]}`);
          assert.ok(row.every((p) => p >= 0));
          if (t < REAL) row.forEach((p, s) => (distance += p * Math.abs(t - s)));
        }
        assert.ok(Math.abs(a.meanDistance[h]! - distance / REAL) < 1e-5, 'mean distance over the real queries');
        assert.ok(a.meanDistance[h]! > 0.5 && a.meanDistance[h]! < REAL, 'near-uniform attention over 7 real tokens');
      }
    }
  });

  it('conv: offsets, mean |kernel| per offset, a banded row-normalised map that skips padding', () => {
    assert.equal(probe.conv.length, 2);
    for (const c of probe.conv) {
      assert.equal(c.module, 'conv');
      assert.deepEqual(c.offsets, [-1, 0, 1]);
      // Independent computation: kernel [G, k·g, g] → [G, k, g, g], mean |·| over all but the tap axis.
      const kernel = model.variables.get(`layer0${c.layer}/conv/grouped/kernel`)!;
      const [G, , g] = kernel.shape as [number, number, number];
      const want = tf.tidy(() => tf.mean(tf.abs(kernel.reshape([G, 3, g, g])), [0, 2, 3]).dataSync());
      c.offsetWeights.forEach((w, i) => assert.ok(Math.abs(w - want[i]!) < 1e-6, `offset ${c.offsets[i]}: ${w} vs ${want[i]}`));
      let distance = 0;
      for (let t = 0; t < T; t++) {
        const row = c.map.subarray(t * T, (t + 1) * T);
        for (let s = 0; s < T; s++) {
          if (Math.abs(s - t) > 1 || s >= REAL) assert.equal(row[s], 0, `map[${t}][${s}] is off the band or padded`);
        }
        const sum = row.reduce((x, y) => x + y, 0);
        if (t <= REAL) assert.ok(Math.abs(sum - 1) < 1e-6, `row ${t} sums to 1`);
        else assert.equal(sum, 0, `row ${t} sees only padding`);
        if (t > 0 && t < REAL - 1) {
          const z = want[0]! + want[1]! + want[2]!;
          assert.ok(Math.abs(row[t - 1]! - want[0]! / z) < 1e-6 && Math.abs(row[t + 1]! - want[2]! / z) < 1e-6, 'interior rows are the normalised offset weights');
        }
        if (t < REAL) row.forEach((p, s) => (distance += p * Math.abs(t - s)));
      }
      assert.ok(Math.abs(c.meanDistance - distance / REAL) < 1e-6);
    }
    const summary = probeSummary(probe);
    assert.equal(summary.tokens, REAL);
    assert.ok(summary.convMeanDistance! > 0 && summary.convMeanDistance! < 1);
    assert.ok(summary['attentionMeanDistance/layer01/attention']! > 0);
  });

  it('causal conv looks only backwards; several attention modules per layer get numbered names', async () => {
    const m = tinyModel({ numLayers: 1, layer: { modules: [{ type: 'conv', kernelSize: 4, channelsPerGroup: 4, padding: 'causal' }, { type: 'attention' }, { type: 'attention', heads: 4 }] } });
    try {
      const p = await computeProbes(m, { ids: sample.ids.slice(0, REAL), tokens: sample.tokens.slice(0, REAL) }, 0);
      assert.equal(p.length, REAL);
      assert.deepEqual(p.conv[0]!.offsets, [-3, -2, -1, 0]);
      for (let t = 0; t < REAL; t++) for (let s = t + 1; s < REAL; s++) assert.equal(p.conv[0]!.map[t * REAL + s], 0);
      assert.equal(p.conv[0]!.map[0], 1, 'the first token only mixes with itself');
      assert.deepEqual(
        p.attention.map((a) => [a.module, a.heads, a.probs.length]),
        [
          ['attention1', 2, 2 * REAL * REAL],
          ['attention2', 4, 4 * REAL * REAL],
        ],
      );
    } finally {
      m.dispose();
    }
  });

  it('writeProbe / readProbe round-trip; the file is the floats plus a small header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convbert-probes-'));
    dirs.push(dir);
    const file = await writeProbe(join(dir, 'probes'), probe);
    assert.equal(file, join(dir, 'probes', probeFileName(5)));
    assert.equal(probeFileName(5), 'step-000000005.probe');
    const back = await readProbe(file);
    assert.deepEqual(back, probe);
    const floats = 2 * (2 * T * T) + 2 * (3 + T * T);
    const size = readFileSync(file).length;
    assert.ok(size >= 4 * floats && size < 4 * floats + 4096, `${size} bytes for ${floats} floats`);

    assert.throws(() => decodeProbe(new TextEncoder().encode('not a probe file')), /bad magic/);
    const bytes = encodeProbe(probe);
    writeFileSync(join(dir, 'cut.probe'), bytes.subarray(0, bytes.length - 8));
    await assert.rejects(readProbe(join(dir, 'cut.probe')), /outside the file/);
  });
});
