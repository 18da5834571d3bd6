/**
 * Data pipeline figures on the bundled State of the Union corpus (10.8 MB): corpus read + hash, WordPiece training
 * at vocab 8192, encoding throughput, corpus tokenization, cache reload, and batches/s at 16 × 128.
 * Not a test: it prints figures. Run with `npx tsx bench/data.bench.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BatchIterator,
  hashCorpus,
  prepareData,
  readDocuments,
  resolveCorpus,
  splitDocuments,
  tokenizeCorpus,
  trainWordPiece,
  WordCounter,
  WordPieceTokenizer,
  type DataTrainingSettings,
} from '../src/core/data';

const VOCAB = 8192;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (x: number): string => `${x.toFixed(0)} ms`;
let sink = 0;

async function main(): Promise<void> {
  const source = resolveCorpus('bundled', { baseDir: process.cwd() });
  let t = performance.now();
  const hash = await hashCorpus(source);
  const hashMs = performance.now() - t;

  t = performance.now();
  const sentences: string[] = [];
  let bytes = 0;
  for await (const d of readDocuments(source)) for (const s of d.sentences) {
    sentences.push(s);
    bytes += s.length;
  }
  const readMs = performance.now() - t;
  console.log(`corpus: ${source.files.length} speeches, ${sentences.length} sentences, ${(bytes / 1e6).toFixed(1)} M chars; hash ${ms(hashMs)} (${hash.slice(0, 12)}), read + sentence split ${ms(readMs)}`);

  const countTimes: number[] = [];
  let counter = new WordCounter(true);
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    counter = new WordCounter(true);
    for (const s of sentences) counter.addText(s);
    countTimes.push(performance.now() - t);
  }
  const trainTimes: number[] = [];
  let vocab: string[] = [];
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    const res = trainWordPiece(counter.counts, { vocabSize: VOCAB });
    trainTimes.push(performance.now() - t);
    vocab = res.vocab;
  }
  console.log(
    `tokenizer training @${VOCAB}: word count ${ms(median(countTimes))} (${counter.words} words, ${counter.counts.size} distinct), merges ${ms(median(trainTimes))} → ${vocab.length} pieces; total ≈ ${ms(readMs + median(countTimes) + median(trainTimes))} (median of 3)`,
  );

  const tok = new WordPieceTokenizer(vocab, { lowercase: true });
  t = performance.now();
  let tokens = 0;
  for (const s of sentences) tokens += tok.encode(s).length;
  const coldMs = performance.now() - t;
  const warm: number[] = [];
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    for (const s of sentences) sink += tok.encode(s).length;
    warm.push(performance.now() - t);
  }
  console.log(
    `encoding: ${tokens} tokens (${(tokens / counter.words).toFixed(3)} tokens/word); cold word cache ${ms(coldMs)} = ${((tokens / coldMs) * 1000 / 1e6).toFixed(2)} M tok/s, warm ${ms(median(warm))} = ${((tokens / median(warm)) * 1000 / 1e6).toFixed(2)} M tok/s`,
  );

  t = performance.now();
  const corpus = await tokenizeCorpus(source, tok);
  console.log(`tokenizeCorpus (stream, in memory): ${ms(performance.now() - t)} → ${corpus.numTokens} tokens, ${corpus.numDocuments} documents, ${corpus.numSentences} sentences`);

  const split = splitDocuments(corpus, 0.02);
  for (const nsp of [true, false]) {
    const it = new BatchIterator(corpus, split.train, tok, { sequenceLength: 128, batchSize: 16, maxPredictions: 20, maskRate: 0.15, nsp, seed: 42 });
    for (let i = 0; i < 50; i++) it.next();
    let n = 0;
    let real = 0;
    t = performance.now();
    while (performance.now() - t < 1500) {
      const b = it.next();
      for (let i = 0; i < b.attentionMask.length; i++) real += b.attentionMask[i] as number;
      n++;
    }
    const sec = (performance.now() - t) / 1000;
    console.log(
      `batches 16×128 (NSP ${nsp ? 'on ' : 'off'}): ${(n / sec).toFixed(0)} batches/s = ${((n * 16 * 128) / sec / 1e6).toFixed(2)} M tokens/s; ${it.examplesInEpoch} sequences/epoch (train split), non-padding ${((100 * real) / (n * 16 * 128)).toFixed(1)}%`,
    );
  }

  // end to end with a cache folder: first run (train + tokenize + write), second run (load), on-disk token store
  const cacheDir = mkdtempSync(join(tmpdir(), 'convbert-databench-'));
  try {
    const training: DataTrainingSettings = {
      corpus: 'bundled',
      tokenizer: { vocabSize: VOCAB, lowercase: true },
      sequenceLength: 128,
      batchSize: 16,
      maskRate: 0.15,
      maxPredictions: 20,
      seed: 42,
      validationFraction: 0.02,
    };
    t = performance.now();
    const first = await prepareData({ training, specDir: process.cwd(), nsp: true, cacheDir });
    const firstMs = performance.now() - t;
    first.close();
    t = performance.now();
    const second = await prepareData({ training, specDir: process.cwd(), nsp: true, cacheDir });
    const secondMs = performance.now() - t;
    second.close();
    const disk = await prepareData({ training, specDir: process.cwd(), nsp: true, cacheDir, inMemoryLimitBytes: 0 });
    let n = 0;
    t = performance.now();
    while (performance.now() - t < 1000) {
      disk.train.next();
      n++;
    }
    const diskRate = n / ((performance.now() - t) / 1000);
    disk.close();
    console.log(`prepareData: first run ${ms(firstMs)} (hash + train + tokenize + write cache), cached run ${ms(secondMs)} (hash + load); on-disk token store ${diskRate.toFixed(0)} batches/s`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
  if (sink === -1) console.log(sink);
}

void main();
