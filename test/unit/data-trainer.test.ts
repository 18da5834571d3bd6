import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readDocuments, resolveCorpus } from '../../src/core/data/corpus';
import { Rng } from '../../src/core/rng';
import { trainTokenizer } from '../../src/core/data/tokenizer-cache';
import { trainWordPiece, WordCounter } from '../../src/core/data/trainer';
import { SPECIAL_TOKENS, WordPieceTokenizer } from '../../src/core/data/wordpiece';

const FIXTURES = join(__dirname, '..', 'fixtures', 'corpus');

async function fixtureSentences(): Promise<string[][]> {
  const docs: string[][] = [];
  for await (const d of readDocuments(resolveCorpus(['small.txt', 'unicode.txt'], { baseDir: FIXTURES }))) docs.push(d.sentences);
  return docs;
}

function count(docs: string[][], lowercase = true): Map<string, number> {
  const c = new WordCounter(lowercase);
  for (const d of docs) for (const s of d) c.addText(s);
  return c.counts;
}

function mapOf(entries: [string, number][]): Map<string, number> {
  return new Map(entries);
}

describe('data: WordPiece trainer', () => {
  it('merges the most frequent pair first, with ## continuation pieces', () => {
    const r = trainWordPiece(mapOf([['hug', 10], ['pug', 5], ['hugs', 5]]), { vocabSize: 100 });
    assert.deepEqual(r.vocab.slice(0, 5), [...SPECIAL_TOKENS]);
    assert.deepEqual(r.vocab.slice(5, 15), ['g', 'h', 'p', 's', 'u', '##g', '##h', '##p', '##s', '##u']);
    // (##u,##g) 20 → ##ug; (h,##ug) 15 → hug; then a tie at 5: (hug,##s) before (p,##ug) because "hug" < "p"
    assert.deepEqual(r.vocab.slice(15), ['##ug', 'hug', 'hugs', 'pug']);
    assert.equal(r.stopped, 'exhausted');
    assert.equal(r.alphabet, 10);
  });

  it('breaks ties by the pieces, not by the order words were counted in', () => {
    const size = 5 + 8 + 1;
    assert.equal(trainWordPiece(mapOf([['cd', 1], ['ab', 1]]), { vocabSize: size }).vocab.at(-1), 'ab');
    assert.equal(trainWordPiece(mapOf([['ab', 1], ['cd', 1]]), { vocabSize: size }).vocab.at(-1), 'ab');
    assert.equal(trainWordPiece(mapOf([['ab', 1], ['cd', 2]]), { vocabSize: size }).vocab.at(-1), 'cd', 'count first');
  });

  it('produces exactly the requested size, the same file twice, whatever the document order', async () => {
    const docs = await fixtureSentences();
    const a = trainWordPiece(count(docs), { vocabSize: 200 });
    assert.equal(a.vocab.length, 200);
    assert.equal(a.stopped, 'size');
    assert.equal(new Set(a.vocab).size, 200, 'no duplicate pieces');
    const b = trainWordPiece(count(docs), { vocabSize: 200 });
    assert.equal(b.vocab.join('\n'), a.vocab.join('\n'));
    const shuffled = Rng.fromSeed(9).shuffle(docs.map((d) => [...d].reverse()));
    assert.equal(trainWordPiece(count(shuffled), { vocabSize: 200 }).vocab.join('\n'), a.vocab.join('\n'));
    for (const size of [20, 77, 150, 201]) assert.equal(trainWordPiece(count(docs), { vocabSize: size }).vocab.length, size);
  });

  it('stops below the size when every word is already one piece', () => {
    const r = trainWordPiece(mapOf([['aa', 3], ['bb', 1]]), { vocabSize: 1000 });
    assert.equal(r.stopped, 'exhausted');
    assert.deepEqual(r.vocab.slice(5), ['a', 'b', '##a', '##b', 'aa', 'bb']);
  });

  it('keeps the most frequent characters when the alphabet does not fit', () => {
    const r = trainWordPiece(mapOf([['a', 10], ['b', 5], ['c', 1]]), { vocabSize: 9 });
    assert.deepEqual(r.vocab.slice(5), ['a', 'b', '##a', '##b']);
    assert.throws(() => trainWordPiece(mapOf([['a', 1]]), { vocabSize: 6 }), RangeError);
  });

  it('trains a tokenizer that encodes its own corpus without [UNK] and round-trips it', async () => {
    const docs = await fixtureSentences();
    const tok = new WordPieceTokenizer(trainWordPiece(count(docs), { vocabSize: 300 }).vocab, { lowercase: true });
    let pieces = 0;
    let chars = 0;
    for (const d of docs) {
      for (const s of d) {
        pieces += tok.encode(s).length;
        chars += s.replace(/\s/g, '').length;
        const ids = tok.encode(s);
        assert.ok(!ids.includes(tok.special.unk), s);
        assert.equal(tok.decode(ids), tok.decode(tok.encode(tok.decode(ids))));
      }
    }
    assert.ok(pieces < 0.5 * chars, `merges compress: ${pieces} pieces for ${chars} characters`);
  });

  it('is deterministic on real text (10 State of the Union speeches, vocab 1000)', async () => {
    const src = resolveCorpus('bundled', { baseDir: FIXTURES });
    const docs: string[][] = [];
    for await (const d of readDocuments({ ...src, files: src.files.slice(100, 110) })) docs.push(d.sentences);
    const a = trainWordPiece(count(docs), { vocabSize: 1000 });
    const b = trainWordPiece(count([...docs].reverse()), { vocabSize: 1000 });
    assert.equal(a.vocab.length, 1000);
    assert.deepEqual(a.vocab, b.vocab);
  });

  it('caches the vocabulary by corpus content and settings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convbert-tokcache-'));
    try {
      const file = join(dir, 'c.txt');
      writeFileSync(file, 'The cat sat on the mat.\nThe dog sat on the log.\n\nA bird sang in the tree.\n');
      const src = resolveCorpus(['c.txt'], { baseDir: dir });
      const cache = join(dir, 'cache');
      const first = await trainTokenizer(src, { vocabSize: 40, lowercase: true }, { cacheDir: cache });
      assert.equal(first.cached, false);
      assert.ok(first.stats && first.stats.words === 21);
      const second = await trainTokenizer(src, { vocabSize: 40, lowercase: true }, { cacheDir: cache });
      assert.equal(second.cached, true);
      assert.equal(second.vocabPath, first.vocabPath);
      assert.deepEqual(second.tokenizer.vocab, first.tokenizer.vocab);
      const other = await trainTokenizer(src, { vocabSize: 41, lowercase: true }, { cacheDir: cache });
      assert.equal(other.cached, false);
      assert.notEqual(other.vocabPath, first.vocabPath);
      writeFileSync(file, 'The cat sat on the mat.\nThe dog sat on the fog.\n\nA bird sang in the tree.\n');
      const changed = await trainTokenizer(src, { vocabSize: 40, lowercase: true }, { cacheDir: cache });
      assert.equal(changed.cached, false, 'content change invalidates');
      assert.notEqual(changed.corpusHash, first.corpusHash);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
