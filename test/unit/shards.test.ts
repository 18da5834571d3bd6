/**
 * The binary shards `convbert prepare` writes for the PyTorch workers (src/core/data/shards.ts): the rows read back
 * are the TF.js BatchIterator's, row for row, for one and two ranks; train-states.json holds the iterator's state at
 * every step; index.json's key decides reuse; a truncated file is rewritten, a corrupt index is one clear error, a
 * failed write leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchIterator, prepareData, type Batch, type PreparedData } from '../../src/core/data';
import {
  readShardIndex,
  readShardRows,
  readTrainStates,
  shardKey,
  ShardIndexError,
  verifyShards,
  writeShards,
  type ShardIndex,
} from '../../src/core/data/shards';
import { resolveSpec, type ResolvedSpec, type SpecFile } from '../../src/core/spec';
import { computeCost } from '../../src/core/cost';
import { totalTrainingSteps, trainingFlopsPerStep } from '../../src/core/cost/budget';

const ROOT = path.resolve(__dirname, '../..');
const dirs: string[] = [];
let work = '';
let data: PreparedData;
let noValidation: PreparedData;

function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function specFile(training: SpecFile['training'] = {}): SpecFile {
  return {
    version: 1,
    name: 'tiny',
    extends: 'bert-tiny',
    model: { hiddenSize: 32, numHeads: 2, numLayers: 1, vocabSize: 160, maxPositions: 32 },
    training: {
      corpus: ['corpus.txt'],
      tokenizer: { vocabSize: 150 },
      sequenceLength: 16,
      maxPredictions: 3,
      batchSize: 2,
      gradientAccumulation: 2,
      steps: 20,
      seed: 7,
      evalBatches: 3,
      validationFraction: 0.25,
      ...training,
    },
  } as SpecFile;
}

function spec(training: SpecFile['training'] = {}): ResolvedSpec {
  return resolveSpec(specFile(training));
}

before(async () => {
  work = tmp('convbert-shards-');
  fs.copyFileSync(path.join(ROOT, 'test/fixtures/corpus/small.txt'), path.join(work, 'corpus.txt'));
  const s = spec();
  data = await prepareData({ training: s.training, specDir: work, nsp: s.model.heads.nsp });
  assert.ok(data.validation, 'the fixture has a validation split');
  const s0 = spec({ validationFraction: 0 });
  noValidation = await prepareData({ training: s0.training, specDir: work, nsp: s0.model.heads.nsp });
  assert.equal(noValidation.validation, undefined);
});

after(() => {
  data?.close();
  noValidation?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh iterator over `it`'s stream from its start, `rows` rows a batch. */
function fresh(it: BatchIterator, rows: number): BatchIterator {
  return new BatchIterator(it.corpus, it.documents, it.vocab, { ...it.config, batchSize: rows });
}

function assertSameRows(got: Batch, want: Batch, what: string): void {
  assert.deepEqual(got.inputIds, want.inputIds, `${what}: input ids`);
  assert.deepEqual(got.tokenTypeIds, want.tokenTypeIds, `${what}: token types`);
  assert.deepEqual(got.attentionMask, want.attentionMask, `${what}: attention mask`);
  assert.deepEqual(got.maskedPositions, want.maskedPositions, `${what}: masked positions`);
  assert.deepEqual(got.maskedLabels, want.maskedLabels, `${what}: masked labels`);
  assert.deepEqual(got.maskedWeights, want.maskedWeights, `${what}: masked weights`);
  assert.deepEqual(got.nspLabels, want.nspLabels, `${what}: NSP labels`);
}

function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return out;
}

