/**
 * The cost model's structure, its element-wise and memory conventions, and properties over random specs. The
 * element-wise and activation figures are closed forms of the per-element counts stated in `FLOP_CONVENTION`
 * and in the doc comment of `modules.ts` (LayerNorm 8, softmax 5, GELU 5, swish 5, sigmoid 4, add 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../fast-check-seed';
import { computeCost, FLOP_CONVENTION, type CostReport, type ModuleCost } from '../../src/core/cost';
import { resolveSpec, type ResolvedModule } from '../../src/core/spec/resolve';
import type { ModuleSpec, SpecFile } from '../../src/core/spec/schema';

const allModules = (r: CostReport): ModuleCost[] => [r.embeddings, ...r.layers.flatMap((l) => l.modules), ...r.heads];
const preset = (name: 'bert-base' | 'groupbert-base') => resolveSpec({ version: 1, extends: name });

test('the report lists every module with its name, kind and place', () => {
  const r = computeCost(preset('groupbert-base'));
  assert.equal(r.convention, FLOP_CONVENTION);
  assert.equal(r.layers.length, 12);
  assert.deepEqual(r.layers[3]!.modules.map((m) => [m.name, m.kind, m.layer, m.moduleIndex]), [
    ['layer03/conv', 'conv', 3, 0],
    ['layer03/gffn1', 'gffn', 3, 1],
    ['layer03/attention', 'attention', 3, 2],
    ['layer03/gffn2', 'gffn', 3, 3],
  ]);
  assert.deepEqual(r.heads.map((h) => h.name), ['final_norm', 'mlm_head', 'pooler', 'nsp_head']);
  assert.equal(r.embeddings.layer, undefined);
  assert.deepEqual(computeCost(preset('bert-base')).heads.map((h) => h.kind), ['mlm_head', 'pooler', 'nsp_head'], 'post-norm: no final norm');
  const headless = resolveSpec({ version: 1, extends: 'bert-base', model: { heads: { mlm: false, nsp: false, pooler: false } } });
  assert.deepEqual(computeCost(headless).heads, []);
  const deep = resolveSpec({ version: 1, model: { hiddenSize: 64, numLayers: 101, numHeads: 2 } });
  assert.equal(computeCost(deep).layers[7]!.modules[0]!.name, 'layer007/attention');
});

test('options default to spec.training and are checked', () => {
  const spec = resolveSpec({ version: 1, extends: 'bert-base', training: { sequenceLength: 256, batchSize: 3, maxPredictions: 40 } });
  const r = computeCost(spec);
  assert.deepEqual([r.sequenceLength, r.batchSize, r.maskedPerSequence, r.tokensPerStep], [256, 3, 40, 768]);
  assert.equal(computeCost(spec, { maskedPerSequence: 1000 }).maskedPerSequence, 256, 'capped at S');
  assert.throws(() => computeCost(spec, { batchSize: 0 }), RangeError);
  assert.throws(() => computeCost(spec, { sequenceLength: 12.5 }), RangeError);
  assert.throws(() => computeCost(spec, { maskedPerSequence: -1 }), RangeError);
});

test('BERT-Base element-wise FLOPs (dropout 0.1, GELU) follow the stated per-element counts', () => {
  const [H, I, V, A, B, S, M] = [768, 3072, 30522, 12, 2, 128, 20];
  const T = B * S;
  const r = computeCost(preset('bert-base'), { batchSize: B, sequenceLength: S, maskedPerSequence: M });
  const [attention, ffn] = r.layers[0]!.modules;
  // LN 8 + residual 1 + dropout 1 per hidden element, + biases; per score: scale+mask 2, softmax 5, dropout 1.
  assert.equal(attention!.forward.elementwise, T * (8 * H + H + H + 3 * H + H) + 8 * B * A * S * S);
  // LN, residual, dropout; up bias + GELU (1 + 5) on I; down bias on H.
  assert.equal(ffn!.forward.elementwise, T * (11 * H + 6 * I));
  assert.equal(ffn!.backward.elementwise, 2 * ffn!.forward.elementwise);
  // Two adds of three tables, LN 8, dropout 1; backward: 2× plus a scatter-add per table.
  assert.equal(r.embeddings.forward.elementwise, 11 * T * H);
  assert.equal(r.embeddings.backward.elementwise, 22 * T * H + 3 * T * H);
  const [mlm, pooler, nsp] = r.heads;
  assert.equal(mlm!.forward.elementwise, B * M * (H * (1 + 5 + 8) + V * (1 + 5)));
  assert.equal(pooler!.forward.matmul, B * 2 * H * H);
  assert.equal(pooler!.forward.elementwise, B * 2 * H);
  assert.equal(nsp!.forward.matmul, B * 4 * H);
  assert.equal(nsp!.forward.elementwise, B * 12);
});

test('GroupBERT-Base element-wise FLOPs (no dropout) follow the stated per-element counts', () => {
  const [H, I, A, B, S] = [768, 3072, 12, 2, 128];
  const T = B * S;
  const r = computeCost(preset('groupbert-base'), { batchSize: B, sequenceLength: S });
  const [conv, gffn, attention] = r.layers[0]!.modules;
  // LN 8 + residual 1; GLU biases 2 + gate 5, padding mask 1, conv bias 1, LN 8, swish 5, output bias 1.
  assert.equal(conv!.forward.elementwise, T * (9 * H + 23 * H));
  // LN 8 + residual 1; up bias + GELU on I; down bias and mixer bias on H.
  assert.equal(gffn!.forward.elementwise, T * (11 * H + 6 * I));
  assert.equal(attention!.forward.elementwise, T * 13 * H + 7 * B * A * S * S);
  assert.equal(r.heads[0]!.forward.elementwise, 8 * T * H, 'final LayerNorm');
});

test('activation memory counts saved tensors, attention probabilities B·A·S² included', () => {
  const [H, I, V, A, B, S, M] = [768, 3072, 30522, 12, 4, 128, 20];
  const T = B * S;
  const bert = computeCost(preset('bert-base'), { batchSize: B, sequenceLength: S, maskedPerSequence: M });
  const [attention, ffn] = bert.layers[0]!.modules;
  // Branch 2H + 2 (+H dropout mask); q, k, v, context 4H; probabilities and dropped probabilities 2·A·S.
  assert.equal(attention!.activationBytes, 4 * (T * (7 * H + 2) + 2 * B * A * S * S));
  assert.equal(ffn!.activationBytes, 4 * T * (3 * H + 2 + 2 * I));
  assert.equal(bert.embeddings.activationBytes, 4 * T * (2 * H + 2));
  assert.equal(bert.heads[0]!.activationBytes, 4 * B * M * (4 * H + 2 + V));

  const group = computeCost(preset('groupbert-base'), { batchSize: B, sequenceLength: S });
  const [conv, gffn, gAttention] = group.layers[0]!.modules;
  assert.equal(conv!.activationBytes, 4 * T * (8 * H + 4));
  assert.equal(gffn!.activationBytes, 4 * T * (3 * H + 2 + 2 * I));
  assert.equal(gAttention!.activationBytes, 4 * (T * (6 * H + 2) + B * A * S * S));
});

test('memory: float32 weights, gradients, two optimizer moments (AdamW and LAMB), plus activations', () => {
  for (const type of ['adamw', 'lamb'] as const) {
    const r = computeCost(resolveSpec({ version: 1, extends: 'groupbert-base', training: { optimizer: { type } } }));
    const P = r.totals.params;
    const act = allModules(r).reduce((s, m) => s + m.activationBytes, 0);
    assert.deepEqual(r.memory, { weightsBytes: 4 * P, gradientBytes: 4 * P, optimizerBytes: 8 * P, activationBytes: act, totalBytes: 16 * P + act });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Properties over random specs

/** Closed forms of one resolved module: parameters and forward matmul FLOPs per token. */
function closedForm(m: ResolvedModule, H: number, S: number): { params: number; flops: number } {
  switch (m.type) {
    case 'attention':
      return { params: 4 * H * H + (m.qkvBias ? 3 * H : 0) + (m.projectionBias ? H : 0) + 2 * H, flops: 8 * H * H + 4 * S * H };
    case 'conv': {
      const kgH = m.kernelSize * m.channelsPerGroup * H;
      return {
        params: (m.glu ? 2 * H * H + 2 * H : 0) + kgH + (m.bias ? H : 0) + (m.norm ? 2 * H : 0) + H * H + H + 2 * H,
        flops: (m.glu ? 4 * H * H : 0) + 2 * kgH + 2 * H * H,
      };
    }
    case 'gffn': {
      const I = m.intermediateSize;
      const mixer = m.mixer && m.groups > 1;
      return {
        params: H * I + I + (I * H) / m.groups + H + (mixer ? H * H + H : 0) + 2 * H,
        flops: 2 * H * I + (2 * I * H) / m.groups + (mixer ? 2 * H * H : 0),
      };
    }
    case 'ffn':
      return { params: 2 * H * m.intermediateSize + m.intermediateSize + 3 * H, flops: 4 * H * m.intermediateSize };
  }
}

