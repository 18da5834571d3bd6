/**
 * The masked-LM job learns: a tiny GroupBERT (1 layer, hidden 48) on real text — four State of the Union speeches
 * from the bundled corpus, a 500-piece vocabulary, three documents to train on and one held out — brings its MLM
 * loss from ln(500) ≈ 6.2 well below it within 500 steps, on the wasm backend.
 *
 * The unigram entropy of this text is 5.55 nats, so a model that ignores its input stalls at ln V − 0.67; the
 * thresholds below (ln V − 1) need context. Measured while tuning (machine shared, 60 ms/step): the loss sits near
 * the unigram level for 250–300 steps, then falls to 4.7–4.8 by step 500 (seeds 3 and 4; hidden 48 and 64; one
 * and two layers). Wasm runs single-threaded are deterministic, so this run gives the same numbers every time:
 * train 4.84, held-out 4.97, accuracy 0.062.
 * AdamW's bias correction is on: the GroupBERT preset turns it off (the reference's recipe, with 10 000 warmup
 * steps), which with a 20-step warmup kept the loss at the unigram level for 1000 steps.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { computeCost } from '../../src/core/cost';
import { bundledCorpusDir, prepareData, type PreparedData } from '../../src/core/data';
import { resolveSpec, type SpecFile } from '../../src/core/spec';
import type { JobContext } from '../../src/core/train/job';
import { createMlmJob } from '../../src/core/train/mlm-job';
import { Rng } from '../../src/core/rng';
import { learningRateAt } from '../../src/core/train/schedule';

const V = 500;
const STEPS = 500;
let dir = '';
let data: PreparedData | undefined;

const FILE = {
  version: 1,
  name: 'tiny',
  extends: 'groupbert-tiny',
  model: { vocabSize: V, maxPositions: 64, hiddenSize: 48, numHeads: 2, numLayers: 1, intermediateSize: 192, heads: { mlm: true, nsp: false, pooler: false } },
  training: {
    corpus: ['corpus/*.txt'],
    tokenizer: { vocabSize: V },
    sequenceLength: 32,
    batchSize: 16,
    steps: STEPS,
    seed: 3,
    validationFraction: 0.25,
    evalBatches: 8,
    optimizer: { type: 'adamw', biasCorrection: true },
    learningRate: { peak: 3e-3, warmupSteps: 20, decay: 'constant' },
    gradientClipNorm: 1,
  },
} as SpecFile;

before(async () => {
  await loadBackend('wasm', { threads: 1, strict: true });
  dir = mkdtempSync(join(tmpdir(), 'convbert-mlm-train-'));
  mkdirSync(join(dir, 'corpus'));
  const bundled = bundledCorpusDir();
  for (const f of readdirSync(bundled).filter((n) => n.endsWith('.txt')).sort().slice(-4)) copyFileSync(join(bundled, f), join(dir, 'corpus', f));
});

after(() => {
  data?.close();
  rmSync(dir, { recursive: true, force: true });
});

it(`the MLM loss falls well below ln(vocabulary) on real text within ${STEPS} steps`, async (t) => {
  const spec = resolveSpec(FILE);
  data = await prepareData({ training: spec.training, specDir: dir, nsp: false });
  assert.equal(data.tokenizer.vocabSize, V);
  assert.equal(data.split.validation.length, 1);
  const ctx: JobContext = { spec, runDir: dir, backend: 'wasm', rng: Rng.fromSeed(spec.training.seed), log: () => {}, warn: () => {} };
  const job = createMlmJob(ctx, { data, probes: false });
  try {
    const info = await job.init();
    assert.equal(info.parameterCount, computeCost(spec).totals.params);
    const first = await job.evaluate(0);
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const m = await job.step({ step: s, learningRate: learningRateAt(s, spec.training.learningRate, STEPS) });
      assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.gradNorm), `step ${s + 1}: loss ${m.loss}, grad norm ${m.gradNorm}`);
      losses.push(m.mlmLoss!);
    }
    const end = await job.evaluate(STEPS);
    const lnV = Math.log(V);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const report =
      `ln V ${lnV.toFixed(2)}; MLM train loss, mean of steps 1–20 ${mean(losses.slice(0, 20)).toFixed(2)}, of the last 40 ${mean(losses.slice(-40)).toFixed(2)}; ` +
      `validation loss ${first.loss.toFixed(2)} → ${end.loss.toFixed(2)}, accuracy ${first.mlmAccuracy.toFixed(3)} → ${end.mlmAccuracy.toFixed(3)}`;
    t.diagnostic(report);
    assert.ok(Math.abs(first.loss - lnV) < 0.2, `starts at ≈ ln V: ${report}`);
    assert.ok(mean(losses.slice(-40)) < lnV - 1, `training loss well below ln V: ${report}`);
    assert.ok(end.loss < lnV - 1, `held-out loss well below ln V: ${report}`);
    assert.ok(end.mlmAccuracy > 0.04, `held-out accuracy above predicting the commonest piece (≈ 0.03): ${report}`);
  } finally {
    job.dispose();
  }
});
