/**
 * The file name and `name` of a new spec. A save dialog whose filter is `convbert.json` may append the extension
 * to a name that already has it (`groupbert-mini.convbert.json.convbert.json`), and a user may type `my`,
 * `my.json` or `my.convbert`: every one of them becomes exactly one `.convbert.json`, and the spec's `name` is the
 * file name without it. Pure (no `vscode`), on POSIX paths as in `vscode.Uri.path`.
 */
export const SPEC_SUFFIX = '.convbert.json';

/** `.convbert.json`, `.convbert` and `.json` endings, however often repeated (case as written). */
const SPEC_ENDINGS = /(?:\.convbert\.json|\.convbert|\.json)+$/i;

/** The path's file name without any spec ending ("" when nothing is left). */
export function specStem(filePath: string): string {
  const base = filePath.slice(filePath.lastIndexOf('/') + 1);
  return base.replace(SPEC_ENDINGS, '');
}

/**
 * The path to write: the same folder and stem with exactly one `.convbert.json`; a name that is only an ending
 * (`.convbert.json`) gets `fallback` as its stem.
 */
export function specTargetPath(filePath: string, fallback: string): string {
  const dir = filePath.slice(0, filePath.lastIndexOf('/') + 1);
  return `${dir}${specStem(filePath) || fallback}${SPEC_SUFFIX}`;
}

/** The spec's `name` for the file at `filePath`: its stem, with no file extension. */
export function specNameFor(filePath: string, fallback: string): string {
  return specStem(filePath) || fallback;
}
