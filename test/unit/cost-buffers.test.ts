/**
 * The largest single buffers of a training step (src/core/cost/buffers.ts), which a GPU that caps one buffer
 * (WebGPU's maxStorageBufferBindingSize) is held against before the first step, and that check's message.
 * Sizes derived by hand from the shapes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferOverLimit, stepBuffers } from '../../src/core/cost/buffers';
import { resolveSpec } from '../../src/core/spec/resolve';
import { checkDeviceBuffers } from '../../src/engines/tfjs/trainer/backend';
import { TrainerError } from '../../src/engines/trainer/errors';

const MiB = 2 ** 20;

test('GroupBERT-Base at B = 32, S = 128: the step buffers, largest first, from the shapes', () => {
  const spec = resolveSpec({ version: 1, extends: 'groupbert-base', training: { batchSize: 32, sequenceLength: 128, maxPredictions: 20 } } as never);
  const V = spec.model.vocabSize;
  const buffers = stepBuffers(spec);
  const by = (prefix: string) => buffers.find((b) => b.what.startsWith(prefix));
  assert.equal(by('the word embeddings')?.bytes, V * 768 * 4);
  assert.equal(by('the attention scores')?.bytes, 32 * 12 * 128 * 128 * 4); // 24 MiB
  assert.equal(by('the attention scores')?.what, 'the attention scores [32, 12, 128, 128]');
  assert.equal(by('the MLM logits')?.bytes, 32 * 20 * V * 4);
  assert.equal(by('the hidden states')?.bytes, 32 * 128 * 768 * 4);
  const conv = spec.model.layers[0]!.modules.find((m) => m.type === 'conv');
  assert.ok(conv && conv.type === 'conv');
  assert.equal(by("the grouped convolution's patches")?.bytes, 32 * 128 * conv.kernelSize * 768 * 4);
  for (let i = 1; i < buffers.length; i++) assert.ok(buffers[i - 1]!.bytes >= buffers[i]!.bytes, 'largest first');
  assert.equal(new Set(buffers.map((b) => b.what)).size, buffers.length, 'each buffer once, not once per layer');
});

test('over a 128 MiB binding: the first buffer over it is named; under a 2 GiB one nothing is', () => {
  const spec = resolveSpec({ version: 1, extends: 'bert-base', training: { batchSize: 64, sequenceLength: 512 } } as never);
  // 64 × 12 × 512 × 512 × 4 = 768 MiB of attention scores.
  const over = bufferOverLimit(spec, 128 * MiB);
  assert.equal(over?.what, 'the attention scores [64, 12, 512, 512]');
  assert.equal(over?.bytes, 768 * MiB);
  assert.equal(bufferOverLimit(spec, 2 * 1024 * MiB - 4), undefined);
});

test('the trainer refuses it before the first step, naming the tensor, its size, the limit and the adapter', () => {
  const spec = resolveSpec({ version: 1, extends: 'bert-base', training: { batchSize: 64, sequenceLength: 512 } } as never);
  const device = { vendor: 'mesa', architecture: 'software', description: 'llvmpipe', software: true, limits: { maxStorageBufferBindingSize: 128 * MiB } };
  assert.throws(
    () => checkDeviceBuffers(spec, device),
    (err: unknown) =>
      err instanceof TrainerError &&
      /^the attention scores \[64, 12, 512, 512\] would take 768(\.0)? MiB, more than the 128(\.0)? MiB this GPU binds as one buffer \(maxStorageBufferBindingSize of software adapter: mesa software \(llvmpipe\)\)$/.test(err.message) &&
      /batchSize/.test(err.hint ?? ''),
  );
  assert.doesNotThrow(() => checkDeviceBuffers(spec, { ...device, limits: { maxStorageBufferBindingSize: 2 ** 31 - 4 } }));
});
