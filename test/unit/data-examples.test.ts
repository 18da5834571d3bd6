import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchIterator, type Batch } from '../../src/core/data/batches';
import { buildEpochPlan, maskRow, writeExample, type ExampleConfig, type ExampleRows } from '../../src/core/data/examples';
import { Rng } from '../../src/core/rng';
import { documentRange, tokenizeDocuments, type TokenizedCorpus } from '../../src/core/data/tokenized';
import { trainWordPiece, WordCounter } from '../../src/core/data/trainer';
import { WordPieceTokenizer } from '../../src/core/data/wordpiece';

/** Seeded synthetic documents: sentences of 3–18 pseudo-words. */
function syntheticDocs(numDocs: number, seed: number): string[][] {
  const r = Rng.fromSeed(seed);
  const syl = ['ka', 'to', 'ri', 'men', 'sa', 'lo', 'vi', 'dor', 'pe', 'nu', 'gal', 'ti', 'ber', 'os'];
  const words = Array.from({ length: 80 }, () => Array.from({ length: r.range(1, 3) }, () => syl[r.int(syl.length)]).join(''));
  return Array.from({ length: numDocs }, () =>
    Array.from({ length: r.range(3, 25) }, () => `${Array.from({ length: r.range(3, 18) }, () => words[r.int(words.length)]).join(' ')}.`),
  );
}

function setup(numDocs = 120, seed = 5): { tok: WordPieceTokenizer; corpus: TokenizedCorpus; all: Int32Array } {
  const docs = syntheticDocs(numDocs, seed);
  const c = new WordCounter(true);
  for (const d of docs) for (const s of d) c.addText(s);
  const tok = new WordPieceTokenizer(trainWordPiece(c.counts, { vocabSize: 150 }).vocab, { lowercase: true });
  const corpus = tokenizeDocuments(docs, tok);
  return { tok, corpus, all: Int32Array.from({ length: corpus.numDocuments }, (_, i) => i) };
}

function rowsFor(S: number, P: number, nsp: boolean): ExampleRows {
  return {
    inputIds: new Int32Array(S),
    tokenTypeIds: new Int32Array(S),
    attentionMask: new Int32Array(S),
    maskedPositions: new Int32Array(P),
    maskedLabels: new Int32Array(P),
    maskedWeights: new Float32Array(P),
    ...(nsp ? { nspLabels: new Int32Array(1) } : {}),
  };
}

/** The row with the masked-LM substitutions undone. */
function unmask(b: Batch, row: number): Int32Array {
  const ids = b.inputIds.slice(row * b.sequenceLength, (row + 1) * b.sequenceLength);
  for (let j = 0; j < b.maxPredictions; j++) {
    const k = row * b.maxPredictions + j;
    if (b.maskedWeights[k] === 1) ids[b.maskedPositions[k]!] = b.maskedLabels[k]!;
  }
  return ids;
}

