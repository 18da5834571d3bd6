/**
 * The model's parameters against the cost model: for every preset and for modified specs (no conv bias, GLU off,
 * causal conv, GFFN groups 2 without mixer, per-layer overrides, other heads and norms) the parameter table
 * (`parameterShapes`, no allocation) agrees with `computeCost` in total and module by module; real tiny models
 * allocate exactly those shapes; and the initialisers follow groupbert.md §10.8.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { computeCost } from '../../src/core/cost';
import { buildModel, countParameters, initialValues, ModelSpecError, parameterShapes, sizeOfShape, type ParamSpec } from '../../src/core/model';
import { PRESET_NAMES, resolveSpec, type ResolvedSpec, type SpecFile } from '../../src/core/spec';

before(async () => {
  await tf.setBackend('cpu');
});

const GROUPBERT_LAYER = [{ type: 'conv' }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] as const;

/** Spec variants on top of a preset (model section only). */
const VARIANTS: Record<string, SpecFile['model']> = {
  'conv without bias': { layer: { modules: [{ type: 'conv', bias: false }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } },
  'conv without GLU': { layer: { modules: [{ type: 'conv', glu: false }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] } },
  'conv without inner norm, causal, kernel 4, depthwise': {
    layer: { modules: [{ type: 'conv', norm: false, padding: 'causal', kernelSize: 4, channelsPerGroup: 1 }, { type: 'gffn' }, { type: 'attention' }, { type: 'gffn' }] },
  },
  'gffn groups 2 without mixer': { layer: { modules: [{ type: 'conv' }, { type: 'gffn', groups: 2, mixer: false }, { type: 'attention' }, { type: 'gffn', groups: 2, mixer: false }] } },
  'gffn groups 1 (mixer asked for, not built)': { layer: { modules: [{ type: 'conv' }, { type: 'gffn', groups: 1, mixer: true }, { type: 'attention' }] } },
  'attention without biases': { layer: { modules: [{ type: 'attention', qkvBias: false, projectionBias: false }, { type: 'ffn', intermediateSize: 96 }] } },
  'per-layer overrides': {
    layer: { modules: [...GROUPBERT_LAYER] },
    layerOverrides: [
      { layers: '0', modules: [{ type: 'attention' }, { type: 'ffn' }] },
      { layers: [1], modules: [{ type: 'conv', kernelSize: 3, channelsPerGroup: 8, bias: false }, { type: 'gffn', groups: 8 }, { type: 'attention', heads: 1, qkvBias: false }] },
    ],
  },
  'post-norm GroupBERT, no token types, MLM only': { normPlacement: 'post', tokenTypes: 0, heads: { mlm: true, nsp: false, pooler: false } },
  'pre-norm BERT with NSP but no pooler': { normPlacement: 'pre', layer: { modules: [{ type: 'attention' }, { type: 'ffn' }] }, heads: { mlm: true, nsp: true, pooler: false } },
  'two convs and two attentions in a layer': { layer: { modules: [{ type: 'conv' }, { type: 'attention' }, { type: 'conv', kernelSize: 3 }, { type: 'attention' }, { type: 'ffn' }] } },
};

function spec(extendsName: string, model: SpecFile['model'] = {}): ResolvedSpec {
  return resolveSpec({ version: 1, extends: extendsName, model } as SpecFile);
}

/** Parameters per cost-model module name. */
function byModule(shapes: readonly ParamSpec[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of shapes) out.set(p.module, (out.get(p.module) ?? 0) + sizeOfShape(p.shape));
  return out;
}

function costByModule(s: ResolvedSpec): Map<string, number> {
  const cost = computeCost(s);
  const out = new Map<string, number>([[cost.embeddings.name, cost.embeddings.params]]);
  for (const layer of cost.layers) for (const m of layer.modules) out.set(m.name, m.params);
  for (const h of cost.heads) out.set(h.name, h.params);
  return out;
}

function assertAgrees(s: ResolvedSpec, label: string): void {
  const shapes = parameterShapes(s.model);
  assert.equal(countParameters(shapes), computeCost(s).totals.params, `${label}: total parameters`);
  assert.deepEqual([...byModule(shapes)].sort(), [...costByModule(s)].sort(), `${label}: parameters per module`);
  assert.equal(new Set(shapes.map((p) => p.name)).size, shapes.length, `${label}: names are unique`);
}

describe('model parameters = cost model parameters', () => {
  it('every preset, in total and per module (no allocation)', () => {
    for (const name of PRESET_NAMES) assertAgrees(spec(name), name);
    // groupbert.md §6.2's cross-check: GroupBERT-Base in the PyTorch layout has 160,842,044 parameters.
    assert.equal(countParameters(parameterShapes(spec('groupbert-base').model)), 160_842_044);
  });

  it('modified specs on GroupBERT-Base and BERT-Base', () => {
    for (const [label, model] of Object.entries(VARIANTS)) {
      assertAgrees(spec('groupbert-base', model), `groupbert-base, ${label}`);
      assertAgrees(spec('bert-base', model), `bert-base, ${label}`);
    }
  });

  it('names say where weights live', () => {
    const names = parameterShapes(spec('groupbert-base').model).map((p) => p.name);
    for (const n of [
      'embeddings/word',
      'embeddings/position',
      'embeddings/token_type',
      'embeddings/norm/gamma',
      'layer03/conv/glu_gate/kernel',
      'layer03/conv/glu_value/bias',
      'layer03/conv/grouped/kernel',
      'layer03/conv/inner_norm/beta',
      'layer03/conv/norm/gamma',
      'layer03/gffn1/down/kernel',
      'layer03/gffn2/mixer/kernel',
      'layer03/attention/query/kernel',
      'layer11/attention/output/bias',
      'final_norm/gamma',
      'mlm/transform/kernel',
      'mlm/transform/norm/gamma',
      'mlm/bias',
      'pooler/kernel',
      'nsp/kernel',
    ]) {
      assert.ok(names.includes(n), n);
    }
    assert.ok(!names.some((n) => n.startsWith('mlm/decoder')), 'the decoder is tied to embeddings/word');
    const shapes = new Map(parameterShapes(spec('groupbert-base').model).map((p) => [p.name, p.shape]));
    assert.deepEqual(shapes.get('layer00/conv/grouped/kernel'), [48, 7 * 16, 16]);
    assert.deepEqual(shapes.get('layer00/gffn1/down/kernel'), [4, 768, 192]);
  });

  it('refuses sizes that do not divide, with the module named', () => {
    assert.throws(() => parameterShapes(spec('groupbert-tiny', { hiddenSize: 120 }).model), (e: unknown) => e instanceof ModelSpecError && /layer00\/conv.*channelsPerGroup 16/.test(e.message));
    assert.throws(() => parameterShapes(spec('bert-tiny', { hiddenSize: 128, numHeads: 3 }).model), /layer00\/attention: hidden size 128 is not divisible by 3 heads/);
    assert.throws(() => parameterShapes(spec('bert-tiny', { heads: { mlm: false, nsp: false, pooler: true } }).model), /nothing to train/);
  });
});

const TINY: SpecFile['model'] = { vocabSize: 50, maxPositions: 24, hiddenSize: 32, numHeads: 2, numLayers: 2, intermediateSize: 64 };

describe('built tiny models allocate exactly the table', () => {
  it('variables have the table shapes, and their total is the cost model count', () => {
    const variants: [string, SpecFile['model']][] = [
      ['bert', {}],
      ['groupbert', {}],
      ...Object.entries(VARIANTS).map(([label, m]): [string, SpecFile['model']] => [label, m]),
    ];
    for (const [label, variant] of variants) {
      const base = label === 'bert' ? 'bert-tiny' : 'groupbert-tiny';
      const overrides = variant?.layerOverrides?.map((o) => ({ ...o, modules: o.modules.map((m) => (m.type === 'conv' ? { ...m, channelsPerGroup: Math.min(m.channelsPerGroup ?? 16, 8) } : m)) }));
      const s = spec(base, { ...variant, ...TINY, ...(overrides ? { layerOverrides: overrides } : {}) });
      const model = buildModel(s, { seed: 5 });
      try {
        const shapes = parameterShapes(s.model);
        assert.equal(model.variables.size, shapes.length, `${label}: variable count`);
        for (const p of shapes) assert.deepEqual(model.variables.get(p.name)?.shape, p.shape, `${label}: ${p.name}`);
        let actual = 0;
        for (const v of model.variables.values()) actual += v.size;
        assert.equal(actual, computeCost(s).totals.params, `${label}: allocated parameters`);
        assert.equal(model.parameterCount(), actual);
      } finally {
        model.dispose();
      }
    }
  });

  it('initialisers: truncated normal ±2σ, zero biases, LN 1/0, trunc-normal grouped-projection bias, Glorot conv kernel', () => {
    const s = spec('groupbert-tiny', { ...TINY, initializerRange: 0.05 });
    const model = buildModel(s, { seed: 11 });
    const values = (name: string) => model.variables.get(name)!.dataSync() as Float32Array;
    const stats = (a: Float32Array) => {
      let sum = 0;
      let sq = 0;
      let maxAbs = 0;
      for (const v of a) {
        sum += v;
        sq += v * v;
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      const mean = sum / a.length;
      return { mean, std: Math.sqrt(sq / a.length - mean * mean), maxAbs };
    };
    try {
      for (const name of ['embeddings/word', 'layer00/attention/query/kernel', 'layer01/gffn1/up/kernel', 'mlm/transform/kernel', 'nsp/kernel']) {
        const st = stats(values(name));
        assert.ok(st.maxAbs <= 2 * 0.05 + 1e-7, `${name}: within ±2σ (${st.maxAbs})`);
        if (values(name).length > 1000) assert.ok(Math.abs(st.std - 0.0440) < 0.004, `${name}: std of N(0, σ²) cut at 2σ is 0.88σ (${st.std})`);
      }
      const downBias = stats(values('layer00/gffn1/down/bias'));
      assert.ok(downBias.maxAbs > 0 && downBias.maxAbs <= 0.1, 'the grouped down-projection bias is trunc-normal');
      for (const name of ['layer00/gffn1/up/bias', 'layer00/conv/glu_gate/bias', 'layer00/conv/grouped/bias', 'mlm/bias', 'embeddings/norm/beta', 'final_norm/beta']) {
        assert.equal(stats(values(name)).maxAbs, 0, `${name} starts at 0`);
      }
      for (const name of ['embeddings/norm/gamma', 'layer00/conv/inner_norm/gamma', 'layer01/attention/norm/gamma', 'mlm/transform/norm/gamma']) {
        assert.ok(values(name).every((v) => v === 1), `${name} starts at 1`);
      }
      // Conv kernel [k, g, H] = [7, 16, 32] in the reference: fan_in 112, fan_out 224 → limit √(6/336).
      const limit = Math.sqrt(6 / (7 * 16 + 7 * 32));
      const conv = stats(values('layer00/conv/grouped/kernel'));
      assert.ok(conv.maxAbs <= limit && conv.maxAbs > 0.9 * limit, `conv kernel within the Glorot limit ${limit} (${conv.maxAbs})`);
      assert.ok(Math.abs(conv.std - limit / Math.sqrt(3)) < 0.1 * limit, 'uniform std = limit/√3');
    } finally {
      model.dispose();
    }
  });

  it('initial values depend only on (seed, name)', () => {
    const p: ParamSpec = { name: 'layer00/attention/query/kernel', shape: [4, 4], init: { kind: 'truncatedNormal', std: 0.02 }, module: 'layer00/attention' };
    assert.deepEqual(initialValues(p, 1), initialValues(p, 1));
    assert.notDeepEqual(initialValues(p, 1), initialValues(p, 2));
    assert.notDeepEqual(initialValues(p, 1), initialValues({ ...p, name: 'layer00/attention/key/kernel' }, 1));
    // Two models from one seed are identical, and adding a layer does not change the others' values.
    const a = buildModel(spec('groupbert-tiny', TINY), { seed: 3 });
    const b = buildModel(spec('groupbert-tiny', { ...TINY, numLayers: 3 }), { seed: 3 });
    try {
      for (const [name, v] of a.variables) assert.deepEqual(v.dataSync(), b.variables.get(name)!.dataSync(), name);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
