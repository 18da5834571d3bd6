/**
 * Diagnostics of `*.convbert.json` files: the types the CLI, the VS Code extension and the tests share, the
 * catalogue of codes, offset ↔ line/character conversion and a few message helpers (close-match suggestions,
 * value rendering, layer lists).
 */
import type { JsonPath } from './resolve';

export type { JsonPath };
export type Severity = 'error' | 'warning' | 'info';

/** Zero-based, like LSP and VS Code; `character` counts UTF-16 code units. */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
  /** Zero-based offset of `start` in the text (UTF-16 code units). */
  offset: number;
  length: number;
}

export interface Diagnostic {
  severity: Severity;
  /** Stable identifier, one of `DIAGNOSTIC_CODES` (for filtering, quick fixes and tests). */
  code: string;
  message: string;
  /** The JSON path of the value the diagnostic is about (`[]` for the whole file). */
  path: JsonPath;
  range: Range;
}

/** `files`: checks against the file system, outside the pure validator (`checkCorpusPaths` in core/data). */
export type DiagnosticCategory = 'syntax' | 'schema' | 'semantic' | 'limit' | 'files';

/** Every code `validateSpecText` can emit, with its category and a one-line summary (for docs and filters). */
export const DIAGNOSTIC_CODES = {
  // syntax: the text is not JSON with comments
  syntax: { category: 'syntax', summary: 'The text is not valid JSON (comments and trailing commas are allowed).' },
  'empty-file': { category: 'syntax', summary: 'The file is empty.' },
  'too-deep': { category: 'syntax', summary: 'Values are nested too deeply to be a spec.' },
  'duplicate-key': { category: 'syntax', summary: 'A property is written twice in one object; the last one wins.' },
  // schema: the JSON does not match schemas/convbert.schema.json
  'unknown-property': { category: 'schema', summary: 'A property the format does not have (often a typo).' },
  'missing-property': { category: 'schema', summary: 'A required property is missing.' },
  'wrong-type': { category: 'schema', summary: 'A value of the wrong type (say, a string where a number belongs).' },
  'invalid-value': { category: 'schema', summary: 'A value outside the allowed set (enum or constant).' },
  'out-of-range': { category: 'schema', summary: 'A number below the minimum or above the maximum.' },
  'invalid-pattern': { category: 'schema', summary: 'A string that does not have the required form.' },
  'invalid-length': { category: 'schema', summary: 'A string that is too short or too long.' },
  'too-few-items': { category: 'schema', summary: 'A list with too few entries.' },
  'too-many-items': { category: 'schema', summary: 'A list with too many entries.' },
  'missing-module-type': { category: 'schema', summary: 'A layer module without "type".' },
  'unknown-module-type': { category: 'schema', summary: 'A layer module whose "type" is not attention, conv, gffn or ffn.' },
  schema: { category: 'schema', summary: 'Any other schema violation.' },
  // semantic: schema-valid, but the model cannot be built or trained as written
  'heads-divisibility': { category: 'semantic', summary: 'hiddenSize is not divisible by an attention module\'s heads.' },
  'conv-group-divisibility': { category: 'semantic', summary: 'hiddenSize is not divisible by a conv module\'s channelsPerGroup.' },
  'gffn-group-divisibility': { category: 'semantic', summary: 'A GFFN\'s intermediate size or hiddenSize is not divisible by its groups.' },
  'even-kernel-same-padding': { category: 'semantic', summary: 'An even conv kernel with "same" padding.' },
  'sequence-too-long': { category: 'semantic', summary: 'training.sequenceLength exceeds model.maxPositions.' },
  'tokenizer-vocab-too-large': { category: 'semantic', summary: 'training.tokenizer.vocabSize exceeds model.vocabSize.' },
  'nsp-needs-pooler': { category: 'semantic', summary: 'The NSP head is on but the pooler is off.' },
  'no-token-mixing': { category: 'semantic', summary: 'A layer with neither attention nor conv: its tokens never interact.' },
  'conv-without-attention': { category: 'semantic', summary: 'A layer with conv but no attention (local mixing only).' },
  'invalid-layer-range': { category: 'semantic', summary: 'A layer range that runs backwards, like "5-3".' },
  'override-out-of-range': { category: 'semantic', summary: 'layerOverrides names a layer the model does not have.' },
  'model-too-large': { category: 'semantic', summary: 'The model would have an absurd number of parameters (an error: nothing could build it).' },
  'memory-over-every-backend': { category: 'semantic', summary: "Estimated training memory exceeds every backend's hard limit on this machine (an error)." },
  'memory-over-budget': { category: 'semantic', summary: 'Estimated training memory exceeds the budget (a warning: training anyway may work).' },
  // files: the spec's paths checked against the file system (core/data/corpus-check.ts; not validateSpecText)
  'corpus-path': { category: 'files', summary: 'A corpus path or glob, or the vocabulary file, that does not name a readable file.' },
  'corpus-not-text': { category: 'files', summary: 'A corpus file that is binary, or a corpus with no text at all.' },
  // limits of the validator itself
  'too-many-diagnostics': { category: 'limit', summary: 'Validation stopped after too many problems.' },
  'internal-error': { category: 'limit', summary: 'The validator failed on this input (a bug: please report it).' },
} as const satisfies Record<string, { category: DiagnosticCategory; summary: string }>;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export function diagnosticCategory(code: string): DiagnosticCategory | undefined {
  return (DIAGNOSTIC_CODES as Record<string, { category: DiagnosticCategory }>)[code]?.category;
}

