/**
 * Gradients of every model module against central finite differences (core/ops `gradCheck`: a fixed random
 * projection of the output, random directions and single coordinates), on a tiny model, cpu backend, float32,
 * with padding in the batch: each module branch on its own, a pre-norm GroupBERT layer and a post-norm BERT
 * layer with their norms and residuals, attention with a dropout mask, and the whole pretraining loss with
 * respect to the embeddings, layers and heads (MLM gather + tied decoder, pooler, NSP).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  Dropout,
  applyModule,
  attentionCoreDropout,
  encoderLayer,
  initialValues,
  lossOf,
  moduleParameterShapes,
  modulePrefixes,
  paramsOf,
  parameterShapes,
  type ForwardContext,
  type ModelInputs,
  type ParamSpec,
} from '../../src/core/model';
import { attention, gradCheck, normals, randn, seededRandom } from '../../src/core/ops';
import { resolveSpec, type ResolvedModel, type ResolvedModule, type SpecFile } from '../../src/core/spec';

before(async () => {
  await tf.setBackend('cpu');
});

const TOL = 2e-2;
const [B, S, H] = [2, 6, 16];
/** Row 1 has two padded positions. */
const MASK = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];

function model(overrides: SpecFile['model'], base = 'groupbert-tiny'): ResolvedModel {
  return resolveSpec({
    version: 1,
    extends: base,
    model: { vocabSize: 20, maxPositions: 8, hiddenSize: H, numHeads: 2, numLayers: 2, intermediateSize: 32, initializerRange: 0.3, hiddenDropout: 0, attentionDropout: 0, ...overrides },
  } as SpecFile).model;
}

/** Parameter values: the initialiser's plus noise, so γ, β and biases are not at their special 1/0 values. */
function paramTensors(shapes: readonly ParamSpec[], seed: number): tf.Tensor[] {
  return shapes.map((p, i) => {
    const base = initialValues(p, seed);
    const noise = normals(base.length, seededRandom(seed * 1000 + i), 0.2);
    return tf.tensor(base.map((v, j) => v + noise[j]!), p.shape);
  });
}

function context(m: ResolvedModel, names: string[], values: tf.Tensor[]): ForwardContext {
  return {
    model: m,
    params: paramsOf(new Map(names.map((n, i) => [n, values[i]!]))),
    training: false,
    dropout: new Dropout(false, 0),
    tokenMask: tf.tensor2d(MASK, [B, S]),
  };
}

/**
 * Random directions move every element of an input at once (‖u‖ ≈ √n), so they need a small step (h = 1e-3)
 * against the O(h²·‖u‖³) truncation error; single coordinates need a larger one (h = 1e-2) against float32
 * rounding of L(x ± h·u), which divided by 2h grows as h shrinks. (Measured on the GroupBERT layer and the loss:
 * directions converge as h goes 3e-2 → 1e-3, coordinates are best at 1e-2 … 3e-3.)
 */
type CheckOptions = Omit<NonNullable<Parameters<typeof gradCheck>[2]>, 'h'> & { coordinateStep?: number };

function check(label: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], opts: CheckOptions = {}): void {
  const { coordinateStep = 1e-2, ...rest } = opts;
  const base = { directions: 2, coordinates: 3, seed: 99, ...rest };
  const entries = [
    ...(base.directions > 0 ? gradCheck(f, inputs, { ...base, coordinates: 0, h: 1e-3 }).entries : []),
    ...(base.coordinates > 0 ? gradCheck(f, inputs, { ...base, directions: 0, h: coordinateStep }).entries : []),
  ];
  const r = { entries };
  // A random direction's derivative is N(0, ‖g‖²): now and then one lands near 0, where the same absolute rounding
  // error is a large relative one. Judge directions against the typical size of that input's directional derivatives.
  const typical = new Map<number, number>();
  for (const e of r.entries) if (e.kind === 'direction') typical.set(e.input, Math.max(typical.get(e.input) ?? 0, Math.abs(e.analytic)));
  let worst = r.entries[0]!;
  let worstErr = 0;
  for (const e of r.entries) {
    const err = e.kind === 'direction' ? Math.abs(e.analytic - e.numeric) / Math.max(Math.abs(e.analytic), Math.abs(e.numeric), 0.1 * (typical.get(e.input) ?? 0), 1e-6) : e.relError;
    if (err > worstErr) [worst, worstErr] = [e, err];
  }
  const w = worst;
  assert.ok(worstErr < TOL, `${label}: worst relative error ${worstErr.toExponential(2)} at input ${w.input} (${w.kind}${w.index !== undefined ? ` ${w.index}` : ''}): analytic ${w.analytic}, numeric ${w.numeric}`);
}

