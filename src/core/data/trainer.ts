/**
 * A deterministic WordPiece trainer (the recipe HF `tokenizers` uses: BPE merges over pre-tokenized words with a
 * `##` continuation prefix).
 *
 * 1. Count words after BERT pre-tokenization (`WordCounter`).
 * 2. Vocabulary = the five specials (ids 0–4), then the alphabet — every character both as a word start `c` and as
 *    a continuation `##c`, so any word made of known characters can always be encoded — then merges.
 *    If the alphabet alone would overflow the vocabulary, only the most frequent characters are kept.
 * 3. Repeatedly merge the most frequent adjacent pair of pieces (counts weighted by word frequency), adding the
 *    merged piece, until the vocabulary has exactly `vocabSize` pieces or no pair is left.
 *
 * Every choice depends only on the word counts and on string comparisons (ties: higher count, then the smaller
 * left piece, then the smaller right piece, in code-unit order), never on the order the corpus was read in; pair
 * counts are updated incrementally and the best pair comes from a lazy max-heap, so SOTU at 8192 takes seconds.
 */
import { preTokenize } from './pretokenize';
import { CONTINUATION, SPECIAL_TOKENS } from './wordpiece';

export class WordCounter {
  readonly counts = new Map<string, number>();
  words = 0;

  constructor(readonly lowercase: boolean) {}

  addText(text: string): void {
    for (const w of preTokenize(text, this.lowercase)) {
      this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
      this.words++;
    }
  }
}

export interface TrainOptions {
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (default 1, as HF `tokenizers`: reach the size whenever the corpus has pairs). */
  minPairCount?: number;
  /** Words longer than this are left out of training (they encode to [UNK]); BERT: 100. */
  maxInputCharsPerWord?: number;
}

export interface TrainResult {
  vocab: string[];
  merges: number;
  alphabet: number;
  /** Why training stopped: the size was reached, or the corpus ran out of pairs. */
  stopped: 'size' | 'exhausted';
}

const SHIFT = 4194304; // 2^22: pair key = left * SHIFT + right, exact in a double for ids < 2^22

interface HeapEntry {
  count: number;
  left: number;
  right: number;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function trainWordPiece(counts: ReadonlyMap<string, number>, opts: TrainOptions): TrainResult {
  const vocabSize = opts.vocabSize;
  const minPair = opts.minPairCount ?? 1;
  const maxChars = opts.maxInputCharsPerWord ?? 100;
  if (!Number.isInteger(vocabSize) || vocabSize < SPECIAL_TOKENS.length + 2) {
    throw new RangeError(`vocabSize ${vocabSize} is too small: the ${SPECIAL_TOKENS.length} special tokens and one character need ${SPECIAL_TOKENS.length + 2}`);
  }
  if (vocabSize >= SHIFT) throw new RangeError(`vocabSize ${vocabSize} is too large (at most ${SHIFT - 1})`);

  // words in a fixed order (independent of the order they were counted in)
  const wordList = [...counts.keys()].filter((w) => w.length > 0 && [...w].length <= maxChars).sort(cmpStr);

  // the alphabet, by character frequency
  const charFreq = new Map<string, number>();
  for (const w of wordList) {
    const f = counts.get(w) as number;
    for (const ch of w) charFreq.set(ch, (charFreq.get(ch) ?? 0) + f);
  }
  let chars = [...charFreq.keys()];
  const room = Math.floor((vocabSize - SPECIAL_TOKENS.length) / 2);
  if (chars.length > room) {
    chars.sort((a, b) => (charFreq.get(b) as number) - (charFreq.get(a) as number) || cmpStr(a, b));
    chars = chars.slice(0, room);
  }
  chars.sort(cmpStr);
  const vocab: string[] = [...SPECIAL_TOKENS];
  const symId = new Map<string, number>();
  const add = (s: string): number => {
    const id = vocab.length;
    vocab.push(s);
    symId.set(s, id);
    return id;
  };
  for (const ch of chars) add(ch);
  for (const ch of chars) add(CONTINUATION + ch);
  const alphabet = vocab.length - SPECIAL_TOKENS.length;

  // words as symbol arrays (words with characters outside a limited alphabet are left out)
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const w of wordList) {
    const cs = [...w];
    const syms = new Int32Array(cs.length);
    let ok = true;
    for (let i = 0; i < cs.length; i++) {
      const id = symId.get(i === 0 ? (cs[i] as string) : CONTINUATION + (cs[i] as string));
      if (id === undefined) {
        ok = false;
        break;
      }
      syms[i] = id;
    }
    if (ok) {
      words.push(syms);
      freq.push(counts.get(w) as number);
    }
  }