/** Compiler style, 1-based: `file:line:col: severity: message [code]`. */
export function formatDiagnostic(fileName: string, d: Diagnostic): string {
  return `${fileName}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message} [${d.code}]`;
}

/** A JSON path as people write it: `model.layerOverrides[0].modules[1].kernelSize`; `` for the root. */
export function pathLabel(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Offsets ↔ positions

/** Line starts of a text, for offset → (line, character) by binary search. `\n`, `\r\n` and `\r` end lines. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 /* \r */) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      } else if (c === 10 /* \n */) {
        this.starts.push(i + 1);
      }
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  position(offset: number): Position {
    const o = Math.max(0, Math.min(this.text.length, Math.floor(offset) || 0));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - (this.starts[lo] as number) };
  }

  offsetAt(position: Position): number {
    const start = this.starts[Math.max(0, Math.min(this.starts.length - 1, position.line))] as number;
    return Math.min(this.text.length, start + Math.max(0, position.character));
  }

  /** A range clamped to the text. */
  range(offset: number, length: number): Range {
    const start = Math.max(0, Math.min(this.text.length, Math.floor(offset) || 0));
    const end = Math.max(start, Math.min(this.text.length, start + (Math.floor(length) || 0)));
    return { start: this.position(start), end: this.position(end), offset: start, length: end - start };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Message helpers

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const n = s.length;
  const m = t.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, (prev2[j - 2] as number) + 1);
      cur[j] = v;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m] as number;
}

/** The candidate closest to `word`, if it is close enough to be a plausible typo. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  if (word.length === 0 || word.length > 64) return undefined;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    const cl = c.toLowerCase();
    let score = editDistance(word, c);
    // "hidden" → "hiddenSize": prefixes of four letters or more count as close.
    if (lower.length >= 4 && cl.startsWith(lower)) score = Math.min(score, 1.5);
    // "convolution" → "conv".
    if (cl.length >= 4 && lower.startsWith(cl)) score = Math.min(score, 1.5);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  const allowed = Math.max(1, Math.floor(word.length / 3));
  return bestScore <= allowed || bestScore === 1.5 ? best : undefined;
}

/** A short rendering of a value for messages: the source text of numbers, quoted short strings, kinds otherwise. */
export function describeValue(value: unknown, sourceText?: string): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 37)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    const text = sourceText !== undefined && sourceText.length > 0 ? sourceText : String(value);
    return text.length > 40 ? `${text.slice(0, 37)}…` : text;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'an object';
  return 'missing';
}

/** `[0,1,2,3,8,10,11]` → `0–3, 8, 10–11`. */
export function formatIndexList(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** `["a","b","c"]` → `"a", "b" or "c"`. */
export function quotedList(values: readonly unknown[], conjunction = 'or'): string {
  const q = values.map((v) => JSON.stringify(v));
  if (q.length <= 1) return q.join('');
  return `${q.slice(0, -1).join(', ')} ${conjunction} ${q[q.length - 1]}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Multiples of `d` nearest to `n` (below and above), within [min, max]. */
export function nearestMultiples(n: number, d: number, min = 1, max = Number.MAX_SAFE_INTEGER): number[] {
  if (!(d > 0) || !Number.isFinite(n)) return [];
  const below = Math.floor(n / d) * d;
  const out: number[] = [];
  if (below >= Math.max(min, d) && below <= max && below !== n) out.push(below);
  const above = below + d;
  if (above >= min && above <= max && above !== n) out.push(above);
  return out;
}

/** Divisors of `n` nearest to `d` (the largest below and the smallest above), within [min, max]. */
export function nearestDivisors(n: number, d: number, min = 1, max = Number.MAX_SAFE_INTEGER): number[] {
  if (!Number.isSafeInteger(n) || n <= 0 || n > 1e12) return [];
  let below: number | undefined;
  let above: number | undefined;
  for (let i = 1; i * i <= n; i++) {
    if (n % i !== 0) continue;
    for (const c of [i, n / i]) {
      if (c < min || c > max || c === d) continue;
      if (c < d && (below === undefined || c > below)) below = c;
      if (c > d && (above === undefined || c < above)) above = c;
    }
  }
  return [below, above].filter((v): v is number => v !== undefined);
}

export function orList(values: readonly (string | number)[]): string {
  const s = values.map(String);
  if (s.length <= 1) return s.join('');
  return `${s.slice(0, -1).join(', ')} or ${s[s.length - 1]}`;
}