const moduleArb: fc.Arbitrary<ModuleSpec> = fc.oneof(
  fc.record({ type: fc.constant('attention' as const), qkvBias: fc.boolean(), projectionBias: fc.boolean() }),
  fc.record({
    type: fc.constant('conv' as const),
    kernelSize: fc.integer({ min: 1, max: 9 }),
    channelsPerGroup: fc.constantFrom(1, 2, 4),
    glu: fc.boolean(),
    norm: fc.boolean(),
    bias: fc.boolean(),
    padding: fc.constantFrom('same' as const, 'causal' as const),
  }),
  fc.record({ type: fc.constant('gffn' as const), groups: fc.constantFrom(1, 2, 4), mixer: fc.boolean(), intermediateSize: fc.constantFrom(32, 64) }),
  fc.record({ type: fc.constant('ffn' as const), intermediateSize: fc.constantFrom(16, 48) }),
);

const specArb: fc.Arbitrary<SpecFile> = fc
  .record({
    headSize: fc.constantFrom(4, 8),
    heads: fc.integer({ min: 1, max: 4 }),
    layer: fc.array(moduleArb, { minLength: 1, maxLength: 5 }),
    override: fc.array(moduleArb, { minLength: 1, maxLength: 3 }),
    numLayers: fc.integer({ min: 1, max: 3 }),
    normPlacement: fc.constantFrom('pre' as const, 'post' as const),
    tokenTypes: fc.integer({ min: 0, max: 2 }),
    dropout: fc.constantFrom(0, 0.1),
    activation: fc.constantFrom('gelu' as const, 'gelu_tanh' as const, 'relu' as const, 'swish' as const),
    mlm: fc.boolean(),
    nsp: fc.boolean(),
    pooler: fc.boolean(),
    seq: fc.integer({ min: 8, max: 64 }),
    batch: fc.integer({ min: 1, max: 8 }),
  })
  .map((a) => ({
    version: 1 as const,
    model: {
      vocabSize: 100,
      maxPositions: 64,
      tokenTypes: a.tokenTypes,
      hiddenSize: a.headSize * a.heads,
      numHeads: a.heads,
      numLayers: a.numLayers,
      normPlacement: a.normPlacement,
      hiddenDropout: a.dropout,
      attentionDropout: a.dropout,
      activation: a.activation,
      heads: { mlm: a.mlm, nsp: a.nsp, pooler: a.pooler },
      layer: { modules: a.layer },
      layerOverrides: [{ layers: [0], modules: a.override }],
    },
    training: { sequenceLength: a.seq, batchSize: a.batch },
  }));

