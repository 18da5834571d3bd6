/**
 * The PyTorch model and optimizer (python/convbert_torch) against the TF.js ones, in fp32 (TF.js on wasm, one thread):
 * the same initial weights (TF.js `buildModel`'s, written as safetensors), the same batches (with padding and
 * padded predictions), dropout off. For BERT-tiny, GroupBERT-tiny, a GroupBERT variant with causal convolutions
 * (even kernel, tanh-GELU, no GFFN mixer) and a model of the rarer options (see `exotic`):
 *
 * - the parameter names, shapes and order equal TF.js's (a wrong name map fails here first), and PyTorch's own
 *   initial weights (build_model's, from a seed) follow the same initialisers;
 * - the loss parts, the MLM logits at the masked positions and the attention probabilities (probes) agree within
 *   1e-5 (relative);
 * - every parameter's gradient agrees within 1e-4 (norm-wise relative; the attention key bias, whose exact
 *   gradient is 0 since softmax ignores a per-query shift, within 1e-6 of the global gradient norm), also when
 *   PyTorch computes it in two row
 *   chunks that divide by the whole batch's counts (`mlm_denominator` / `nsp_denominator`, what ranks do);
 * - 10 optimizer steps (AdamW and LAMB, clipping on, a warm-up schedule) give losses within 1e-4 per step.
 *
 * Skipped, with the reason printed, where no Python with torch is found (`findTorchPython`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../../src/core/batch';
import { buildModel, type Initializer, type Model } from '../../src/core/model';
import { resolveSpec, type ResolvedSpec, type SpecFile } from '../../src/core/spec';
import { Optimizer, optimizerConfigFromSpec } from '../../src/core/train/optimizer';
import { learningRateAt } from '../../src/core/train/schedule';
import { toHostTensor, type HostTensor, type HostTensorMap } from '../../src/core/train/tensors';
import { loadBackend } from '../../src/engines/tfjs/backends';
import { findTorchPython, workerEnv } from '../../src/engines/torch/python';
import { decodeSafetensors, encodeSafetensors } from '../../src/run-format/safetensors';
import { CAUSAL_GROUPBERT, EXOTIC } from '../model-variants';

const V = 64;
const S = 16;
const P = 4;
const B = 4;
const STEPS = 10;

const CASES: Record<string, SpecFile> = {
  'bert-tiny': { version: 1, extends: 'bert-tiny', model: { vocabSize: V, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0 } },
  'groupbert-tiny': { version: 1, extends: 'groupbert-tiny', model: { vocabSize: V, maxPositions: 32 } },
  'groupbert-tiny causal': { version: 1, extends: CAUSAL_GROUPBERT.extends, model: { vocabSize: V, maxPositions: 32, ...CAUSAL_GROUPBERT.model } },
  // The rarer branches (test/model-variants.ts).
  exotic: { version: 1, extends: EXOTIC.extends, model: { vocabSize: V, maxPositions: 32, ...EXOTIC.model } },
};

function specOf(file: SpecFile, optimizer: 'adamw' | 'lamb'): ResolvedSpec {
  return resolveSpec({
    ...file,
    training: {
      sequenceLength: S,
      maxPredictions: P,
      batchSize: B,
      steps: STEPS,
      optimizer: { type: optimizer, beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true },
      learningRate: { peak: 2e-3, warmupSteps: 3, decay: 'linear' },
      weightDecay: 0.01,
      gradientClipNorm: 0.5,
    },
  } as SpecFile);
}

/** A batch with padding: real lengths 16, 11, 6, 13; row 2 has two padded predictions. `k` varies the tokens. */
function makeBatch(k: number): Batch {
  const lengths = [16, 11, 6, 13];
  const inputIds = new Int32Array(B * S);
  const tokenTypeIds = new Int32Array(B * S);
  const attentionMask = new Int32Array(B * S);
  const maskedPositions = new Int32Array(B * P);
  const maskedLabels = new Int32Array(B * P);
  const maskedWeights = new Float32Array(B * P);
  for (let b = 0; b < B; b++) {
    const n = lengths[b]!;
    for (let s = 0; s < n; s++) {
      inputIds[b * S + s] = s === 0 ? 2 : 5 + ((b * 31 + s * 17 + k * 13) % (V - 5));
      tokenTypeIds[b * S + s] = s >= n / 2 ? 1 : 0;
      attentionMask[b * S + s] = 1;
    }
    const real = b === 2 ? 2 : P;
    for (let j = 0; j < real; j++) {
      const pos = 1 + ((j * 5 + b + k) % (n - 1));
      maskedPositions[b * P + j] = pos;
      maskedLabels[b * P + j] = 5 + ((b * 7 + j * 11 + k * 3) % (V - 5));
      maskedWeights[b * P + j] = 1;
      inputIds[b * S + pos] = 4; // [MASK]
    }
  }
  return { inputIds, tokenTypeIds, attentionMask, maskedPositions, maskedLabels, maskedWeights, nspLabels: new Int32Array([0, 1, 1, 0]), batchSize: B, sequenceLength: S, maxPredictions: P };
}