describe('data: masking', () => {
  const { tok, corpus, all } = setup();
  const sp = tok.special;

  it('selects ≈ maskRate of the non-special tokens, 80% [MASK] / 10% random / 10% unchanged, never specials or padding', () => {
    const cfg = { sequenceLength: 64, maxPredictions: 16, maskRate: 0.15, nsp: false, batchSize: 32, seed: 11 };
    const it_ = new BatchIterator(corpus, all, tok, cfg);
    let candidates = 0;
    let selected = 0;
    let asMask = 0;
    let unchanged = 0;
    let random = 0;
    for (let step = 0; step < 60; step++) {
      const b = it_.next();
      for (let r = 0; r < b.batchSize; r++) {
        const S = b.sequenceLength;
        const P = b.maxPredictions;
        const real = b.attentionMask.subarray(r * S, (r + 1) * S).reduce((s, v) => s + v, 0);
        candidates += real - 2;
        let prev = -1;
        let k = 0;
        for (let j = 0; j < P; j++) {
          const w = b.maskedWeights[r * P + j]!;
          const pos = b.maskedPositions[r * P + j]!;
          const label = b.maskedLabels[r * P + j]!;
          if (w === 0) {
            assert.equal(pos, 0);
            assert.equal(label, 0);
            continue;
          }
          assert.equal(w, 1);
          assert.equal(j, k++, 'real predictions first, padding after');
          assert.ok(pos > prev, 'positions ascending and distinct');
          prev = pos;
          assert.ok(pos > 0 && pos < real - 1, `position ${pos} inside the real tokens, not [CLS]/[SEP]/padding`);
          assert.ok(!tok.isSpecial(label), 'labels are never special tokens');
          const now = b.inputIds[r * S + pos]!;
          if (now === sp.mask) asMask++;
          else if (now === label) unchanged++;
          else {
            random++;
            assert.ok(!tok.isSpecial(now), 'random replacements are ordinary tokens');
          }
        }
        assert.ok(k >= 1 && k <= P);
        selected += k;
        const u = unmask(b, r);
        assert.equal(u[0], sp.cls);
        assert.equal(u[real - 1], sp.sep);
        for (let p = 1; p < real - 1; p++) assert.ok(!tok.isSpecial(u[p]!), 'only [CLS] and [SEP] are special before masking');
        for (let p = real; p < S; p++) assert.equal(b.inputIds[r * S + p], sp.pad);
      }
    }
    const rate = selected / candidates;
    console.log(`# masking: selected ${rate.toFixed(4)} of ${candidates}; [MASK] ${(asMask / selected).toFixed(4)}, unchanged ${(unchanged / selected).toFixed(4)}, random ${(random / selected).toFixed(4)}`);
    assert.ok(Math.abs(rate - 0.15) < 0.006, `selected ${rate}`);
    assert.ok(Math.abs(asMask / selected - 0.8) < 0.015, `[MASK] ${asMask / selected}`);
    assert.ok(Math.abs(unchanged / selected - 0.1) < 0.012, `unchanged ${unchanged / selected}`);
    assert.ok(Math.abs(random / selected - 0.1) < 0.012, `random ${random / selected}`);
  });

  it('caps predictions at maxPredictions and labels the original tokens', () => {
    const S = 40;
    const P = 3;
    const rows = rowsFor(S, P, false);
    const original = [sp.cls, ...Array.from({ length: 37 }, (_, i) => 5 + (i % 50)), sp.sep, sp.pad];
    rows.inputIds.set(original);
    maskRow(rows, 0, 39, S, P, tok, 0.5, Rng.fromSeed(1));
    assert.equal(rows.maskedWeights.reduce((s, v) => s + v, 0), 3);
    for (let j = 0; j < P; j++) assert.equal(rows.maskedLabels[j], original[rows.maskedPositions[j]!]);
    for (let p = 0; p < S; p++) {
      if (![...rows.maskedPositions].includes(p)) assert.equal(rows.inputIds[p], original[p], 'unselected positions unchanged');
    }
  });
});

