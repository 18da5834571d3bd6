/**
 * Is a corpus file text? The head of each file is looked at before anything trains on it: NUL bytes, a high share
 * of invalid UTF-8 or of control characters mean binary data (a `.wasm`, an image, `/dev/zero`), which would
 * otherwise tokenize to nearly nothing and "train" to a meaningless 100 % accuracy. Empty files are told apart, so
 * an empty corpus is called that. Also: the share of [UNK] in tokenized text, for a vocabulary that does not fit.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes of each file looked at. */
export const SNIFF_BYTES = 64 * 1024;
/** Above this share of bad characters (invalid UTF-8 or control characters) a file is binary. */
export const MAX_BAD_SHARE = 0.1;
/** Above this share of [UNK] among the tokens, the vocabulary does not fit the text: a warning. */
export const MAX_UNK_SHARE = 0.5;

export type TextSniff = { kind: 'text' } | { kind: 'empty' } | { kind: 'binary'; reason: string };

/** Classifies the first bytes of a file (`whole`: they are the whole file). */
export function sniffText(bytes: Uint8Array, whole: boolean): TextSniff {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3; // a BOM
  const nul = bytes.indexOf(0, start);
  if (nul >= 0) return { kind: 'binary', reason: `it holds NUL bytes (the first at byte ${nul})` };
  // A character cut at the end of the head is not an error: leave out its last 3 bytes unless it is the whole file.
  const body = bytes.subarray(start, whole ? bytes.length : Math.max(start, bytes.length - 3));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body);
  if (text.trim() === '') return whole || body.length === 0 ? { kind: 'empty' } : { kind: 'text' };
  let invalid = 0;
  let control = 0;
  let chars = 0;
  for (const ch of text) {
    chars++;
    if (ch === '\uFFFD') invalid++;
    else {
      const c = ch.codePointAt(0)!;
      if ((c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 127) control++;
    }
  }
  if (invalid / chars > MAX_BAD_SHARE) return { kind: 'binary', reason: `${pct(invalid / chars)} of its first ${chars} characters are not valid UTF-8` };
  if (control / chars > MAX_BAD_SHARE) return { kind: 'binary', reason: `${pct(control / chars)} of its first ${chars} characters are control characters` };
  return { kind: 'text' };
}

function pct(x: number): string {
  return `${Math.round(100 * x)} %`;
}

/** Reads the head of a file and classifies it. Throws fs errors as they come (the caller names the path). */
export function sniffFile(path: string): TextSniff {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = new Uint8Array(SNIFF_BYTES);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return sniffText(buf.subarray(0, n), n < buf.length || n === size);
  } finally {
    closeSync(fd);
  }
}

/** The message for a corpus file that is not text. */
export function notTextMessage(path: string, sniff: Extract<TextSniff, { kind: 'binary' }>): string {
  return `Corpus file ${path} is not text: ${sniff.reason}. Give plain UTF-8 text files (one sentence or paragraph per line, blank lines between documents).`;
}

/** Share of `unkId` among the first `limit` tokens read by `read(start, end)`, and how many were looked at. */
export function unkShare(read: (start: number, end: number) => Int32Array, numTokens: number, unkId: number, limit = 1 << 20): { share: number; counted: number } {
  const n = Math.min(numTokens, limit);
  let unk = 0;
  for (let s = 0; s < n; s += 65536) {
    const part = read(s, Math.min(n, s + 65536));
    for (const id of part) if (id === unkId) unk++;
  }
  return { share: n === 0 ? 0 : unk / n, counted: n };
}
