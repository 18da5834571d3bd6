import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Optimizer, isNormOrBias, type OptimizerConfig } from '../../src/core/train/optimizer';

before(async () => {
  await tf.setBackend('cpu');
});

// ---------------------------------------------------------------------------------------------------------
// An independent reference, in plain JS numbers (float64), one scalar at a time.

interface RefVar {
  w: number[];
  m: number[];
  v: number[];
  excluded: boolean;
}

function refStep(vars: Record<string, RefVar>, grads: Record<string, number[]>, lr: number, t: number, c: OptimizerConfig): { gradNorm: number } {
  let sumSq = 0;
  for (const g of Object.values(grads)) for (const x of g) sumSq += x * x;
  const gradNorm = Math.sqrt(sumSq);
  const scale = c.gradientClipNorm > 0 && gradNorm > c.gradientClipNorm ? c.gradientClipNorm / gradNorm : 1;
  for (const [name, rv] of Object.entries(vars)) {
    const g = grads[name]!;
    const u: number[] = [];
    for (let i = 0; i < rv.w.length; i++) {
      const gi = g[i]! * scale;
      rv.m[i] = c.beta1 * rv.m[i]! + (1 - c.beta1) * gi;
      rv.v[i] = c.beta2 * rv.v[i]! + (1 - c.beta2) * gi * gi;
      const mHat = c.biasCorrection ? rv.m[i]! / (1 - c.beta1 ** t) : rv.m[i]!;
      const vHat = c.biasCorrection ? rv.v[i]! / (1 - c.beta2 ** t) : rv.v[i]!;
      u.push(mHat / (Math.sqrt(vHat) + c.epsilon) + (rv.excluded ? 0 : c.weightDecay * rv.w[i]!));
    }
    let ratio = 1;
    if (c.type === 'lamb' && !rv.excluded) {
      const wNorm = Math.hypot(...rv.w);
      const uNorm = Math.hypot(...u);
      ratio = wNorm > 0 && uNorm > 0 ? wNorm / uNorm : 1;
    }
    for (let i = 0; i < rv.w.length; i++) rv.w[i] = rv.w[i]! - lr * ratio * u[i]!;
  }
  return { gradNorm };
}

// ---------------------------------------------------------------------------------------------------------
// A tiny problem: named variables of a few shapes, gradients from a fixed formula.

const SHAPES: Record<string, number[]> = {
  'layer00/dense/kernel': [3, 2],
  'layer00/dense/bias': [2],
  'layer00/layer_norm/gamma': [2],
  'layer00/layer_norm/beta': [2],
  'layer01/conv/glu_gate/kernel': [4],
  'layer01/zero/kernel': [3], // starts at 0: LAMB's ‖w‖ = 0 → trust ratio 1
};

function initial(name: string, i: number): number {
  if (name === 'layer01/zero/kernel') return 0;
  return Math.sin(1 + i + name.length) * 0.5;
}

function gradient(name: string, i: number, step: number, magnitude: number): number {
  return magnitude * Math.cos(0.7 * i + 1.3 * step + name.length) + 0.01 * step;
}

function runBoth(config: OptimizerConfig, steps: number, magnitude: number) {
  const ref: Record<string, RefVar> = {};
  const vars: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const w = Array.from({ length: size }, (_, i) => Math.fround(initial(name, i)));
    ref[name] = { w: [...w], m: new Array(size).fill(0), v: new Array(size).fill(0), excluded: isNormOrBias(name) };
    vars[name] = tf.variable(tf.tensor(w, shape));
  }
  const opt = new Optimizer(vars, config);
  const norms: [number, number][] = [];
  for (let s = 0; s < steps; s++) {
    const lr = 0.01 * (s + 1);
    const gradsJs: Record<string, number[]> = {};
    const grads: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(SHAPES)) {
      gradsJs[name] = ref[name]!.w.map((_, i) => Math.fround(gradient(name, i, s, magnitude)));
      grads[name] = tf.tensor(gradsJs[name]!, shape);
    }
    const { gradNorm } = refStep(ref, gradsJs, lr, s + 1, config);
    const result = opt.applyGradients(grads, lr);
    tf.dispose(Object.values(grads));
    assert.equal(result.applied, true);
    norms.push([result.gradNorm, gradNorm]);
  }
  const out = { ref, got: Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, Array.from(v.dataSync())])), norms, opt, vars };
  return out;
}

