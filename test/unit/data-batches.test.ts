import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchIterator, type Batch, type BatchConfig, type BatchIteratorState } from '../../src/core/data/batches';
import { Rng } from '../../src/core/rng';
import { splitDocuments, validationCount } from '../../src/core/data/split';
import { tokenizeDocuments } from '../../src/core/data/tokenized';
import { SPECIAL_TOKENS, WordPieceTokenizer } from '../../src/core/data/wordpiece';

/**
 * Documents whose words are unique to them (`d7w3`), and a vocabulary with every word as one piece, so each token
 * id tells which document it came from.
 */
function labelledCorpus(numDocs: number, seed = 1) {
  const r = Rng.fromSeed(seed);
  const docs: string[][] = [];
  const vocab: string[] = [...SPECIAL_TOKENS, '.'];
  const owner = new Map<number, number>();
  for (let d = 0; d < numDocs; d++) {
    const words = Array.from({ length: 12 }, (_, k) => `d${d}w${k}`);
    for (const w of words) {
      owner.set(vocab.length, d);
      vocab.push(w);
    }
    docs.push(Array.from({ length: r.range(2, 12) }, () => `${Array.from({ length: r.range(2, 9) }, () => words[r.int(words.length)]).join(' ')}.`));
  }
  const tok = new WordPieceTokenizer(vocab, { lowercase: true });
  return { docs, tok, owner, corpus: tokenizeDocuments(docs, tok) };
}

function same(a: Batch, b: Batch): boolean {
  const keys = ['inputIds', 'tokenTypeIds', 'attentionMask', 'maskedPositions', 'maskedLabels', 'maskedWeights', 'nspLabels'] as const;
  return keys.every((k) => {
    const x = a[k];
    const y = b[k];
    if (x === undefined || y === undefined) return x === y;
    return x.length === y.length && x.every((v, i) => v === y[i]);
  });
}

const CFG: BatchConfig = { sequenceLength: 32, maxPredictions: 5, maskRate: 0.15, nsp: true, batchSize: 8, seed: 42 };

describe('data: batch iterator', () => {
  const { tok, corpus } = labelledCorpus(30);
  const all = Int32Array.from({ length: corpus.numDocuments }, (_, i) => i);

  it('has the documented shapes and dtypes', () => {
    const b = new BatchIterator(corpus, all, tok, CFG).next();
    assert.equal(b.inputIds.length, 8 * 32);
    assert.ok(b.inputIds instanceof Int32Array && b.tokenTypeIds instanceof Int32Array && b.attentionMask instanceof Int32Array);
    assert.equal(b.maskedPositions.length, 8 * 5);
    assert.ok(b.maskedWeights instanceof Float32Array);
    assert.equal(b.nspLabels?.length, 8);
    assert.deepEqual([b.batchSize, b.sequenceLength, b.maxPredictions], [8, 32, 5]);
    const noNsp = new BatchIterator(corpus, all, tok, { ...CFG, nsp: false }).next();
    assert.equal(noNsp.nspLabels, undefined);
    assert.ok(noNsp.tokenTypeIds.every((v) => v === 0));
  });

  it('is a function of the seed', () => {
    const a = new BatchIterator(corpus, all, tok, CFG);
    const b = new BatchIterator(corpus, all, tok, CFG);
    const c = new BatchIterator(corpus, all, tok, { ...CFG, seed: 43 });
    for (let i = 0; i < 5; i++) {
      const x = a.next();
      assert.ok(same(x, b.next()));
      assert.ok(!same(x, c.next()));
    }
  });

  it('resumes from a saved state with exactly the batches of an uninterrupted run, across epochs', () => {
    const ref = new BatchIterator(corpus, all, tok, CFG);
    const perEpoch = Math.ceil(ref.examplesInEpoch / CFG.batchSize);
    const total = 3 * perEpoch + 2;
    const states: BatchIteratorState[] = [];
    const batches: Batch[] = [];
    for (let i = 0; i < total; i++) {
      states.push(JSON.parse(JSON.stringify(ref.state())) as BatchIteratorState);
      batches.push(ref.next());
    }
    assert.ok(states.at(-1)!.epoch >= 2, 'the run crossed epoch boundaries');
    for (const k of [0, 1, perEpoch - 1, perEpoch, perEpoch + 3, total - 1]) {
      const resumed = new BatchIterator(corpus, all, tok, CFG);
      resumed.restore(states[k]!);
      for (let i = k; i < total; i++) assert.ok(same(resumed.next(), batches[i]!), `batch ${i} after resuming at ${k}`);
    }
    // epochs differ (reshuffled, re-masked)
    const e0 = new BatchIterator(corpus, all, tok, CFG);
    const e1 = new BatchIterator(corpus, all, tok, CFG);
    e1.restore({ ...e0.state(), epoch: 1 });
    assert.ok(!same(e0.next(), e1.next()));
  });

  it('reset() replays the first batches; bad states are refused', () => {
    const it_ = new BatchIterator(corpus, all, tok, CFG);
    const first = [it_.next(), it_.next()];
    it_.next();
    it_.reset();
    assert.ok(same(it_.next(), first[0]!) && same(it_.next(), first[1]!));
    assert.throws(() => it_.restore({ epoch: 0, position: 10_000_000, rng: [1, 2, 3, 4] }), /past the end of epoch 0/);
    assert.throws(() => it_.restore({ epoch: -1, position: 0, rng: [1, 2, 3, 4] }), /invalid batch iterator state/);
    assert.throws(() => new BatchIterator(corpus, new Int32Array(0), tok, CFG), /No documents/);
  });
});