function batchTensors(batch: Batch): HostTensorMap {
  const i32 = (data: Int32Array, shape: number[]): HostTensor => ({ dtype: 'int32', shape, data });
  return {
    input_ids: i32(batch.inputIds, [B, S]),
    token_type_ids: i32(batch.tokenTypeIds, [B, S]),
    attention_mask: i32(batch.attentionMask, [B, S]),
    masked_positions: i32(batch.maskedPositions, [B, P]),
    masked_labels: i32(batch.maskedLabels, [B, P]),
    masked_weights: { dtype: 'float32', shape: [B, P], data: batch.maskedWeights },
    nsp_labels: i32(batch.nspLabels!, [B]),
  };
}

/** Loss and gradients by parameter name of one batch (dropout off). */
function lossAndGrads(model: Model, batch: Batch): { loss: number; grads: Map<string, tf.Tensor> } {
  const named = [...model.variables.entries()];
  const { value, grads } = tf.variableGrads(() => model.loss(batch).loss, named.map(([, v]) => v));
  const loss = value.dataSync()[0]!;
  value.dispose();
  const byName = new Map<string, tf.Tensor>();
  for (const [name, v] of named) byName.set(name, grads[v.name]!);
  return { loss, grads: byName };
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** ‖a − b‖ / ‖b‖ (0 when both are 0). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = a[i]! - b[i]!;
  const nb = norm(b);
  return nb === 0 ? norm(d) : norm(d) / nb;
}

const scalar = (t: HostTensorMap, name: string) => {
  const h = t[name];
  assert.ok(h, `the PyTorch result has ${name}`);
  return h.data[0]!;
};

interface Expected {
  names: string[];
  inits: Initializer[];
  shapes: number[][];
  count: number;
  loss: number;
  mlmLoss: number;
  nspLoss: number;
  mlmAccuracy: number;
  logits: Float32Array;
  probes: { key: string; shape: number[]; data: Float32Array }[];
  grads: Map<string, Float32Array>;
  steps: Record<'adamw' | 'lamb', { losses: number[]; gradNorms: number[] }>;
}

let dir = '';
let python: string | undefined;
let skipReason: string | undefined;
const expected = new Map<string, Expected>();
let results = new Map<string, HostTensorMap>();