test('property: parameters and encoder FLOPs equal the closed forms, module by module', () => {
  fc.assert(
    fc.property(specArb, (file) => {
      const spec = resolveSpec(file);
      const m = spec.model;
      const H = m.hiddenSize;
      const S = spec.training.sequenceLength;
      const r = computeCost(spec);
      let encoderParams = 0;
      let encoderFlops = 0;
      spec.model.layers.forEach((layer, l) =>
        layer.modules.forEach((mod, i) => {
          const want = closedForm(mod, H, S);
          const got = r.layers[l]!.modules[i]!;
          assert.equal(got.params, want.params);
          assert.equal(got.forward.matmul, want.flops * r.tokensPerStep);
          encoderParams += want.params;
          encoderFlops += want.flops;
        }),
      );
      const embeddings = (m.vocabSize + m.maxPositions + m.tokenTypes) * H + 2 * H;
      const heads =
        (m.normPlacement === 'pre' ? 2 * H : 0) + (m.heads.mlm ? H * H + 3 * H + m.vocabSize : 0) + (m.heads.pooler ? H * H + H : 0) + (m.heads.nsp ? 2 * H + 2 : 0);
      assert.equal(r.totals.encoderParams, encoderParams);
      assert.equal(r.totals.params, embeddings + encoderParams + heads);
      assert.equal(r.totals.encoderForwardMatmulFlopsPerToken, encoderFlops);
    }),
    { numRuns: 150 },
  );
});

test('property: totals add up, backward matmul is 2× forward, and everything per step is linear in B', () => {
  fc.assert(
    fc.property(specArb, (file) => {
      const spec = resolveSpec(file);
      const r = computeCost(spec);
      const mods = allModules(r);
      const sum = (f: (m: ModuleCost) => number) => mods.reduce((s, m) => s + f(m), 0);
      for (const m of mods) assert.equal(m.backward.matmul, 2 * m.forward.matmul, m.name);
      for (const layer of r.layers) assert.equal(layer.params, layer.modules.reduce((s, m) => s + m.params, 0));
      assert.equal(r.totals.forward.matmul, sum((m) => m.forward.matmul));
      assert.equal(r.totals.forward.elementwise, sum((m) => m.forward.elementwise));
      assert.equal(r.totals.backward.elementwise, sum((m) => m.backward.elementwise));
      const t = r.totals;
      assert.equal(t.trainingFlopsPerStep, t.forward.matmul + t.forward.elementwise + t.backward.matmul + t.backward.elementwise);
      assert.equal(t.trainingFlopsPerToken, t.trainingFlopsPerStep / r.tokensPerStep);
      assert.equal(new Set(mods.map((m) => m.name)).size, mods.length, 'names are unique');

      const doubled = computeCost(spec, { batchSize: 2 * r.batchSize });
      assert.equal(doubled.totals.trainingFlopsPerStep, 2 * t.trainingFlopsPerStep);
      assert.equal(doubled.memory.activationBytes, 2 * r.memory.activationBytes);
      assert.equal(doubled.totals.params, t.params);
      assert.equal(doubled.totals.encoderForwardMatmulFlopsPerToken, t.encoderForwardMatmulFlopsPerToken);
    }),
    { numRuns: 150 },
  );
});
