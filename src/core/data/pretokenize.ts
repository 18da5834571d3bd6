/**
 * BERT's BasicTokenizer: drop control characters and U+FFFD, put spaces around CJK ideographs, optionally
 * lower-case and strip accents (NFD, drop combining marks: "uncased"), split on whitespace, and split every
 * punctuation character into its own word (Unicode P* plus the ASCII symbols BERT counts as punctuation).
 */

const PUNCT = '\\p{P}!-\\/:-@\\[-`{-~';
const CJK =
  '\\u{4E00}-\\u{9FFF}\\u{3400}-\\u{4DBF}\\u{20000}-\\u{2A6DF}\\u{2A700}-\\u{2B73F}\\u{2B740}-\\u{2B81F}\\u{2B820}-\\u{2CEAF}\\u{F900}-\\u{FAFF}\\u{2F800}-\\u{2FA1F}';
const WORD = new RegExp(`[${PUNCT}${CJK}]|[^\\s${PUNCT}${CJK}]+`, 'gu');
// control and format characters other than whitespace, NUL and the replacement character: removed
const DROP = /\uFFFD|(?![\t\n\r])[\p{Cc}\p{Cf}]/gu;
// eslint-disable-next-line no-control-regex -- the ASCII range
const NON_ASCII = /[^\x00-\x7F]/;
const MARKS = /\p{Mn}/gu;

/** The text normalisation applied before splitting. */
export function normalizeText(text: string, lowercase: boolean): string {
  let t = text;
  const nonAscii = NON_ASCII.test(t);
  if (nonAscii || t.includes('\0')) t = t.replace(DROP, '');
  // eslint-disable-next-line no-control-regex -- ASCII control characters
  else if (/[\x01-\x08\x0B\x0C\x0E-\x1F\x7F]/.test(t)) t = t.replace(DROP, '');
  if (lowercase) {
    t = t.toLowerCase();
    if (nonAscii) t = t.normalize('NFD').replace(MARKS, '');
  }
  return t;
}

/** Splits text into words as BERT's BasicTokenizer does. */
export function preTokenize(text: string, lowercase: boolean): string[] {
  return normalizeText(text, lowercase).match(WORD) ?? [];
}

/** Whether a single character is split off as punctuation. */
export function isPunctuation(ch: string): boolean {
  return new RegExp(`^[${PUNCT}]$`, 'u').test(ch);
}
