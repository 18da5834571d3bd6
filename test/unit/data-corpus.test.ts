import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CorpusHasher, hashCorpus, readDocuments, resolveCorpus, type CorpusSource, type Document } from '../../src/core/data/corpus';
import { splitSentences } from '../../src/core/data/sentences';
import { readLineBatches } from '../../src/core/data/stream';

const FIXTURES = join(__dirname, '..', 'fixtures', 'corpus');

async function collect(source: CorpusSource, chunkSize?: number): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of readDocuments(source, { chunkSize })) out.push(d);
  return out;
}

describe('data: corpus sources', () => {
  let tmp = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'convbert-corpus-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('splits documents at blank lines and lines into sentences', async () => {
    const docs = await collect(resolveCorpus(['small.txt'], { baseDir: FIXTURES }));
    assert.equal(docs.length, 5);
    assert.deepEqual(docs.map((d) => d.index), [0, 1, 2, 3, 4]);
    assert.deepEqual(docs[0]!.sentences, [
      'The lighthouse stood at the end of the northern pier.',
      'Every evening the keeper climbed its ninety steps to light the lamp.',
      'Ships passing in the night relied on its steady beam.',
      'Fishermen said the light had never failed in forty years.',
    ]);
    assert.equal(docs[2]!.sentences[0], 'Mr. Hale repaired clocks in a narrow shop on the main street.', 'no split after Mr.');
    assert.match(docs[1]!.origin, /small\.txt:4$/);
  });

  it('reads UTF-8 with a BOM and CRLF endings', async () => {
    const docs = await collect(resolveCorpus(['unicode.txt'], { baseDir: FIXTURES }));
    assert.equal(docs.length, 2);
    assert.deepEqual(docs[0]!.sentences, ['Café owners in Zürich serve naïve tourists.', 'The crème brûlée costs €9.']);
    assert.deepEqual(docs[1]!.sentences, ['中文 text appears here — once.']);
  });

  it('streams a file much larger than the chunk size, with multi-byte characters across chunk boundaries', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 150; i++) lines.push(i % 7 === 6 ? '' : `Line ${i} naïve café — 中文 ${'é'.repeat(i % 5)} ends here.`);
    const text = `${lines.join('\n')}\n`;
    const path = join(tmp, 'big.txt');
    writeFileSync(path, text);
    const bytes = Buffer.byteLength(text);
    for (const chunkSize of [2, 7, 64, 1 << 20]) {
      const got: string[] = [];
      for await (const batch of readLineBatches(path, { chunkSize })) got.push(...batch);
      assert.deepEqual(got, lines, `chunkSize ${chunkSize}`);
    }
    assert.ok(bytes > 64 * 50, `fixture spans many chunks (${bytes} bytes)`);
    const whole = await collect(resolveCorpus([path], { baseDir: tmp }));
    const chunked = await collect(resolveCorpus([path], { baseDir: tmp }), 5);
    assert.deepEqual(chunked, whole);
    assert.equal(whole.length, Math.ceil(150 / 7));
  });

  it('cuts a document without blank lines at maxSentencesPerDocument', async () => {
    const path = join(tmp, 'long.txt');
    writeFileSync(path, Array.from({ length: 10 }, (_, i) => `Sentence ${i}.`).join('\n'));
    const src = resolveCorpus([path], { baseDir: tmp });
    const docs: Document[] = [];
    for await (const d of readDocuments(src, { maxSentencesPerDocument: 4 })) docs.push(d);
    assert.deepEqual(docs.map((d) => d.sentences.length), [4, 4, 2]);
    assert.equal(docs[2]!.sentences[1], 'Sentence 9.');
  });

  it('hashes content while streaming: same bytes same hash, any change a new hash, mtime irrelevant', async () => {
    const a = join(tmp, 'h1.txt');
    writeFileSync(a, 'Alpha beta.\n\nGamma delta.\n');
    const src = resolveCorpus([a], { baseDir: tmp });
    const h1 = await hashCorpus(src);
    const hasher = new CorpusHasher('files');
    for await (const _ of readDocuments(src, { hasher, chunkSize: 3 })) void _;
    assert.equal(hasher.digest(), h1, 'hash while reading documents equals hashCorpus');
    assert.equal(await hashCorpus(src, { chunkSize: 2 }), h1, 'independent of chunk size');
    utimesSync(a, new Date(2001, 1, 1), new Date(2001, 1, 1));
    assert.equal(await hashCorpus(src), h1, 'mtime does not matter');
    writeFileSync(a, 'Alpha beta.\n\nGamma delte.\n'); // same size, one byte differs
    assert.notEqual(await hashCorpus(src), h1);
    // splitting the same bytes across two files is a different corpus
    writeFileSync(a, 'Alpha beta.\n');
    const b = join(tmp, 'h2.txt');
    writeFileSync(b, '\nGamma delta.\n');
    assert.notEqual(await hashCorpus(resolveCorpus([a, b], { baseDir: tmp })), h1);
  });

  it('reports a file that disappears after resolution by its path', async () => {
    const p = join(tmp, 'gone.txt');
    writeFileSync(p, 'x\n');
    const src = resolveCorpus([p], { baseDir: tmp });
    rmSync(p);
    await assert.rejects(collect(src), (e: Error) => e.message === `Corpus file not found: ${p}`);
  });

  it('reads the bundled State of the Union corpus: one document per speech', async () => {
    const src = resolveCorpus('bundled', { baseDir: tmp });
    assert.equal(src.kind, 'bundled');
    assert.equal(src.files.length, 233);
    const first = JSON.parse(readFileSync(src.files[0]!, 'utf8')) as { year: number; text: string };
    assert.equal(first.year, 1790);
    const firstTwo: Document[] = [];
    for await (const d of readDocuments({ ...src, files: src.files.slice(0, 2) })) firstTwo.push(d);
    assert.equal(firstTwo.length, 2);
    assert.equal(firstTwo[0]!.origin, 'SOTU 1790 George Washington');
    assert.ok(firstTwo[0]!.sentences.length > 20);
    assert.equal(firstTwo[0]!.sentences.join(' '), first.text.replace(/\s+/g, ' ').trim());
    assert.throws(() => resolveCorpus('bundled', { baseDir: tmp, bundledDir: join(tmp, 'nope') }), /Cannot read the bundled corpus folder/);
  });
});

describe('data: sentence splitter', () => {
  it('cuts at terminators followed by a capital, not after abbreviations or initials', () => {
    assert.deepEqual(splitSentences('It rained. Then it stopped! Did it? "Yes," she said. (Really.) Next one.'), [
      'It rained.',
      'Then it stopped!',
      'Did it?',
      '"Yes," she said.',
      '(Really.)',
      'Next one.',
    ]);
    assert.deepEqual(splitSentences('Dr. Smith met Gen. Grant and John F. Kennedy in the U.S. Capitol. They talked.'), [
      'Dr. Smith met Gen. Grant and John F. Kennedy in the U.S. Capitol.',
      'They talked.',
    ]);
    assert.deepEqual(splitSentences('the value is 3.5 percent. and lower case continues'), ['the value is 3.5 percent. and lower case continues']);
    assert.deepEqual(splitSentences('   '), []);
  });
});
