import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { GPU_SPEC_DIR, GPU_SPEC_FILES, gpuBenchSpec, renderGpuBenchSpec } from '../../bench/gpu-specs';
import { computeCost } from '../../src/core/cost/report';
import { resolveSpec } from '../../src/core/spec/resolve';

test('bench/gpu/*.json are what the presets resolve to now (run `npx tsx bench/gpu-specs.ts` after changing them)', () => {
  const committed = readdirSync(GPU_SPEC_DIR).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(committed, Object.keys(GPU_SPEC_FILES).map((n) => `${n}.json`).sort());
  for (const name of Object.keys(GPU_SPEC_FILES)) {
    assert.equal(readFileSync(path.join(GPU_SPEC_DIR, `${name}.json`), 'utf8'), renderGpuBenchSpec(name), `bench/gpu/${name}.json is stale`);
  }
});

test('the base pair is the bert-base / groupbert-base presets at S = 128 with the figures the README quotes', () => {
  const bert = gpuBenchSpec('bert-base');
  const group = gpuBenchSpec('groupbert-base');
  assert.deepEqual(bert.spec, resolveSpec({ version: 1, name: 'bert-base', extends: 'bert-base' }));
  assert.equal(bert.sequenceLength, 128);
  assert.equal(group.sequenceLength, 128);
  assert.equal(bert.maskedPerSequence, 20);
  // README.md "How costs are counted": the parameter counts of the two presets.
  assert.equal(bert.params, 110_106_428);
  assert.equal(group.params, 160_842_044);
  // shared/research/gpu-probe.md: 2.246 and 3.496 TFLOP per step of 32 sequences.
  assert.equal(Math.round((bert.trainingFlopsPerSequence * 32) / 1e9), 2246);
  assert.equal(Math.round((group.trainingFlopsPerSequence * 32) / 1e9), 3496);
});

test('training FLOPs are linear in the batch, so FLOPs per sequence × B is the cost of a step of B', () => {
  for (const name of Object.keys(GPU_SPEC_FILES)) {
    const s = gpuBenchSpec(name);
    for (const B of [32, 256]) {
      const step = computeCost(s.spec, { batchSize: B }).totals.trainingFlopsPerStep;
      assert.ok(Math.abs(step - B * s.trainingFlopsPerSequence) <= 1e-9 * step, `${name} at B = ${B}`);
    }
  }
});
