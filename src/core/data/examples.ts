/**
 * BERT pretraining examples, as `create_pretraining_data.py` builds them, with two changes that make an epoch a
 * fixed, shuffleable list ("plan") computed from (seed, epoch) alone:
 *
 * * Packing: each document is cut into contiguous chunks of a target length (the full `S − 3` with NSP or `S − 2`
 *   without; with probability `shortSeqProb` a random shorter one, as BERT). A chunk ends at the last sentence
 *   boundary in its last `1 − minFill` when there is one, else exactly at the target (the cut sentence continues
 *   the next chunk), so no token is truncated away and little is padding.
 * * NSP: a chunk is split at a random sentence boundary (or a random token if it holds none) into A and B. With
 *   probability `randomNextProb` B is replaced by text from a random other document at build time, and the real B
 *   is "put back" (the next chunk starts where A ended), as BERT does. Label 0 = B really follows A, 1 = random.
 *
 * Masking (fresh at every epoch, "dynamic masking"): of the positions that are not special tokens, a stochastic
 * rounding of `maskRate × count` (at least 1, at most `maxPredictions`) is chosen uniformly; each becomes [MASK]
 * with probability 0.8, a random ordinary token with 0.1, and stays unchanged with 0.1.
 */
import type { Batch } from '../batch';
import type { Rng } from '../rng';
import type { TokenizedCorpus } from './tokenized';
import type { SpecialIds } from './wordpiece';

export interface ExampleConfig {
  sequenceLength: number;
  maxPredictions: number;
  maskRate: number;
  /** Build sentence pairs with next-sentence labels ([CLS] A [SEP] B [SEP]); otherwise [CLS] A [SEP]. */
  nsp: boolean;
  /** BERT: 0.1. */
  shortSeqProb?: number;
  /** BERT: 0.5. */
  randomNextProb?: number;
  /**
   * A chunk ends at the last sentence boundary that keeps at least this fraction of its target length, else it cuts
   * the sentence at the target (the rest starts the next chunk). Default 0.9: ≈ 93% non-padding on SOTU at 128
   * versus ≈ 80% at 0.5.
   */
  minFill?: number;
}

export interface Vocabulary {
  special: SpecialIds;
  replacementIds: Int32Array;
  isSpecial(id: number): boolean;
}

/** One epoch's chunks, in shuffled order. Offsets are global token offsets. */
export interface EpochPlan {
  length: number;
  doc: Int32Array;
  start: Float64Array;
  /** End of segment A (equals `end` without NSP). */
  split: Float64Array;
  /** End of segment B; for random-next chunks, `end − split` is only B's target length. */
  end: Float64Array;
  randomNext: Uint8Array;
}

export function checkExampleConfig(cfg: ExampleConfig): void {
  const min = cfg.nsp ? 5 : 3;
  if (!Number.isInteger(cfg.sequenceLength) || cfg.sequenceLength < min) throw new RangeError(`sequenceLength must be an integer ≥ ${min} (got ${cfg.sequenceLength})`);
  if (!Number.isInteger(cfg.maxPredictions) || cfg.maxPredictions < 1) throw new RangeError(`maxPredictions must be a positive integer (got ${cfg.maxPredictions})`);
  if (!(cfg.maskRate > 0 && cfg.maskRate < 1)) throw new RangeError(`maskRate must be in (0, 1) (got ${cfg.maskRate})`);
}

/** Largest j in [lo, hi] with a[j] <= x, or lo − 1. */
function lastAtMost(a: Float64Array, lo: number, hi: number, x: number): number {
  let l = lo;
  let h = hi;
  let best = lo - 1;
  while (l <= h) {
    const m = (l + h) >> 1;
    if ((a[m] as number) <= x) {
      best = m;
      l = m + 1;
    } else h = m - 1;
  }
  return best;
}

/** Cuts the given documents into chunks and shuffles them. Uses only `rng`, so (seed, epoch) fixes the plan. */
export function buildEpochPlan(corpus: TokenizedCorpus, docs: Int32Array, cfg: ExampleConfig, rng: Rng): EpochPlan {
  checkExampleConfig(cfg);
  const maxTokens = cfg.sequenceLength - (cfg.nsp ? 3 : 2);
  const shortProb = cfg.shortSeqProb ?? 0.1;
  const randomProb = cfg.randomNextProb ?? 0.5;
  const ss = corpus.sentenceStart;
  const doc: number[] = [];
  const start: number[] = [];
  const split: number[] = [];
  const end: number[] = [];
  const rnd: number[] = [];
  const push = (d: number, s: number, sp: number, e: number, r: number): void => {
    doc.push(d);
    start.push(s);
    split.push(sp);
    end.push(e);
    rnd.push(r);
  };
  for (let di = 0; di < docs.length; di++) {
    const d = docs[di] as number;
    const s0 = corpus.docSentenceStart[d] as number;
    const s1 = corpus.docSentenceStart[d + 1] as number;
    const docEnd = ss[s1] as number;
    let pos = ss[s0] as number;
    while (pos < docEnd) {
      const target = maxTokens >= 2 && rng.float() < shortProb ? rng.range(2, maxTokens) : maxTokens;
      const hardEnd = Math.min(docEnd, pos + target);
      let end_ = hardEnd;
      if (hardEnd < docEnd) {
        const j = lastAtMost(ss, s0 + 1, s1 - 1, hardEnd);
        if (j >= s0 + 1) {
          const b = ss[j] as number;
          if (b > pos && b >= pos + Math.ceil(target * (cfg.minFill ?? 0.9))) end_ = b;
        }
      }
      if (!cfg.nsp) {
        push(d, pos, end_, end_, 0);
        pos = end_;
        continue;
      }
      if (end_ - pos < 2) {
        // a single token cannot be split into A and B: pair it with random text
        push(d, pos, end_, Math.max(end_ + 1, pos + target), 1);
        pos = end_;
        continue;
      }
      const isRandom = rng.float() < randomProb;
      // sentence boundaries strictly inside (pos, end_)
      const jHi = lastAtMost(ss, s0 + 1, s1 - 1, end_ - 1);
      const jLo = lastAtMost(ss, s0 + 1, s1 - 1, pos) + 1;
      const sp = jHi >= jLo ? (ss[rng.range(jLo, jHi)] as number) : rng.range(pos + 1, end_ - 1);
      push(d, pos, sp, end_, isRandom ? 1 : 0);
      pos = isRandom ? sp : end_;
    }
  }
  const n = doc.length;
  const perm = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const plan: EpochPlan = {
    length: n,
    doc: new Int32Array(n),
    start: new Float64Array(n),
    split: new Float64Array(n),
    end: new Float64Array(n),
    randomNext: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const k = perm[i] as number;
    plan.doc[i] = doc[k] as number;
    plan.start[i] = start[k] as number;
    plan.split[i] = split[k] as number;
    plan.end[i] = end[k] as number;
    plan.randomNext[i] = rnd[k] as number;
  }
  return plan;
}