before(async () => {
  // The wasm backend, single-threaded, as the other integration tests (fp32 throughout; 'cpu' is ~30× slower).
  await loadBackend('wasm', { threads: 1, strict: true });
  const found = await findTorchPython();
  if (!found.ok) {
    skipReason = `no Python with torch: ${found.reason}`;
    console.log(`# torch-parity skipped: ${skipReason}`);
    return;
  }
  python = found.info.python;
  const t0 = performance.now();
  dir = mkdtempSync(join(tmpdir(), 'convbert-torch-parity-'));
  const batches = [makeBatch(0), makeBatch(1)];
  const batchFiles = batches.map((b, i) => {
    const file = join(dir, `batch${i}.safetensors`);
    writeFileSync(file, encodeSafetensors(batchTensors(b)));
    return file;
  });
  const jobs: unknown[] = [];
  for (const [id, file] of Object.entries(CASES)) {
    const spec = specOf(file, 'adamw');
    const model = buildModel(spec, { seed: 11 });
    const weights: HostTensorMap = {};
    for (const [name, v] of model.variables) weights[name] = toHostTensor(v);
    const weightsFile = join(dir, `${id.replace(/ /g, '_')}.weights.safetensors`);
    writeFileSync(weightsFile, encodeSafetensors(weights));

    const out = tf.tidy(() => model.forward(batches[0]!).mlmLogits!.dataSync() as Float32Array);
    const probes = tf.tidy(() => model.forward(batches[0]!, { probes: true }).probes!.attention.map((p) => ({ key: `attention/${p.layer}/${p.module}`, shape: p.probs.shape, data: p.probs.dataSync() as Float32Array })));
    const parts = tf.tidy(() => {
      const l = model.loss(batches[0]!);
      return { loss: l.loss.dataSync()[0]!, mlm: l.mlmLoss!.dataSync()[0]!, nsp: l.nspLoss!.dataSync()[0]!, acc: l.mlmAccuracy!.dataSync()[0]! };
    });
    const { grads } = lossAndGrads(model, batches[0]!);
    const gradArrays = new Map([...grads].map(([n, g]) => [n, g.dataSync() as Float32Array]));
    tf.dispose([...grads.values()]);
    const steps = {} as Expected['steps'];
    for (const type of ['adamw', 'lamb'] as const) {
      const s = specOf(file, type);
      const m = buildModel(s, { seed: 11 });
      const opt = new Optimizer(m.variables, optimizerConfigFromSpec(s.training));
      const losses: number[] = [];
      const gradNorms: number[] = [];
      const lrs: number[] = [];
      for (let t = 0; t < STEPS; t++) {
        const lr = learningRateAt(t, s.training.learningRate, STEPS);
        const { loss, grads: g } = lossAndGrads(m, batches[t % batches.length]!);
        const r = opt.applyGradients(g, lr);
        assert.ok(r.applied);
        tf.dispose([...g.values()]);
        losses.push(loss);
        gradNorms.push(r.gradNorm);
        lrs.push(lr);
      }
      opt.dispose();
      m.dispose();
      steps[type] = { losses, gradNorms };
      jobs.push({
        spec: s,
        weights: weightsFile,
        batches: batchFiles,
        out: join(dir, `${id.replace(/ /g, '_')}.${type}.safetensors`),
        split: type === 'adamw' ? 2 : 0,
        probe: type === 'adamw',
        ...(type === 'adamw' ? { initSeed: 5 } : {}),
        steps: STEPS,
        // BERT-tiny takes the optimizer's per-tensor loop, the others its multi-tensor (torch._foreach_*) path.
        optimizer: { ...s.training.optimizer, weightDecay: s.training.weightDecay, gradientClipNorm: s.training.gradientClipNorm, foreach: id !== 'bert-tiny' },
        learningRates: lrs,
      });
    }
    expected.set(id, {
      names: model.shapes.map((p) => p.name),
      inits: model.shapes.map((p) => p.init),
      shapes: model.shapes.map((p) => p.shape),
      count: model.parameterCount(),
      loss: parts.loss,
      mlmLoss: parts.mlm,
      nspLoss: parts.nsp,
      mlmAccuracy: parts.acc,
      logits: out,
      probes,
      grads: gradArrays,
      steps,
    });
    model.dispose();
  }
  console.log(`# TF.js side: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = performance.now();
  const request = join(dir, 'request.json');
  writeFileSync(request, JSON.stringify({ jobs }));
  const run = spawnSync(python, ['-m', 'convbert_torch.parity', request], { encoding: 'utf8', env: { ...process.env, ...workerEnv() }, timeout: 120_000 });
  assert.equal(run.status, 0, `convbert_torch.parity failed: ${run.stderr}`);
  console.log(`# PyTorch side: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  results = new Map();
  for (const j of jobs as { out: string }[]) results.set(j.out, decodeSafetensors(readFileSync(j.out), j.out).tensors);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const resultOf = (id: string, type: 'adamw' | 'lamb') => {
  const r = results.get(join(dir, `${id.replace(/ /g, '_')}.${type}.safetensors`));
  assert.ok(r, `a PyTorch result for ${id} ${type}`);
  return r;
};

for (const id of Object.keys(CASES)) {
  test(`torch parity ${id}: same parameter names, shapes, order and count as TF.js`, (t) => {
    if (skipReason) return t.skip(skipReason);
    const e = expected.get(id)!;
    const r = resultOf(id, 'adamw');
    const names = Object.keys(r).filter((k) => k.startsWith('grad/')).map((k) => k.slice(5));
    assert.deepEqual(names, e.names, 'gradient names in the PyTorch parameter order');
    assert.deepEqual(names.map((n) => r[`grad/${n}`]!.shape), e.shapes);
    assert.equal(names.reduce((s, n) => s + r[`grad/${n}`]!.data.length, 0), e.count);
  });

  test(`torch parity ${id}: loss parts and masked-position logits within 1e-5`, (t) => {
    if (skipReason) return t.skip(skipReason);
    const e = expected.get(id)!;
    const r = resultOf(id, 'adamw');
    for (const [name, want] of [['loss', e.loss], ['mlm_loss', e.mlmLoss], ['nsp_loss', e.nspLoss]] as const) {
      const got = scalar(r, name);
      assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `${name}: torch ${got}, TF.js ${want}`);
    }
    assert.equal(scalar(r, 'mlm_accuracy'), e.mlmAccuracy);
    assert.equal(scalar(r, 'mlm_count'), 14);
    assert.deepEqual(r.mlm_logits!.shape, [B * P, V]);
    const err = relError(r.mlm_logits!.data, e.logits);
    assert.ok(err <= 1e-5, `logits: relative error ${err}`);
  });

  test(`torch parity ${id}: PyTorch's own initial weights follow the TF.js initialisers`, (t) => {
    if (skipReason) return t.skip(skipReason);
    const e = expected.get(id)!;
    const r = resultOf(id, 'adamw');
    e.names.forEach((name, i) => {
      const got = r[`init/${name}`]!.data;
      const init = e.inits[i]!;
      const std = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0) / xs.length);
      switch (init.kind) {
        case 'zeros':
        case 'ones':
          assert.ok(Array.from(got).every((x) => x === (init.kind === 'ones' ? 1 : 0)), name);
          break;
        case 'truncatedNormal': {
          assert.ok(Array.from(got).every((x) => Math.abs(x) <= 2 * init.std * (1 + 1e-6)), `${name}: a value outside ±2σ`);
          // The standard deviation of N(0, σ²) truncated to ±2σ is 0.8796σ.
          if (got.length >= 1000) assert.ok(Math.abs(std(got) / (0.8796 * init.std) - 1) < 0.1, `${name}: std ${std(got)} for σ ${init.std}`);
          break;
        }
        case 'glorotUniform': {
          const limit = Math.sqrt(6 / (init.fanIn + init.fanOut));
          assert.ok(Array.from(got).every((x) => Math.abs(x) <= limit), `${name}: a value outside ±${limit}`);
          if (got.length >= 1000) assert.ok(Math.abs(std(got) / (limit / Math.sqrt(3)) - 1) < 0.1, `${name}: std ${std(got)} for limit ${limit}`);
          break;
        }
      }
    });
  });

  test(`torch parity ${id}: attention probabilities (probes) within 1e-5`, (t) => {
    if (skipReason) return t.skip(skipReason);
    const e = expected.get(id)!;
    const r = resultOf(id, 'adamw');
    assert.deepEqual(Object.keys(r).filter((k) => k.startsWith('attention/')), e.probes.map((p) => p.key));
    assert.ok(e.probes.length > 0);
    for (const p of e.probes) {
      assert.deepEqual(r[p.key]!.shape, p.shape, p.key);
      const err = relError(r[p.key]!.data, p.data);
      assert.ok(err <= 1e-5, `${p.key}: relative error ${err}`);
    }
  });

  test(`torch parity ${id}: every gradient within 1e-4, also summed over row chunks with global denominators`, (t) => {
    if (skipReason) return t.skip(skipReason);
    const e = expected.get(id)!;
    const r = resultOf(id, 'adamw');
    const worst = { full: 0, split: 0 };
    const total = Math.sqrt([...e.grads.values()].reduce((s, g) => s + norm(g) ** 2, 0));
    for (const [name, want] of e.grads) {
      if (name.endsWith('/key/bias')) {
        // Exactly 0 in exact arithmetic: both engines hold rounding noise only.
        for (const g of [want, r[`grad/${name}`]!.data, r[`split_grad/${name}`]!.data]) assert.ok(norm(g) <= 1e-6 * total, `${name}: gradient ${norm(g)} is not ~0`);
        continue;
      }
      const full = relError(r[`grad/${name}`]!.data, want);
      const split = relError(r[`split_grad/${name}`]!.data, want);
      assert.ok(full <= 1e-4, `grad/${name}: relative error ${full}`);
      assert.ok(split <= 1e-4, `split_grad/${name}: relative error ${split}`);
      assert.ok(norm(want) > 0, `${name}: TF.js gradient is zero`);
      worst.full = Math.max(worst.full, full);
      worst.split = Math.max(worst.split, split);
    }
    const loss = scalar(r, 'split_loss');
    assert.ok(Math.abs(loss - e.loss) <= 1e-5 * e.loss, `split loss ${loss} vs ${e.loss}`);
    console.log(`# ${id}: worst gradient relative error ${worst.full.toExponential(2)} (row chunks ${worst.split.toExponential(2)})`);
  });

  for (const type of ['adamw', 'lamb'] as const) {
    test(`torch parity ${id}: ${STEPS} ${type} steps (clipping, warm-up) give the same losses within 1e-4`, (t) => {
      if (skipReason) return t.skip(skipReason);
      const e = expected.get(id)!.steps[type];
      const r = resultOf(id, type);
      const losses = r.step_losses!.data;
      const norms = r.step_grad_norms!.data;
      assert.equal(losses.length, STEPS);
      assert.deepEqual([...r.step_applied!.data], Array(STEPS).fill(1));
      assert.deepEqual([...r.nan_step_unchanged!.data], [1], 'a NaN gradient: applied false, nothing changed');
      let worst = 0;
      for (let i = 0; i < STEPS; i++) {
        const err = Math.abs(losses[i]! - e.losses[i]!) / Math.abs(e.losses[i]!);
        assert.ok(err <= 1e-4, `step ${i}: torch loss ${losses[i]}, TF.js ${e.losses[i]}`);
        assert.ok(Math.abs(norms[i]! - e.gradNorms[i]!) <= 1e-3 * e.gradNorms[i]!, `step ${i}: gradient norm ${norms[i]} vs ${e.gradNorms[i]}`);
        worst = Math.max(worst, err);
      }
      assert.ok(e.gradNorms.some((n) => n > 0.5), 'clipping engaged at least once');
      assert.ok(e.losses.at(-1)! < e.losses[0]!, 'the loss went down');
      console.log(`# ${id} ${type}: losses ${e.losses[0]!.toFixed(4)} → ${e.losses.at(-1)!.toFixed(4)}, worst relative step-loss error ${worst.toExponential(2)}`);
    });
  }
}

