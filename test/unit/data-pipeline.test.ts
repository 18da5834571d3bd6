import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareData, type DataTrainingSettings, type PreparedData } from '../../src/core/data';

const FIXTURES = join(__dirname, '..', 'fixtures', 'corpus');

const TRAINING: DataTrainingSettings = {
  corpus: ['corpus/*.txt'],
  tokenizer: { vocabSize: 160, lowercase: true },
  sequenceLength: 32,
  batchSize: 4,
  maskRate: 0.15,
  maxPredictions: 5,
  seed: 7,
  validationFraction: 0.2,
};

function batches(d: PreparedData, n: number): string[] {
  return Array.from({ length: n }, () => {
    const b = d.train.next();
    return JSON.stringify([[...b.inputIds], [...b.maskedPositions], [...b.maskedLabels], [...(b.nspLabels ?? [])]]);
  });
}

describe('data: prepareData (spec training section → batches)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'convbert-pipeline-'));
    const corpusDir = join(dir, 'corpus');
    mkdirSync(corpusDir);
    for (const f of ['small.txt', 'unicode.txt']) copyFileSync(join(FIXTURES, f), join(corpusDir, f));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains, tokenizes and caches; a second run loads both caches and yields the same batches', async () => {
    const cacheDir = join(dir, 'cache');
    const messages: string[] = [];
    const first = await prepareData({ training: TRAINING, specDir: dir, nsp: true, cacheDir, onProgress: (m) => messages.push(m) });
    assert.equal(first.tokenizerFrom, 'trained');
    assert.equal(first.corpusCached, false);
    assert.equal(first.tokenizer.vocabSize, 160);
    assert.equal(first.corpus.numDocuments, 7);
    assert.equal(first.split.validation.length, 1);
    assert.ok(first.validation);
    assert.ok(messages.some((m) => m.startsWith('tokens: ')));
    const expected = batches(first, 6);
    first.close();
    const second = await prepareData({ training: TRAINING, specDir: dir, nsp: true, cacheDir });
    assert.equal(second.tokenizerFrom, 'cache');
    assert.equal(second.corpusCached, true);
    assert.equal(second.corpusHash, first.corpusHash);
    assert.deepEqual(batches(second, 6), expected);
    second.close();
    // reading tokens from disk on demand gives the same batches as holding them in memory
    const onDisk = await prepareData({ training: TRAINING, specDir: dir, nsp: true, cacheDir, inMemoryLimitBytes: 0 });
    assert.equal(onDisk.corpus.tokens.inMemory, false);
    assert.deepEqual(batches(onDisk, 6), expected);
    onDisk.close();
    // and so does running without a cache at all
    const noCache = await prepareData({ training: TRAINING, specDir: dir, nsp: true });
    assert.deepEqual(batches(noCache, 6), expected);
  });

  it('uses a vocab file relative to the spec, and the NSP flag', async () => {
    const first = await prepareData({ training: TRAINING, specDir: dir, nsp: false });
    writeFileSync(join(dir, 'vocab.txt'), first.tokenizer.toVocabFile());
    const d = await prepareData({ training: { ...TRAINING, tokenizer: { vocabSize: 999, vocabFile: 'vocab.txt', lowercase: true } }, specDir: dir, nsp: false });
    assert.equal(d.tokenizerFrom, 'vocabFile');
    assert.deepEqual(d.tokenizer.vocab, first.tokenizer.vocab);
    const b = d.train.next();
    assert.equal(b.nspLabels, undefined);
    assert.ok(b.tokenTypeIds.every((v) => v === 0));
  });

  it('reports missing inputs by path', async () => {
    await assert.rejects(prepareData({ training: { ...TRAINING, corpus: ['corpus/missing.txt'] }, specDir: dir, nsp: true }), (e: Error) => e.message.includes(join(dir, 'corpus', 'missing.txt')));
    await assert.rejects(prepareData({ training: { ...TRAINING, corpus: ['texts/**/*.txt'] }, specDir: dir, nsp: true }), /"texts\/\*\*\/\*\.txt" matched no files/);
    await assert.rejects(
      prepareData({ training: { ...TRAINING, tokenizer: { vocabSize: 100, vocabFile: 'nope.txt', lowercase: true } }, specDir: dir, nsp: true }),
      (e: Error) => e.message === `Vocabulary file not found: ${join(dir, 'nope.txt')}`,
    );
  });
});
