/** Test helpers shared by the validation tests. */

/**
 * Line and character of an offset, counted naively (independent of the validator's LineIndex):
 * `\r\n`, `\n` and `\r` end lines.
 */
export function naivePosition(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
      line++;
      start = i + 1;
    }
  }
  return { line, character: offset - start };
}