test('safetensors between engines: PyTorch writes every dtype TypeScript reads, and refuses malformed files with one ValueError', (t) => {
  if (skipReason) return t.skip(skipReason);
  const good = encodeSafetensors({ a: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: 'int32', shape: [1], data: new Int32Array([7]) } });
  const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
  const withHeader = (header: unknown, data: Uint8Array) => {
    const head = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + head.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
    out.set(head, 8);
    out.set(data, 8 + head.length);
    return out;
  };
  const bad: Record<string, [Uint8Array, string]> = {
    truncated: [good.subarray(0, good.length - 1), 'outside the'],
    trailing: [new Uint8Array([...good, 0]), 'bytes no tensor uses'],
    huge: [(() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), 'header of'],
    garbage: [(() => { const b = good.slice(); b[8] = 0x5b; return b; })(), 'not JSON'],
    overlap: [withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), 'overlaps'],
    dtype: [withHeader({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'unsupported dtype'],
  };
  assert.ok(n > 0);
  for (const [name, [bytes]] of Object.entries(bad)) writeFileSync(join(dir, `${name}.safetensors`), bytes);
  const out = join(dir, 'dtypes.safetensors');
  const script = `
import sys, torch
from convbert_torch.safetensors import load_file, save_file
for name in sys.argv[2:]:
    try:
        load_file(name)
        print('LOADED', name)
    except ValueError as e:
        print('ValueError', str(e).replace(chr(10), ' '))
save_file({'bf16': torch.tensor([1.5, -2.0]).bfloat16(), 'f16': torch.tensor([0.25]).half(), 'i64': torch.tensor([-3, 4]),
           'u8': torch.tensor([200], dtype=torch.uint8), 'bool': torch.tensor([True, False]), 'f32': torch.arange(6.0).reshape(2, 3)}, sys.argv[1], {'k': 'v'})
`;
  const run = spawnSync(python!, ['-c', script, out, ...Object.keys(bad).map((k) => join(dir, `${k}.safetensors`))], { encoding: 'utf8', env: { ...process.env, ...workerEnv() }, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  Object.values(bad).forEach(([, message], i) => {
    assert.match(lines[i]!, /^ValueError .* is not a valid safetensors file: /, lines[i]);
    assert.ok(lines[i]!.includes(message), `${lines[i]} should say ${message}`);
  });
  const back = decodeSafetensors(readFileSync(out), out);
  assert.deepEqual(back.metadata, { k: 'v' });
  assert.deepEqual([...back.tensors.bf16!.data], [1.5, -2]);
  assert.deepEqual([...back.tensors.f16!.data], [0.25]);
  assert.deepEqual([...back.tensors.i64!.data], [-3, 4]);
  assert.deepEqual([...back.tensors.u8!.data], [200]);
  assert.deepEqual([...back.tensors.bool!.data], [1, 0]);
  assert.deepEqual(back.tensors.f32!.shape, [2, 3]);
  assert.deepEqual([...back.tensors.f32!.data], [0, 1, 2, 3, 4, 5]);
});