describe('data: validation split', () => {
  it('has round(fraction × N) documents, at least one, never all', () => {
    assert.equal(validationCount(50, 0.1), 5);
    assert.equal(validationCount(233, 0.02), 5);
    assert.equal(validationCount(10, 0.01), 1);
    assert.equal(validationCount(10, 0), 0);
    assert.equal(validationCount(1, 0.5), 0);
    assert.equal(validationCount(2, 0.9), 1);
  });

  it('is disjoint from training, covers the corpus, and does not depend on document order', () => {
    const { docs, tok, corpus } = labelledCorpus(40);
    const split = splitDocuments(corpus, 0.2);
    assert.equal(split.validation.length, 8);
    assert.equal(split.train.length, 32);
    const v = new Set(split.validation);
    assert.ok([...split.train].every((d) => !v.has(d)));
    assert.deepEqual([...new Set([...split.train, ...split.validation])].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
    const text = (ds: string[][], ids: Int32Array) => [...ids].map((i) => ds[i]!.join('\n')).sort();
    const shuffledDocs = Rng.fromSeed(3).shuffle([...docs]);
    const again = splitDocuments(tokenizeDocuments(shuffledDocs, tok), 0.2);
    assert.deepEqual(text(shuffledDocs, again.validation), text(docs, split.validation), 'same documents held out');
  });

  it('training and validation batches only contain their own documents (random NSP partners included)', () => {
    const { tok, corpus, owner } = labelledCorpus(40, 7);
    const split = splitDocuments(corpus, 0.25);
    const check = (docs: Int32Array, stream: number): void => {
      const allowed = new Set(docs);
      const it_ = new BatchIterator(corpus, docs, tok, { ...CFG, stream });
      let seen = 0;
      for (let s = 0; s < 40; s++) {
        const b = it_.next();
        for (let r = 0; r < b.batchSize; r++) {
          const masked = new Set<number>();
          for (let j = 0; j < b.maxPredictions; j++) if (b.maskedWeights[r * b.maxPredictions + j]) masked.add(b.maskedPositions[r * b.maxPredictions + j]!);
          for (let p = 0; p < b.sequenceLength; p++) {
            const d = owner.get(b.inputIds[r * b.sequenceLength + p]!);
            if (d === undefined || masked.has(p)) continue;
            assert.ok(allowed.has(d), `token of document ${d} in the wrong split`);
            seen++;
          }
          for (let j = 0; j < b.maxPredictions; j++) {
            const d = owner.get(b.maskedLabels[r * b.maxPredictions + j]!);
            if (d !== undefined) assert.ok(allowed.has(d));
          }
        }
      }
      assert.ok(seen > 1000);
    };
    check(split.train, 0);
    check(split.validation, 1);
  });
});