describe('data: packing and NSP', () => {
  const { tok, corpus, all } = setup();
  const sp = tok.special;

  for (const S of [8, 64, 128]) {
    it(`without NSP, chunks tile every document, fit S−2 = ${S - 2}, fill it, and can prefer sentence boundaries (S = ${S})`, () => {
      const fill = buildEpochPlan(corpus, all, { sequenceLength: S, maxPredictions: 10, maskRate: 0.15, nsp: false }, Rng.fromSeed(3));
      // chunks that do not end a document are (but for the ~10% short-target ones) at least 90% full
      let inner = 0;
      let full = 0;
      for (let i = 0; i < fill.length; i++) {
        if (fill.end[i] === documentRange(corpus, fill.doc[i]!)[1]) continue;
        inner++;
        if (fill.end[i]! - fill.start[i]! >= Math.ceil(0.9 * (S - 2))) full++;
      }
      assert.ok(inner > 50 && full / inner > 0.8, `default packing: ${full}/${inner} inner chunks ≥ 90% full`);
      const cfg: ExampleConfig = { sequenceLength: S, maxPredictions: 10, maskRate: 0.15, nsp: false, minFill: 0.5 };
      const plan = buildEpochPlan(corpus, all, cfg, Rng.fromSeed(3));
      const byDoc = new Map<number, [number, number][]>();
      for (let i = 0; i < plan.length; i++) {
        const len = plan.end[i]! - plan.start[i]!;
        assert.ok(len >= 1 && len <= S - 2);
        assert.equal(plan.split[i], plan.end[i]);
        byDoc.set(plan.doc[i]!, [...(byDoc.get(plan.doc[i]!) ?? []), [plan.start[i]!, plan.end[i]!]]);
      }
      assert.equal(byDoc.size, corpus.numDocuments);
      const boundaries = new Set(corpus.sentenceStart);
      let atBoundary = 0;
      for (const [d, chunks] of byDoc) {
        chunks.sort((a, b) => a[0] - b[0]);
        const [s, e] = documentRange(corpus, d);
        assert.equal(chunks[0]![0], s);
        for (let k = 1; k < chunks.length; k++) assert.equal(chunks[k]![0], chunks[k - 1]![1], 'no gap, no overlap');
        assert.equal(chunks.at(-1)![1], e);
        for (const c of chunks) if (boundaries.has(c[1])) atBoundary++;
      }
      if (S >= 64) assert.ok(atBoundary / plan.length > 0.85, `${atBoundary}/${plan.length} end at a sentence boundary`);
      // every row holds exactly its chunk's tokens
      const rows = rowsFor(S, 10, false);
      const rng = Rng.fromSeed(4);
      for (let i = 0; i < Math.min(plan.length, 200); i++) {
        rows.inputIds.fill(0);
        rows.attentionMask.fill(0);
        rows.maskedWeights.fill(0);
        writeExample(plan, i, 0, rows, corpus, all, tok, cfg, rng);
        const b = { ...rows, batchSize: 1, sequenceLength: S, maxPredictions: 10 } as Batch;
        const u = unmask(b, 0);
        const want = [sp.cls, ...corpus.tokens.read(plan.start[i]!, plan.end[i]!), sp.sep];
        assert.deepEqual([...u.subarray(0, want.length)], want);
        assert.equal(rows.attentionMask.reduce((s, v) => s + v, 0), want.length);
        assert.ok(rows.tokenTypeIds.every((v) => v === 0));
      }
    });
  }

  it('with NSP, builds [CLS] A [SEP] B [SEP] with segment ids, ~50% random next, real next really following', () => {
    const S = 64;
    const cfg: ExampleConfig = { sequenceLength: S, maxPredictions: 10, maskRate: 0.15, nsp: true };
    const rows = rowsFor(S, 10, true);
    const rng = Rng.fromSeed(9);
    let randomNext = 0;
    let total = 0;
    for (const seed of [8, 18, 28]) {
      const plan = buildEpochPlan(corpus, all, cfg, Rng.fromSeed(seed));
      total += plan.length;
      for (let i = 0; i < plan.length; i++) {
        rows.inputIds.fill(0);
        rows.tokenTypeIds.fill(0);
        rows.attentionMask.fill(0);
        rows.maskedWeights.fill(0);
        rows.maskedPositions.fill(0);
        writeExample(plan, i, 0, rows, corpus, all, tok, cfg, rng);
        const u = unmask({ ...rows, batchSize: 1, sequenceLength: S, maxPredictions: 10 } as Batch, 0);
        const real = rows.attentionMask.reduce((s, v) => s + v, 0);
        assert.ok(real <= S);
        const seps = [...u.subarray(0, real)].flatMap((v, p) => (v === sp.sep ? [p] : []));
        assert.equal(seps.length, 2);
        const [sep1, sep2] = seps as [number, number];
        assert.equal(u[0], sp.cls);
        assert.equal(sep2, real - 1);
        assert.ok(sep1 >= 2 && sep2 - sep1 >= 2, 'A and B are not empty');
        for (let p = 0; p < S; p++) assert.equal(rows.tokenTypeIds[p], p > sep1 && p <= sep2 ? 1 : 0, `token type at ${p}`);
        for (let p = 0; p < S; p++) assert.equal(rows.attentionMask[p], p < real ? 1 : 0);
        const label = rows.nspLabels![0]!;
        assert.equal(label, plan.randomNext[i]);
        const a = [...u.subarray(1, sep1)];
        assert.deepEqual(a, [...corpus.tokens.read(plan.start[i]!, plan.split[i]!)]);
        if (label === 0) {
          assert.deepEqual([...u.subarray(sep1 + 1, sep2)], [...corpus.tokens.read(plan.split[i]!, plan.end[i]!)], 'B is the text right after A');
        } else {
          randomNext++;
          const b = u.subarray(sep1 + 1, sep2);
          let found = false;
          for (let d = 0; d < corpus.numDocuments && !found; d++) {
            if (d === plan.doc[i]) continue;
            for (let st = corpus.docSentenceStart[d]!; st < corpus.docSentenceStart[d + 1]! && !found; st++) {
              const at = corpus.sentenceStart[st]!;
              if (at + b.length <= documentRange(corpus, d)[1]) found = corpus.tokens.read(at, at + b.length).every((v, k) => v === b[k]);
            }
          }
          assert.ok(found, 'random B is text from another document, starting at a sentence');
        }
      }
    }
    const frac = randomNext / total;
    assert.ok(total > 1500, `${total} examples`);
    assert.ok(Math.abs(frac - 0.5) < 0.04, `random-next fraction ${frac} over ${total}`);
  });

  it('with NSP, the A parts of random-next chunks and whole real-next chunks tile each document', () => {
    const cfg: ExampleConfig = { sequenceLength: 32, maxPredictions: 5, maskRate: 0.15, nsp: true };
    const plan = buildEpochPlan(corpus, all, cfg, Rng.fromSeed(12));
    const covered = new Map<number, [number, number][]>();
    for (let i = 0; i < plan.length; i++) {
      assert.ok(plan.end[i]! - plan.start[i]! <= 29);
      assert.ok(plan.split[i]! > plan.start[i]! && plan.split[i]! < plan.end[i]!);
      const piece: [number, number] = [plan.start[i]!, plan.randomNext[i] ? plan.split[i]! : plan.end[i]!];
      covered.set(plan.doc[i]!, [...(covered.get(plan.doc[i]!) ?? []), piece]);
    }
    for (const [d, pieces] of covered) {
      pieces.sort((a, b) => a[0] - b[0]);
      const [s, e] = documentRange(corpus, d);
      assert.equal(pieces[0]![0], s);
      for (let k = 1; k < pieces.length; k++) assert.equal(pieces[k]![0], pieces[k - 1]![1]);
      assert.equal(pieces.at(-1)![1], e);
    }
  });

  it('rejects impossible configurations', () => {
    assert.throws(() => buildEpochPlan(corpus, all, { sequenceLength: 4, maxPredictions: 1, maskRate: 0.15, nsp: true }, Rng.fromSeed(1)), /sequenceLength/);
    assert.throws(() => buildEpochPlan(corpus, all, { sequenceLength: 16, maxPredictions: 0, maskRate: 0.15, nsp: false }, Rng.fromSeed(1)), /maxPredictions/);
    assert.throws(() => buildEpochPlan(corpus, all, { sequenceLength: 16, maxPredictions: 2, maskRate: 0, nsp: false }, Rng.fromSeed(1)), /maskRate/);
  });
});