/**
 * The inputs to check: all but the key bias, whose gradient is exactly 0 (softmax ignores a shift of every score
 * of a query by q·b_k), so finite differences only measure rounding there; `keyBiasIsInert` checks that instead.
 */
function checkable(names: string[], offset: number): number[] {
  return [...Array(offset).keys(), ...names.map((n, i) => (n.endsWith('/key/bias') ? -1 : i + offset)).filter((i) => i >= 0)];
}

/** The key bias does not change the output. */
function keyBiasIsInert(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], names: string[], offset: number): void {
  const i = names.findIndex((n) => n.endsWith('/key/bias'));
  if (i < 0) return;
  const moved = inputs.map((t, j) => (j === i + offset ? tf.add(t, 1) : t));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(f(...inputs), f(...moved)))).dataSync()[0]!);
  assert.ok(diff < 1e-4, `shifting the key bias changes nothing (${diff})`);
  moved[i + offset]!.dispose();
}

/** Checks one module branch with respect to its input and every one of its parameters (norm excluded). */
function checkModule(label: string, m: ResolvedModel, mod: ResolvedModule, opts: CheckOptions = {}): void {
  const prefix = `layer00/${mod.type}`;
  const shapes = moduleParameterShapes(prefix, mod, m).filter((p) => !p.name.endsWith('/norm/gamma') && !p.name.endsWith('/norm/beta'));
  const names = shapes.map((p) => p.name);
  const x = randn([B, S, H], 7);
  const values = paramTensors(shapes, 3);
  const f = (xi: tf.Tensor, ...ps: tf.Tensor[]) => applyModule(context(m, names, ps), prefix, mod, xi as tf.Tensor3D, { layer: 0, module: mod.type });
  check(label, f as (...xs: tf.Tensor[]) => tf.Tensor, [x, ...values], { wrt: checkable(names, 1), ...opts });
  keyBiasIsInert(f as (...xs: tf.Tensor[]) => tf.Tensor, [x, ...values], names, 1);
  tf.dispose([x, ...values]);
}

describe('module gradients = finite differences', () => {
  it('conv module: GLU, bias, inner norm, same padding, padded positions', () => {
    const m = model({});
    checkModule('conv', m, { type: 'conv', kernelSize: 3, channelsPerGroup: 4, glu: true, norm: true, bias: true, padding: 'same' });
  });

  it('conv module variants: causal, no GLU, no bias, no inner norm, even kernel', () => {
    const m = model({});
    checkModule('conv causal', m, { type: 'conv', kernelSize: 3, channelsPerGroup: 4, glu: true, norm: true, bias: true, padding: 'causal' });
    checkModule('conv plain', m, { type: 'conv', kernelSize: 4, channelsPerGroup: 8, glu: false, norm: false, bias: false, padding: 'same' });
  });

  it('gffn: groups 2 with mixer, groups 4 without, and groups 1', () => {
    const m = model({});
    checkModule('gffn G2 mixer', m, { type: 'gffn', groups: 2, mixer: true, intermediateSize: 32 });
    checkModule('gffn G4 no mixer', m, { type: 'gffn', groups: 4, mixer: false, intermediateSize: 32 });
    checkModule('gffn G1', m, { type: 'gffn', groups: 1, mixer: true, intermediateSize: 24 });
  });

  it('ffn with each activation', () => {
    for (const activation of ['gelu', 'gelu_tanh', 'swish'] as const) {
      checkModule(`ffn ${activation}`, model({ activation }, 'bert-tiny'), { type: 'ffn', intermediateSize: 32 });
    }
    // ReLU has a kink: random directions move every pre-activation and some cross 0; single coordinates with a
    // small step rarely do.
    checkModule('ffn relu', model({ activation: 'relu' }, 'bert-tiny'), { type: 'ffn', intermediateSize: 32 }, { directions: 0, coordinates: 6, coordinateStep: 1e-3 });
  });

  it('attention with a key mask, with and without biases', () => {
    const m = model({});
    checkModule('attention', m, { type: 'attention', heads: 2, qkvBias: true, projectionBias: true });
    checkModule('attention no bias, 4 heads', m, { type: 'attention', heads: 4, qkvBias: false, projectionBias: false });
  });

  it('attention core with a dropout keep mask', () => {
    const q = randn([B, S, H], 1) as tf.Tensor3D;
    const k = randn([B, S, H], 2) as tf.Tensor3D;
    const v = randn([B, S, H], 3) as tf.Tensor3D;
    const mask = tf.tensor2d(MASK, [B, S]);
    const keep = new Dropout(true, 5).keepMask([B, 2, S, S], 0.3)!;
    const kept = keep.dataSync();
    assert.ok(kept.some((x) => x === 0) && kept.some((x) => Math.abs(x - 1 / 0.7) < 1e-6), 'the mask drops some and scales the rest');
    check('attention dropout core', (a, b, c) => attentionCoreDropout(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, mask, 2, keep), [q, k, v]);
    // With a keep mask of ones it is the plain core.
    const ones = tf.ones([B, 2, S, S]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(attentionCoreDropout(q, k, v, mask, 2, ones), attention(q, k, v, mask, 2)))).dataSync()[0]!);
    assert.ok(diff < 1e-5, `keep = 1 matches core/ops attention (${diff})`);
    tf.dispose([q, k, v, mask, keep, ones]);
  });
});

