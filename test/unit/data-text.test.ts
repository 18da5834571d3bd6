/**
 * Issue #9, finding 8: bad corpora are named for what they are. A binary file (a .wasm), /dev/zero, an empty corpus
 * and a vocabulary that leaves nearly every token [UNK] each get their own message, instead of training to a
 * meaningless "MLM accuracy 100.00 %", "vocabulary has no ordinary pieces" or "is a directory"; and corpus paths
 * are checked while the spec is edited (warnings at the path's range, relative to the spec's folder).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { checkCorpusPaths, prepareData, resolveCorpus, sniffText, type DataTrainingSettings } from '../../src/core/data';

const FIXTURES = join(__dirname, '..', 'fixtures', 'corpus');
const WASM = join(__dirname, '..', '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tfjs-backend-wasm.wasm');

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'convbert-text-'));
  made.push(d);
  return d;
}

const TRAINING: DataTrainingSettings = {
  corpus: ['corpus.txt'],
  tokenizer: { vocabSize: 160, lowercase: true },
  sequenceLength: 32,
  batchSize: 4,
  maskRate: 0.15,
  maxPredictions: 5,
  seed: 7,
  validationFraction: 0.2,
};

describe('data: corpora that are not text', () => {
  it('a binary file (300 KB of wasm) is not text: it holds NUL bytes', () => {
    const dir = tmp();
    copyFileSync(WASM, join(dir, 'model.wasm'));
    assert.throws(
      () => resolveCorpus(['model.wasm'], { baseDir: dir }),
      (e: Error) => e.message.startsWith(`Corpus file ${join(dir, 'model.wasm')} is not text: it holds NUL bytes (the first at byte `),
    );
    // Through a glob too, naming the file.
    writeFileSync(join(dir, 'a.txt'), 'Some text.\n');
    assert.throws(() => resolveCorpus(['*'], { baseDir: dir }), (e: Error) => e.message.includes(`${join(dir, 'model.wasm')} is not text`));
  });

  it('/dev/zero is a character device, not "a directory"', { skip: !existsSync('/dev/zero') }, () => {
    assert.throws(
      () => resolveCorpus(['/dev/zero'], { baseDir: '/' }),
      (e: Error) => e.message === 'Corpus path /dev/zero is not a regular file but a character device (like /dev/zero); give a text file',
    );
  });

  it('invalid UTF-8 and control characters are not text; UTF-8 with a BOM, accents and CJK is', () => {
    const latin1 = new Uint8Array(Array.from({ length: 400 }, (_, i) => 0xc0 + (i % 60)));
    assert.equal(sniffText(latin1, true).kind, 'binary');
    assert.match((sniffText(latin1, true) as { reason: string }).reason, /% of its first \d+ characters are not valid UTF-8/);
    assert.equal(sniffText(new Uint8Array(200).fill(7), true).kind, 'binary');
    const good = Buffer.from('\uFEFFCafé crème, 東京. Line two.\r\n\tTabbed.\n', 'utf8');
    assert.deepEqual(sniffText(good, true), { kind: 'text' });
    // A multi-byte character cut at the end of the head is fine.
    assert.deepEqual(sniffText(good.subarray(0, good.indexOf(0xe6) + 1), false), { kind: 'text' });
    assert.deepEqual(sniffText(Buffer.from(' \n\n\t'), true), { kind: 'empty' });
  });

  it('an empty corpus says so, instead of "vocabulary has no ordinary pieces"', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'corpus.txt'), '');
    await assert.rejects(prepareData({ training: TRAINING, specDir: dir, nsp: false }), (e: Error) => e.message === `The corpus is empty: ${join(dir, 'corpus.txt')} is empty. Put some text in it, or use "corpus": "bundled".`);
    writeFileSync(join(dir, 'b.txt'), '\n   \n');
    assert.throws(() => resolveCorpus(['corpus.txt', 'b.txt'], { baseDir: dir }), (e: Error) => e.message.startsWith('The corpus is empty: all 2 files are empty'));
    // One empty file among texts is fine.
    writeFileSync(join(dir, 'c.txt'), 'Words here.\n');
    assert.equal(resolveCorpus(['corpus.txt', 'c.txt'], { baseDir: dir }).files.length, 2);
  });

  it('a 7-piece vocabulary warns that [UNK] dominates; a vocabulary trained on the corpus does not', async () => {
    const dir = tmp();
    copyFileSync(join(FIXTURES, 'small.txt'), join(dir, 'corpus.txt'));
    writeFileSync(join(dir, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\na\n');
    const warnings: [string, string | undefined][] = [];
    const d = await prepareData({ training: { ...TRAINING, tokenizer: { vocabSize: 160, lowercase: true, vocabFile: 'vocab.txt' } }, specDir: dir, nsp: false, onWarning: (m, h) => warnings.push([m, h]) });
    d.close();
    assert.equal(warnings.length, 1);
    const [message, hint] = warnings[0]!;
    assert.match(message, /^\d+ % of the corpus's tokens are \[UNK\] \(of the first \d+\): the 7-piece vocabulary of training\.tokenizer\.vocabFile does not cover this text/);
    assert.ok(Number(/^(\d+) %/.exec(message)![1]) > 50);
    assert.match(hint ?? '', /leave out vocabFile/);
    const trained: string[] = [];
    const t = await prepareData({ training: TRAINING, specDir: dir, nsp: false, onWarning: (m) => trained.push(m) });
    t.close();
    assert.deepEqual(trained, []);
  });
});

describe('data: corpus paths checked while editing', () => {
  const memo = () => {
    const dir = tmp();
    mkdirSync(join(dir, 'texts'));
    writeFileSync(join(dir, 'texts', 'one.txt'), 'A sentence.\n');
    copyFileSync(WASM, join(dir, 'texts', 'blob.bin'));
    return dir;
  };

  it('warns at each bad path with its range: missing, no glob match, a folder, a device, binary, a missing vocab', () => {
    const dir = memo();
    const text = [
      '{',
      '  "version": 1,',
      '  "extends": "bert-tiny",',
      '  "training": {',
      '    "corpus": ["texts/one.txt", "missing.txt", "none/*.txt", "texts", "/dev/null", "texts/*.bin"],',
      '    "tokenizer": { "vocabFile": "vocab.txt" }',
      '  }',
      '}',
    ].join('\n');
    const ds = checkCorpusPaths(text, dir);
    const seen = ds.map((d) => [d.code, d.severity, `${d.range.start.line + 1}:${d.range.start.character + 1}`, text.slice(d.range.offset, d.range.offset + d.range.length)]);
    assert.deepEqual(seen, [
      ['corpus-path', 'warning', '5:33', '"missing.txt"'],
      ['corpus-path', 'warning', '5:48', '"none/*.txt"'],
      ['corpus-path', 'warning', '5:62', '"texts"'],
      ['corpus-path', 'warning', '5:71', '"/dev/null"'],
      ['corpus-not-text', 'warning', '5:84', '"texts/*.bin"'],
      ['corpus-path', 'warning', '6:33', '"vocab.txt"'],
    ]);
    assert.equal(ds[0]!.message, `no file ${join(dir, 'missing.txt')} (paths are relative to the spec's folder); training would stop here`);
    assert.match(ds[1]!.message, /the glob "none\/\*\.txt" matches no files/);
    assert.match(ds[2]!.message, /is a folder, not a file; use a glob such as "texts\/\*\*\/\*\.txt"/);
    assert.match(ds[3]!.message, /is not a regular file but a character device/);
    assert.match(ds[4]!.message, /blob\.bin is not text: it holds NUL bytes/);
    // The same spec with a BOM: the same places.
    assert.deepEqual(checkCorpusPaths(`\uFEFF${text}`, dir).map((d) => d.range.start), ds.map((d) => d.range.start));
    // Good paths: nothing.
    assert.deepEqual(checkCorpusPaths('{ "version": 1, "training": { "corpus": ["texts/one.txt", "texts/*.txt"] } }', dir), []);
  });

  it('convbert validate prints them as warnings (exit 0), relative to the spec, not the working directory', async () => {
    const dir = memo();
    mkdirSync(join(dir, 'specs'));
    writeFileSync(join(dir, 'specs', 'a.convbert.json'), '{ "version": 1, "extends": "bert-tiny", "training": { "corpus": ["../texts/one.txt", "one.txt"] } }');
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), color: createColors(false), isTTY: false, cwd: dir };
    assert.equal(await runCli(['validate', 'specs/a.convbert.json'], io), 0);
    assert.equal(out.join(''), `specs/a.convbert.json:1:86: warning: no file ${join(dir, 'specs', 'one.txt')} (paths are relative to the spec's folder); training would stop here [corpus-path]\n`);
    assert.match(err.join(''), /1 spec: 0 errors, 1 warning/);
  });
});