function assertClose(actual: number, expected: number, what: string, rel = 2e-5, abs = 2e-6) {
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: ${actual} vs reference ${expected}`);
}

const BASE: OptimizerConfig = { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true, weightDecay: 0.01, gradientClipNorm: 0 };

for (const type of ['adamw', 'lamb'] as const) {
  for (const biasCorrection of [true, false]) {
    for (const clip of [0, 0.5]) {
      test(`${type}, bias correction ${biasCorrection ? 'on' : 'off'}, clipping ${clip ? `at ${clip}` : 'off'}: 4 steps match the scalar reference`, () => {
        const config = { ...BASE, type, biasCorrection, gradientClipNorm: clip, weightDecay: 0.1 };
        const { ref, got, norms, opt, vars } = runBoth(config, 4, 1);
        for (const [name, values] of Object.entries(got)) values.forEach((x, i) => assertClose(x, ref[name]!.w[i]!, `${name}[${i}]`));
        for (const [got, want] of norms) assertClose(got, want, 'pre-clip gradient norm', 1e-6, 1e-6);
        if (clip) assert.ok(norms.every(([n]) => n > clip), 'the clipping was active');
        assert.equal(opt.step, 4);
        opt.dispose();
        tf.dispose(Object.values(vars));
      });
    }
  }
}

test('decay exclusions: with zero gradients AdamW only shrinks what is not LayerNorm or bias', () => {
  const vars = {
    'l/dense/kernel': tf.variable(tf.tensor([1, -2], [2])),
    'l/dense/bias': tf.variable(tf.tensor([1, -2], [2])),
    'l/layer_norm/gamma': tf.variable(tf.tensor([1, 1], [2])),
    'l/layer_norm/beta': tf.variable(tf.tensor([0.5, 0.5], [2])),
  };
  const opt = new Optimizer(vars, { ...BASE, weightDecay: 0.1 });
  const zeros = Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, tf.zerosLike(v)]));
  opt.applyGradients(zeros, 0.5);
  assert.deepEqual(Array.from(vars['l/dense/kernel'].dataSync()), [Math.fround(1 - 0.05), Math.fround(-2 * 0.95)]);
  assert.deepEqual(Array.from(vars['l/dense/bias'].dataSync()), [1, -2]);
  assert.deepEqual(Array.from(vars['l/layer_norm/gamma'].dataSync()), [1, 1]);
  assert.deepEqual(Array.from(vars['l/layer_norm/beta'].dataSync()), [0.5, 0.5]);
  assert.equal(opt.decays('l/dense/kernel'), true);
  assert.equal(opt.decays('l/layer_norm/gamma'), false);
  opt.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(zeros)]);
});

test('LAMB trust ratio: ‖w‖/‖u‖ scales the step of a decayed tensor, not of an excluded one', () => {
  // One element each, β1 = β2 = 0, no decay, ε = 0: u = g/|g| = sign(g) = 1, so AdamW steps by lr and LAMB by lr·|w|.
  const config: OptimizerConfig = { ...BASE, type: 'lamb', beta1: 0, beta2: 0, epsilon: 0, biasCorrection: false, weightDecay: 0 };
  const vars = { 'a/kernel': tf.variable(tf.tensor([4], [1])), 'a/bias': tf.variable(tf.tensor([4], [1])) };
  const opt = new Optimizer(vars, config);
  const grads = { 'a/kernel': tf.tensor([3], [1]), 'a/bias': tf.tensor([3], [1]) };
  opt.applyGradients(grads, 0.1);
  assert.equal(vars['a/kernel'].dataSync()[0], Math.fround(4 - 0.1 * 4));
  assert.equal(vars['a/bias'].dataSync()[0], Math.fround(4 - 0.1));
  opt.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(grads)]);
});

test('isNormOrBias reads the last part of the name', () => {
  for (const name of ['layer03/attention/layer_norm/gamma', 'embeddings/layer_norm/beta', 'layer00/ffn/dense/bias', 'layer00/attention/qkv_bias', 'mlm/bias']) assert.ok(isNormOrBias(name), name);
  for (const name of ['layer03/conv/glu_gate/kernel', 'embeddings/word', 'layer00/bias_free/kernel', 'betas/kernel']) assert.ok(!isNormOrBias(name), name);
});

test('state export/import continues bit-identically, and a non-finite gradient skips the update', () => {
  const config: OptimizerConfig = { ...BASE, type: 'lamb', gradientClipNorm: 1 };
  const make = () => {
    const vars = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.variable(tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => initial(n, i)), shape))]));
    return { vars, opt: new Optimizer(vars, config) };
  };
  const step = (o: ReturnType<typeof make>, s: number) => {
    const grads = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => gradient(n, i, s, 2)), shape)]));
    o.opt.applyGradients(grads, 0.05);
    tf.dispose(Object.values(grads));
  };
  const a = make();
  for (let s = 0; s < 3; s++) step(a, s);
  const saved = a.opt.exportState();
  const savedWeights = Object.fromEntries(Object.entries(a.vars).map(([n, v]) => [n, v.dataSync().slice()]));
  const b = make();
  for (const [n, w] of Object.entries(savedWeights)) b.vars[n]!.assign(tf.tensor(w, SHAPES[n]));
  b.opt.importState(saved);
  assert.equal(b.opt.step, 3);
  for (let s = 3; s < 6; s++) {
    step(a, s);
    step(b, s);
  }
  for (const n of Object.keys(SHAPES)) assert.deepEqual(b.vars[n]!.dataSync(), a.vars[n]!.dataSync(), n);

  const before = Object.fromEntries(Object.entries(a.vars).map(([n, v]) => [n, v.dataSync().slice()]));
  const nanGrads = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.fill(shape, n.endsWith('gamma') ? NaN : 1)]));
  const result = a.opt.applyGradients(nanGrads, 0.05);
  tf.dispose(Object.values(nanGrads));
  assert.equal(result.applied, false);
  assert.ok(Number.isNaN(result.gradNorm));
  assert.equal(a.opt.step, 6);
  for (const n of Object.keys(SHAPES)) assert.deepEqual(a.vars[n]!.dataSync(), before[n], n);

  assert.throws(() => b.opt.importState({ ...saved, type: 'adamw' }), /is for lamb|adamw/);
  const { ['m/layer00/dense/bias']: _dropped, ...missing } = saved.tensors;
  assert.throws(() => b.opt.importState({ ...saved, tensors: missing }), /no m\/layer00\/dense\/bias/);
  for (const o of [a, b]) {
    o.opt.dispose();
    tf.dispose(Object.values(o.vars));
  }
});

test('an update allocates nothing that outlives it', () => {
  const vars = { 'x/kernel': tf.variable(tf.ones([8, 8])), 'x/bias': tf.variable(tf.zeros([8])) };
  const opt = new Optimizer(vars, { ...BASE, type: 'lamb', gradientClipNorm: 1 });
  const grads = { 'x/kernel': tf.ones([8, 8]), 'x/bias': tf.ones([8]) };
  opt.applyGradients(grads, 0.1);
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.applyGradients(grads, 0.1);
  assert.equal(tf.memory().numTensors, tensors);
  opt.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(grads)]);
});

test('gradient scale: applyGradients(g, lr, 0.5) = applyGradients(0.5·g, lr), clipping on and off; bad scales throw', () => {
  const relClose = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(b), 1e-6), `${what}: ${a} vs ${b}`);
  for (const [type, clip] of [['adamw', 0], ['adamw', 0.5], ['lamb', 0.5]] as const) {
    const config: OptimizerConfig = { ...BASE, type, gradientClipNorm: clip, weightDecay: 0.1 };
    const make = () => {
      const vars = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.variable(tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => initial(n, i)), shape))]));
      return { vars, opt: new Optimizer(vars, config) };
    };
    const scaled = make();
    const folded = make();
    for (let s = 0; s < 3; s++) {
      const raw = Object.fromEntries(Object.entries(SHAPES).map(([n, shape]) => [n, tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => gradient(n, i, s, 2)), shape)]));
      const halved = Object.fromEntries(Object.entries(raw).map(([n, g]) => [n, tf.mul(g, 0.5)]));
      const a = folded.opt.applyGradients(raw, 0.05, 0.5);
      const b = scaled.opt.applyGradients(halved, 0.05);
      tf.dispose([...Object.values(raw), ...Object.values(halved)]);
      assert.equal(a.applied, true);
      relClose(a.gradNorm, b.gradNorm, `${type} clip ${clip} step ${s}: gradient norm`);
      relClose(a.clipScale, b.clipScale, `${type} clip ${clip} step ${s}: clip scale`);
      if (clip) assert.ok(a.gradNorm > clip && a.clipScale < 1, 'the clipping was active');
      else assert.equal(a.clipScale, 1);
    }
    const sa = folded.opt.exportState();
    const sb = scaled.opt.exportState();
    assert.deepEqual(Object.keys(sa.tensors).sort(), Object.keys(sb.tensors).sort());
    const check = (x: ArrayLike<number>, y: ArrayLike<number>, what: string) => {
      assert.equal(x.length, y.length, what);
      let scale = 0;
      for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]!));
      for (let i = 0; i < y.length; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= 1e-6 * Math.max(scale, 1e-6), `${what}[${i}]: ${x[i]} vs ${y[i]}`);
    };
    for (const [k, t] of Object.entries(sa.tensors)) check(t.data, sb.tensors[k]!.data, `${type} clip ${clip}: ${k}`);
    for (const n of Object.keys(SHAPES)) check(folded.vars[n]!.dataSync(), scaled.vars[n]!.dataSync(), `${type} clip ${clip}: ${n}`);
    assert.ok(Object.keys(sa.tensors).some((k) => k.startsWith('m/')), 'the moments were compared');
    const ones = Object.fromEntries(Object.entries(SHAPES).map(([n, sh]) => [n, tf.ones(sh)]));
    for (const bad of [0, -1, NaN]) assert.throws(() => folded.opt.applyGradients(ones, 0.05, bad), RangeError, `scale ${bad}`);
    tf.dispose(Object.values(ones));
    for (const o of [scaled, folded]) {
      o.opt.dispose();
      tf.dispose(Object.values(o.vars));
    }
  }
});