describe('layer and model gradients = finite differences', () => {
  function checkLayer(label: string, m: ResolvedModel): void {
    const layer = m.layers[0]!;
    const prefixes = modulePrefixes(layer, m.numLayers);
    const shapes = layer.modules.flatMap((mod, i) => moduleParameterShapes(prefixes[i]!, mod, m));
    const names = shapes.map((p) => p.name);
    const x = randn([B, S, H], 8);
    const values = paramTensors(shapes, 4);
    const f = (xi: tf.Tensor, ...ps: tf.Tensor[]) => encoderLayer(context(m, names, ps), layer, xi as tf.Tensor3D);
    check(label, f as (...xs: tf.Tensor[]) => tf.Tensor, [x, ...values], { wrt: checkable(names, 1), directions: 1, coordinates: 2 });
    keyBiasIsInert(f as (...xs: tf.Tensor[]) => tf.Tensor, [x, ...values], names, 1);
    tf.dispose([x, ...values]);
  }

  it('a pre-norm GroupBERT layer (conv, gffn, attention, gffn) with norms and residuals', () => {
    checkLayer('GroupBERT layer', model({ layer: { modules: [{ type: 'conv', kernelSize: 3, channelsPerGroup: 4 }, { type: 'gffn', groups: 2 }, { type: 'attention' }, { type: 'gffn', groups: 2 }] } }));
  });

  it('a post-norm BERT layer', () => {
    checkLayer('BERT layer', model({}, 'bert-tiny'));
  });

  it('the pretraining loss (MLM at masked positions, tied decoder, pooler, NSP) w.r.t. embeddings, layers and heads', () => {
    for (const base of ['groupbert-tiny', 'bert-tiny']) {
      const m = model(base === 'groupbert-tiny' ? { layer: { modules: [{ type: 'conv', kernelSize: 3, channelsPerGroup: 4 }, { type: 'gffn', groups: 2 }, { type: 'attention' }] } } : {}, base);
      const shapes = parameterShapes(m);
      const names = shapes.map((p) => p.name);
      const values = paramTensors(shapes, 5);
      const P = 3;
      const inputs: ModelInputs = {
        inputIds: tf.tensor2d([2, 5, 7, 4, 9, 3, 2, 8, 8, 3, 0, 0], [B, S], 'int32'),
        tokenTypeIds: tf.tensor2d([0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0], [B, S], 'int32'),
        attentionMask: tf.tensor2d(MASK, [B, S], 'int32'),
        maskedPositions: tf.tensor2d([1, 4, 4, 2, 3, 0], [B, P], 'int32'), // a repeated position, and a padded prediction
        maskedLabels: tf.tensor2d([6, 11, 11, 5, 19, 0], [B, P], 'int32'),
        maskedWeights: tf.tensor2d([1, 1, 1, 1, 1, 0], [B, P], 'float32'),
        nspLabels: tf.tensor1d([0, 1], 'int32'),
      };
      const wanted = [
        'embeddings/word',
        'embeddings/position',
        'embeddings/token_type',
        'embeddings/norm/gamma',
        `layer00/${m.layers[0]!.modules[0]!.type}/norm/beta`,
        'layer01/attention/key/kernel',
        'layer01/attention/value/bias',
        'mlm/transform/kernel',
        'mlm/transform/norm/gamma',
        'mlm/bias',
        'pooler/kernel',
        'nsp/kernel',
        'nsp/bias',
        ...(base === 'groupbert-tiny' ? ['layer00/conv/grouped/kernel', 'layer01/gffn/down/kernel', 'final_norm/gamma'] : ['layer01/ffn/up/kernel']),
      ];
      const wrt = wanted.map((n) => {
        const i = names.indexOf(n);
        assert.ok(i >= 0, `${base} has ${n}`);
        return i;
      });
      check(`${base} loss`, (...ps) => lossOf(m, paramsOf(new Map(names.map((n, i) => [n, ps[i]!]))), inputs).loss, values, { wrt, directions: 2, coordinates: 3 });
      tf.dispose([...values, ...Object.values(inputs)]);
    }
  });
});