  // pair counts and where each pair occurs
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w] as Int32Array;
    const f = freq[w] as number;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = (s[i] as number) * SHIFT + (s[i + 1] as number);
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      const list = where.get(key);
      if (list) {
        if (list[list.length - 1] !== w) list.push(w);
      } else where.set(key, [w]);
    }
  }

  // lazy max-heap: stale entries (count no longer current) are skipped when popped
  const heap: HeapEntry[] = [];
  const better = (a: HeapEntry, b: HeapEntry): boolean => {
    if (a.count !== b.count) return a.count > b.count;
    const l = cmpStr(vocab[a.left] as string, vocab[b.left] as string);
    if (l !== 0) return l < 0;
    return cmpStr(vocab[a.right] as string, vocab[b.right] as string) < 0;
  };
  const push = (e: HeapEntry): void => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(heap[i] as HeapEntry, heap[p] as HeapEntry)) break;
      [heap[i], heap[p]] = [heap[p] as HeapEntry, heap[i] as HeapEntry];
      i = p;
    }
  };
  const pop = (): HeapEntry | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && better(heap[l] as HeapEntry, heap[m] as HeapEntry)) m = l;
        if (r < heap.length && better(heap[r] as HeapEntry, heap[m] as HeapEntry)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as HeapEntry, heap[i] as HeapEntry];
        i = m;
      }
    }
    return top;
  };
  for (const [key, count] of pairCount) push({ count, left: Math.floor(key / SHIFT), right: key % SHIFT });

  let merges = 0;
  const stamp = new Int32Array(words.length).fill(-1);
  const delta = new Map<number, number>();
  while (vocab.length < vocabSize) {
    const top = pop();
    if (!top) break;
    const key = top.left * SHIFT + top.right;
    if (pairCount.get(key) !== top.count) continue; // stale
    if (top.count < minPair) break; // the best pair is below the threshold: so are all others
    const a = top.left;
    const b = top.right;
    const merged = (vocab[a] as string) + (vocab[b] as string).slice(CONTINUATION.length);
    const c = symId.get(merged) ?? add(merged);
    merges++;
    delta.clear();
    const list = where.get(key) ?? [];
    where.delete(key);
    for (const w of list) {
      if (stamp[w] === merges) continue;
      stamp[w] = merges;
      const s = words[w] as Int32Array;
      let hit = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) hit = true;
      if (!hit) continue;
      const f = freq[w] as number;
      for (let i = 0; i + 1 < s.length; i++) {
        const k = (s[i] as number) * SHIFT + (s[i + 1] as number);
        delta.set(k, (delta.get(k) ?? 0) - f);
      }
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(c);
          i++;
        } else next.push(s[i] as number);
      }
      const ns = Int32Array.from(next);
      words[w] = ns;
      for (let i = 0; i + 1 < ns.length; i++) {
        const k = (ns[i] as number) * SHIFT + (ns[i + 1] as number);
        delta.set(k, (delta.get(k) ?? 0) + f);
        if (ns[i] === c || ns[i + 1] === c) {
          const wl = where.get(k);
          if (wl) {
            if (wl[wl.length - 1] !== w) wl.push(w);
          } else where.set(k, [w]);
        }
      }
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const n = (pairCount.get(k) ?? 0) + d;
      if (n > 0) {
        pairCount.set(k, n);
        push({ count: n, left: Math.floor(k / SHIFT), right: k % SHIFT });
      } else {
        pairCount.delete(k);
        where.delete(k);
      }
    }
  }
  return { vocab, merges, alphabet, stopped: vocab.length >= vocabSize ? 'size' : 'exhausted' };
}