describe('shards', () => {
  for (const worldSize of [1, 2]) {
    test(`world size ${worldSize}: every row, step state and validation row is the BatchIterator's`, async () => {
      const s = spec();
      const out = path.join(tmp('convbert-shards-w-'), 'shards');
      const progress: [number, number][] = [];
      // 7 rows per shard: shard boundaries fall inside steps and inside the writer's chunks.
      const r = await writeShards({ spec: s, data, outDir: out, worldSize, sequencesPerShard: 7, onProgress: (w, t) => progress.push([w, t]) });
      assert.equal(r.reused, false);
      const index = readShardIndex(out);
      assert.deepEqual(index, r.index);
      const b = s.training.batchSize;
      const G = b * 2 * worldSize;
      assert.equal(index.sequencesPerStep, G);
      assert.equal(index.steps, 20);
      assert.equal(index.train.sequences, 20 * G);
      assert.equal(index.train.shards, Math.ceil((20 * G) / 7));
      assert.equal(index.validation.sequences, 3 * b);
      assert.equal(index.validation.fromTraining, false);
      assert.equal(index.arrays.input_ids, 'uint16');
      assert.equal(index.arrays.nsp_labels, 'uint8');
      assert.equal(fs.statSync(path.join(out, 'train/input_ids.00000.bin')).size, 7 * 16 * 2);
      assert.equal(r.rows, 20 * G + 3 * b);
      assert.deepEqual(progress.at(-1), [r.rows, r.rows]);
      // More rows than one epoch: the stream wraps into epoch 1 (a new plan and masks).
      const ref = fresh(data.train, b);
      assert.ok(index.train.sequences > ref.examplesInEpoch, `${index.train.sequences} rows > ${ref.examplesInEpoch} per epoch`);

      const states = readTrainStates(out, index);
      assert.equal(states.length, 21);
      for (let step = 0; step < index.steps; step++) {
        assert.deepEqual(states[step], ref.state(), `state before step ${step}`);
        // Micro-batch i of rank r: rows t·G + i·(W·b) + r·b … + b, which a single process reads in this order.
        for (let i = 0; i < 2; i++) {
          for (let rank = 0; rank < worldSize; rank++) {
            const start = step * G + i * worldSize * b + rank * b;
            assertSameRows(readShardRows(out, index, 'train', start, b), ref.next(), `step ${step} micro-batch ${i} rank ${rank}`);
          }
        }
      }
      assert.deepEqual(states[index.steps], ref.state(), 'state after the last step');
      assert.ok(states[index.steps]!.epoch >= 1);

      const vref = fresh(data.validation!, b);
      for (let k = 0; k < 3; k++) assertSameRows(readShardRows(out, index, 'validation', k * b, b), vref.next(), `validation batch ${k}`);
      assert.equal((await verifyShards(out)).ok, true);
      assert.deepEqual(
        fs.readdirSync(path.dirname(out)).filter((n) => n !== 'shards'),
        [],
        'no temporary folder left next to the target',
      );
    });
  }

  test('without a validation split the validation rows are the TF.js job’s stand-in (training documents, stream 2)', async () => {
    const s = spec({ validationFraction: 0 });
    const out = path.join(tmp('convbert-shards-nv-'), 'shards');
    const warnings: string[] = [];
    const r = await writeShards({ spec: s, data: noValidation, outDir: out, onWarning: (m) => warnings.push(m) });
    assert.equal(r.index.validation.fromTraining, true);
    assert.match(warnings.join('\n'), /no validation split/);
    const standIn = new BatchIterator(noValidation.corpus, noValidation.split.train, noValidation.tokenizer, { ...noValidation.train.config, stream: 2 });
    assertSameRows(readShardRows(out, r.index, 'validation', 0, 6), fresh(standIn, 6).next(), 'stand-in validation');
    assert.notEqual(shardKey(s, noValidation), shardKey(spec(), data), 'another split, another key');
  });

  test('the key changes with every setting that changes the content, and only then', () => {
    const s = spec();
    const k = shardKey(s, data);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(shardKey(spec(), data), k, 'deterministic');
    assert.equal(shardKey(s, data, { worldSize: 1, steps: 20 }), k, 'explicit defaults');
    assert.notEqual(shardKey(s, data, { steps: 6 }), k, 'steps');
    assert.notEqual(shardKey(s, data, { worldSize: 2 }), k, 'world size');
    assert.notEqual(shardKey(s, data, { sequencesPerShard: 7 }), k, 'layout');
    assert.notEqual(shardKey(spec({ evalBatches: 4 }), data), k, 'eval batches');
    assert.notEqual(shardKey(spec({ batchSize: 4, gradientAccumulation: 1 }), data), k, 'batch size (same rows per step, other validation rows)');
    // The data's own settings: another seed is another stream.
    const other = new BatchIterator(data.corpus, data.split.train, data.tokenizer, { ...data.train.config, seed: 8 });
    assert.notEqual(shardKey(s, { ...data, train: other }), k, 'seed');
  });

  test('the steps follow the FLOP budget as the trainer loop does (ceil(budget / FLOPs per step × world size))', async () => {
    const base = spec();
    const perStep = computeCost(base, { sequenceLength: 16, batchSize: 2, maskedPerSequence: 3 }).totals.trainingFlopsPerStep * 2;
    assert.equal(trainingFlopsPerStep(base), perStep);
    assert.equal(trainingFlopsPerStep(base, 3), 3 * perStep);
    const s = spec({ flopBudget: 4.5 * perStep });
    const out = path.join(tmp('convbert-shards-flops-'), 'shards');
    const r = await writeShards({ spec: s, data, outDir: out, worldSize: 2 });
    assert.equal(r.index.steps, Math.ceil(4.5 / 2)); // 3: each step of two ranks does twice the FLOPs
    assert.equal((await writeShards({ spec: s, data, outDir: path.join(path.dirname(out), 'one'), worldSize: 1 })).index.steps, 5);
    assert.equal((await writeShards({ spec: s, data, outDir: path.join(path.dirname(out), 'fixed'), steps: 2 })).index.steps, 2, '--steps wins');
    assert.deepEqual(totalTrainingSteps({ steps: 9, flopBudget: 10 }, 3), { steps: 4, budgetIgnored: false });
    assert.deepEqual(totalTrainingSteps({ steps: 9, flopBudget: 1 }, 3), { steps: 1, budgetIgnored: false });
    assert.deepEqual(totalTrainingSteps({ steps: 9, flopBudget: 10 }, undefined), { steps: 9, budgetIgnored: true });
    assert.deepEqual(totalTrainingSteps({ steps: 9 }, 3), { steps: 9, budgetIgnored: false });
    assert.deepEqual(totalTrainingSteps({ steps: 9, flopBudget: 10 }, 3, 2), { steps: 2, budgetIgnored: false });
  });

  test('reuse: same key and sizes → untouched; a truncated file → written again; changed bytes → --verify catches them', async () => {
    const s = spec();
    const out = path.join(tmp('convbert-shards-reuse-'), 'shards');
    const first = await writeShards({ spec: s, data, outDir: out });
    const before = mtimes(out);
    await new Promise((r) => setTimeout(r, 20));
    const again = await writeShards({ spec: s, data, outDir: out, onProgress: () => assert.fail('a reuse writes nothing') });
    assert.equal(again.reused, true);
    assert.deepEqual(again.index, first.index);
    assert.deepEqual(mtimes(out), before, 'no file touched');

    const file = path.join(out, 'train/masked_labels.00000.bin');
    fs.truncateSync(file, fs.statSync(file).size - 1);
    const logs: string[] = [];
    const rewritten = await writeShards({ spec: s, data, outDir: out, onLog: (m) => logs.push(m) });
    assert.equal(rewritten.reused, false);
    assert.match(logs.join('\n'), /incomplete \(train\/masked_labels\.00000\.bin has \d+ bytes/);
    assert.equal(rewritten.index.contentSha256, first.index.contentSha256, 'the same content again');
    assert.equal((await verifyShards(out)).ok, true);

    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0]! ^ 1;
    fs.writeFileSync(file, bytes);
    const verified = await verifyShards(out);
    assert.equal(verified.ok, false);
    assert.match(verified.problem ?? '', /content hash/);

    // Other settings: the folder is replaced (atomically), with the new key.
    const replaced = await writeShards({ spec: s, data, outDir: out, steps: 3 });
    assert.equal(replaced.reused, false);
    assert.equal(readShardIndex(out).steps, 3);
    assert.equal(fs.existsSync(path.join(out, 'train/input_ids.00000.bin')), true);
  });

  test('a corrupt or foreign index.json is one clear error; a folder that is not ours is never overwritten', async () => {
    const s = spec();
    const out = path.join(tmp('convbert-shards-bad-'), 'shards');
    await writeShards({ spec: s, data, outDir: out });
    const indexPath = path.join(out, 'index.json');
    const good = JSON.parse(fs.readFileSync(indexPath, 'utf8')) as ShardIndex;

    const bad = (value: unknown, pattern: RegExp) => {
      fs.writeFileSync(indexPath, typeof value === 'string' ? value : JSON.stringify(value));
      assert.throws(
        () => readShardIndex(out),
        (e: unknown) => e instanceof ShardIndexError && pattern.test(e.message) && e.message.startsWith(indexPath) && !e.message.includes('\n'),
      );
    };
    bad('{"format": "convbert-shards", ', /not valid JSON/);
    bad([], /not a JSON object/);
    bad({ ...good, format: 'other' }, /not a convbert shards index/);
    bad({ ...good, version: 2 }, /version 2/);
    bad({ ...good, key: 'abc' }, /key must be a sha256/);
    bad({ ...good, steps: 2.5 }, /steps must be a whole number/);
    bad({ ...good, train: { ...good.train, sequences: 3 } }, /train\.shards|train\.sequences/);
    bad({ ...good, arrays: { ...good.arrays, input_ids: 'float32' } }, /arrays\.input_ids/);
    bad({ ...good, files: good.files.map((f, i) => (i === 0 ? { ...f, path: '../../etc/passwd' } : f)) }, /files\[0\]/);
    bad({ ...good, files: good.files.map((f, i) => (i === 1 ? { ...f, bytes: f.bytes + 1 } : f)) }, /files do not list/);
    // writeShards refuses a folder with a broken index rather than guess.
    await assert.rejects(writeShards({ spec: s, data, outDir: out }), /index\.json: files do not list .*; remove .* or choose another folder/);
    assert.throws(() => readShardIndex(path.join(work, 'nowhere')), /no index\.json/);

    const mine = path.join(tmp('convbert-shards-mine-'), 'notes');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'keep.txt'), 'mine');
    await assert.rejects(writeShards({ spec: s, data, outDir: mine }), /is not a shards folder/);
    assert.equal(fs.readFileSync(path.join(mine, 'keep.txt'), 'utf8'), 'mine');
  });

  test('a write that fails half way leaves no folder behind; leftovers of a killed prepare are cleaned up', async () => {
    const s = spec();
    const parent = tmp('convbert-shards-fail-');
    const out = path.join(parent, 'shards');
    // A dead process's partial folder (pid 2^22 + 1 is above Linux's default pid_max).
    const stale = path.join(parent, `.shards.partial-${2 ** 22 + 1}-0123abcd`);
    fs.mkdirSync(path.join(stale, 'train'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'index.json'), '{}');
    await assert.rejects(
      writeShards({
        spec: s,
        data,
        outDir: out,
        sequencesPerShard: 3,
        onProgress: (w) => {
          if (w >= 8) throw new Error('killed');
        },
      }),
      /killed/,
    );
    assert.deepEqual(fs.readdirSync(parent), [], 'neither the target nor a temporary folder (and the stale one is gone)');
    const r = await writeShards({ spec: s, data, outDir: out });
    assert.equal(r.reused, false);
    assert.deepEqual(fs.readdirSync(parent), ['shards']);
  });
});