/** Where one example is written: row `row` of the batch arrays. */
export type ExampleRows = Omit<Batch, 'batchSize' | 'sequenceLength' | 'maxPredictions'>;

/**
 * Writes plan entry `i` as row `row`: tokens, segment ids, attention mask, then masks it. Draws the random-next
 * document and all masking decisions from `rng`. `docs` are the documents of the same split (random B comes
 * from them only, so splits never mix).
 */
export function writeExample(
  plan: EpochPlan,
  i: number,
  row: number,
  out: ExampleRows,
  corpus: TokenizedCorpus,
  docs: Int32Array,
  vocab: Vocabulary,
  cfg: ExampleConfig,
  rng: Rng,
): void {
  const S = cfg.sequenceLength;
  const P = cfg.maxPredictions;
  const base = row * S;
  const sp = vocab.special;
  const d = plan.doc[i] as number;
  const a = corpus.tokens.read(plan.start[i] as number, plan.split[i] as number);
  let n = 0;
  out.inputIds[base + n++] = sp.cls;
  out.inputIds.set(a, base + n);
  n += a.length;
  out.inputIds[base + n++] = sp.sep;
  if (cfg.nsp) {
    let b: Int32Array;
    const bLen = (plan.end[i] as number) - (plan.split[i] as number);
    if (plan.randomNext[i]) {
      let other = d;
      for (let t = 0; t < 10 && other === d; t++) other = docs[rng.int(docs.length)] as number;
      const s0 = corpus.docSentenceStart[other] as number;
      const s1 = corpus.docSentenceStart[other + 1] as number;
      const bStart = corpus.sentenceStart[rng.range(s0, s1 - 1)] as number;
      const bEnd = Math.min(corpus.sentenceStart[s1] as number, bStart + bLen);
      b = corpus.tokens.read(bStart, bEnd);
    } else {
      b = corpus.tokens.read(plan.split[i] as number, plan.end[i] as number);
    }
    const typeFrom = base + n;
    out.inputIds.set(b, base + n);
    n += b.length;
    out.inputIds[base + n++] = sp.sep;
    out.tokenTypeIds.fill(1, typeFrom, base + n);
    if (out.nspLabels) out.nspLabels[row] = plan.randomNext[i] ? 1 : 0;
  }
  out.attentionMask.fill(1, base, base + n);
  if (n < S) out.inputIds.fill(sp.pad, base + n, base + S);
  maskRow(out, row, n, S, P, vocab, cfg.maskRate, rng);
}

/** Chooses and applies the masked-LM predictions of one row holding `n` real tokens. */
export function maskRow(out: ExampleRows, row: number, n: number, S: number, P: number, vocab: Vocabulary, maskRate: number, rng: Rng): void {
  const base = row * S;
  const ids = out.inputIds;
  const cand: number[] = [];
  for (let p = 0; p < n; p++) if (!vocab.isSpecial(ids[base + p] as number)) cand.push(p);
  if (cand.length === 0) return;
  const want = cand.length * maskRate;
  let k = Math.floor(want);
  if (rng.float() < want - k) k++;
  k = Math.max(1, Math.min(k, P, cand.length));
  for (let j = 0; j < k; j++) {
    const r = j + rng.int(cand.length - j);
    const t = cand[j] as number;
    cand[j] = cand[r] as number;
    cand[r] = t;
  }
  const chosen = cand.slice(0, k).sort((x, y) => x - y);
  const repl = vocab.replacementIds;
  for (let j = 0; j < k; j++) {
    const pos = chosen[j] as number;
    const original = ids[base + pos] as number;
    out.maskedPositions[row * P + j] = pos;
    out.maskedLabels[row * P + j] = original;
    out.maskedWeights[row * P + j] = 1;
    const u = rng.float();
    if (u < 0.8) ids[base + pos] = vocab.special.mask;
    else if (u >= 0.9) ids[base + pos] = repl[rng.int(repl.length)] as number;
  }
}
