/**
 * The held-out validation split, chosen by document: documents are ranked by a key from the sha256 of their text
 * and the `round(fraction × N)` lowest go to validation (at least one when the fraction is positive and there are
 * two or more documents; never all). The choice depends only on document contents, not on the seed, the order of
 * the files or the tokenizer, so it is the same on every run, and identical documents land on the same side.
 */
import type { TokenizedCorpus } from './tokenized';

export interface DocumentSplit {
  /** Document indices, ascending. */
  train: Int32Array;
  validation: Int32Array;
}

export function validationCount(numDocuments: number, fraction: number): number {
  if (!(fraction > 0) || numDocuments < 2) return 0;
  return Math.min(numDocuments - 1, Math.max(1, Math.round(fraction * numDocuments)));
}

export function splitDocuments(corpus: Pick<TokenizedCorpus, 'numDocuments' | 'docKey'>, fraction: number): DocumentSplit {
  const n = corpus.numDocuments;
  const k = validationCount(n, fraction);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (corpus.docKey[a] as number) - (corpus.docKey[b] as number) || a - b);
  const validation = Int32Array.from(order.slice(0, k)).sort();
  const train = Int32Array.from(order.slice(k)).sort();
  return { train, validation };
}
