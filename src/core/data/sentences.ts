/**
 * A small rule-based English sentence splitter. The bundled corpus has one line per speech, and user files may
 * hold whole paragraphs per line, so lines are cut into sentences: after `.`, `!` or `?` (plus closing quotes or
 * brackets), followed by whitespace and an upper-case letter, digit or opening quote. A period does not end a
 * sentence after a known abbreviation (Mr., Gen., U.S., etc.) or a single-letter initial (John F. Kennedy).
 */

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'messrs', 'mme', 'dr', 'prof', 'st', 'jr', 'sr', 'rev', 'hon', 'gen', 'col', 'maj', 'capt', 'cpt',
  'lt', 'sgt', 'cmdr', 'adm', 'gov', 'sen', 'rep', 'pres', 'supt', 'esq', 'no', 'nos', 'vol', 'vols', 'art', 'sec',
  'ch', 'fig', 'pp', 'vs', 'etc', 'inc', 'co', 'corp', 'ltd', 'bros', 'dept', 'jan', 'feb', 'mar', 'apr', 'jun',
  'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'mt', 'ft', 'cf', 'approx', 'viz', 'al',
]);

// terminator, optional closing quotes/brackets, whitespace, then the start of the next sentence
const BOUNDARY = /[.!?]+["'\u2019\u201d)\]]*\s+(?=["'\u2018\u201c([]?[A-Z0-9])/g;

function isAbbreviation(text: string, dotIndex: number): boolean {
  let start = dotIndex;
  while (start > 0 && !/\s/.test(text[start - 1] as string)) start--;
  const word = text.slice(start, dotIndex).replace(/^["'([\u2018\u201c]+/, '').toLowerCase();
  if (word.length === 0) return false;
  if (/^[a-z]$/.test(word)) return true; // initial
  if (/^([a-z]\.)+[a-z]$/.test(word)) return true; // u.s, e.g, i.e
  return ABBREVIATIONS.has(word);
}

/** Splits one line of text into trimmed, non-empty sentences. */
export function splitSentences(line: string): string[] {
  const out: string[] = [];
  let start = 0;
  BOUNDARY.lastIndex = 0;
  for (let m = BOUNDARY.exec(line); m !== null; m = BOUNDARY.exec(line)) {
    const term = m[0];
    if (term[0] === '.' && !/^\.{2,}/.test(term) && isAbbreviation(line, m.index)) continue;
    const end = m.index + term.trimEnd().length;
    const s = line.slice(start, end).trim();
    if (s) out.push(s);
    start = m.index + term.length;
  }
  const rest = line.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}
