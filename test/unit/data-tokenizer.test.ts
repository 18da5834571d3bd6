import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import '../fast-check-seed';
import { preTokenize } from '../../src/core/data/pretokenize';
import { SPECIAL_TOKENS, WordPieceTokenizer } from '../../src/core/data/wordpiece';

const BASE = [...SPECIAL_TOKENS];
const tok = (pieces: string[], lowercase = true): WordPieceTokenizer => new WordPieceTokenizer([...BASE, ...pieces], { lowercase });

describe('data: BERT pre-tokenization', () => {
  it('splits on whitespace and punctuation, lower-cases and strips accents', () => {
    assert.deepEqual(preTokenize("Hello, World! It's naïve CAFÉ.", true), ['hello', ',', 'world', '!', 'it', "'", 's', 'naive', 'cafe', '.']);
    assert.deepEqual(preTokenize('Héllo, World', false), ['Héllo', ',', 'World'], 'cased keeps accents');
    assert.deepEqual(preTokenize('$5.00 a-b x~y', true), ['$', '5', '.', '00', 'a', '-', 'b', 'x', '~', 'y'], 'ASCII symbols count as punctuation');
    assert.deepEqual(preTokenize('ab中文cd', true), ['ab', '中', '文', 'cd'], 'CJK ideographs are words');
    assert.deepEqual(preTokenize('zero\u200bwidth\u0000 gone\ufffd \t\n ', true), ['zerowidth', 'gone'], 'control/format characters removed');
    assert.deepEqual(preTokenize('em—dash', true), ['em', '—', 'dash'], 'Unicode punctuation splits');
    assert.deepEqual(preTokenize('90°', true), ['90°'], 'symbols that are not punctuation stay attached');
  });
});

describe('data: WordPiece encoding', () => {
  const t = tok(['un', '##aff', '##able', 'runn', '##ing', 'run', 'a', '##a', ',', 'want', '##want', '##ed', 'wa']);

  it('cuts greedily, longest match first (BERT examples)', () => {
    assert.deepEqual(t.tokenize('unaffable'), ['un', '##aff', '##able']);
    // BERT's own tokenization_test.py example
    assert.deepEqual(t.tokenize('UNwant\u00E9d,running'), ['un', '##want', '##ed', ',', 'runn', '##ing']);
    assert.deepEqual(t.tokenize('unwantedX running'), ['[UNK]', 'runn', '##ing']);
    assert.deepEqual(t.tokenize('wanted running'), ['want', '##ed', 'runn', '##ing']);
    assert.deepEqual(t.tokenize('aaa'), ['a', '##a', '##a']);
  });

  it('maps words it cannot cut, unknown characters and over-long words to a single [UNK]', () => {
    assert.deepEqual(t.tokenize('unaffablez'), ['[UNK]'], 'no piece for the tail: the whole word is [UNK]');
    assert.deepEqual(t.tokenize('run ☃ run'), ['run', '[UNK]', 'run']);
    assert.deepEqual(t.encode('xyz'), [t.special.unk]);
    const long = new WordPieceTokenizer([...BASE, 'a', '##a'], { lowercase: true, maxInputCharsPerWord: 5 });
    assert.deepEqual(long.tokenize('aaaaa aaaaaa'), ['a', '##a', '##a', '##a', '##a', '[UNK]']);
  });

  it('puts specials where the vocabulary says and excludes them (and [unusedN]) from random replacement', () => {
    const bertStyle = new WordPieceTokenizer(['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', '##s'], { lowercase: true });
    assert.deepEqual(bertStyle.special, { pad: 0, unk: 3, cls: 4, sep: 5, mask: 6 });
    assert.deepEqual([...bertStyle.replacementIds], [7, 8]);
    assert.ok(bertStyle.isSpecial(6) && !bertStyle.isSpecial(7));
  });

  it('decodes: continuation pieces glue, specials can be skipped', () => {
    const ids = [t.special.cls, ...t.encode('unaffable running'), t.special.sep];
    assert.equal(t.decode(ids), '[CLS] unaffable running [SEP]');
    assert.equal(t.decode(ids, { skipSpecial: true }), 'unaffable running');
  });

  it('round-trips any text over the vocabulary alphabet: decode(encode(x)) = pre-tokenized x', () => {
    const letters = 'abcdefgh';
    const pieces = [...letters].flatMap((c) => [c, `##${c}`]).concat([',', '.', '!', 'ab', '##cd', 'abc', '##efg', 'hh']);
    const tk = tok(pieces);
    const text = fc.stringMatching(/^[a-hA-H ,.!\n]{0,60}$/);
    fc.assert(
      fc.property(text, (x) => {
        const ids = tk.encode(x);
        assert.ok(!ids.includes(tk.special.unk));
        assert.equal(tk.decode(ids), preTokenize(x, true).join(' '));
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it('saves and loads BERT vocab.txt (one piece per line, line number = id)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convbert-vocab-'));
    try {
      const path = join(dir, 'vocab.txt');
      t.save(path);
      const back = WordPieceTokenizer.fromVocabFile(path, { lowercase: true });
      assert.deepEqual(back.vocab, t.vocab);
      assert.equal(t.toVocabFile().split('\n')[0], '[PAD]');
      assert.equal(t.toVocabFile().split('\n').length, t.vocabSize + 1);
      writeFileSync(path, '[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nx\r\n');
      assert.deepEqual(WordPieceTokenizer.fromVocabFile(path, { lowercase: true }).vocab.slice(5), ['x'], 'CRLF accepted');
      writeFileSync(path, '[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\n');
      assert.throws(() => WordPieceTokenizer.fromVocabFile(path, { lowercase: true }), (e: Error) => e.message.includes(path) && e.message.includes('[MASK]'));
      writeFileSync(path, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nx\nx\n');
      assert.throws(() => WordPieceTokenizer.fromVocabFile(path, { lowercase: true }), /line 7 repeats the piece "x" \(first on line 6\)/);
      assert.throws(() => WordPieceTokenizer.fromVocabFile(join(dir, 'none.txt'), { lowercase: true }), (e: Error) => e.message === `Vocabulary file not found: ${join(dir, 'none.txt')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
