/**
 * File-system failures in words. Where run directories and checkpoints are written, an error code becomes one
 * sentence that names the real cause: a read-only file system (EROFS), no permission (EACCES, EPERM), a full disk
 * (ENOSPC), a file in the way (ENOTDIR) — never Node's `ENOENT: no such file or directory, mkdir …`, which is
 * what a recursive mkdir says on a read-only file system (and a recursive mkdir under /proc never returns).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { exists } from './files';

const CAUSES: Record<string, (target: string) => string> = {
  EROFS: (t) => `${t} is on a read-only file system`,
  EACCES: (t) => `no permission to write ${t}`,
  EPERM: (t) => `the operating system does not allow writing ${t}`,
  ENOSPC: (t) => `no space left on the disk of ${t}`,
  EDQUOT: (t) => `the disk quota is used up for ${t}`,
  ENOTDIR: (t) => `${t} is a file, not a directory`,
  EISDIR: (t) => `${t} is a directory`,
  EEXIST: (t) => `${t} exists and is not a directory`,
  ENAMETOOLONG: (t) => `the path ${t} is too long`,
  EMFILE: () => 'too many files are open',
  ENOENT: (t) => `${t} does not exist`,
};

/** The sentence for an fs error while writing `target`: `<cause> (<CODE>)`, or the error's own message. */
export function fsErrorSentence(err: unknown, target: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const cause = code !== undefined ? CAUSES[code] : undefined;
  if (cause) return `${cause(target)} (${code})`;
  return `cannot write ${target}: ${err instanceof Error ? err.message : String(err)}`;
}

/** An fs failure already put in words (`message` is the sentence; `code` the original code). */
export class FsWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'FsWriteError';
  }
}

/**
 * Makes `dir` (and its missing parents, one at a time, so the error names the real cause and the directory it
 * happened at) and checks that a file can be created in it. Throws `FsWriteError` with the sentence.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let cur = target;
  while (!(await exists(cur))) {
    missing.unshift(cur);
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await fsp.stat(d).then((s) => s.isDirectory(), () => false))) continue;
      // The directory it failed in exists (it was found above): its file system refuses new entries.
      const parent = path.dirname(d);
      const why = code === 'ENOENT' ? `${parent} does not allow creating directories in it (ENOENT)` : fsErrorSentence(e, parent);
      throw new FsWriteError(`cannot create ${target}: ${why}`, code);
    }
  }
  // It exists: is it a directory, and can we write in it? (root passes permission checks, not a read-only mount.)
  const probe = path.join(target, `.convbert-write-test-${process.pid}-${Date.now()}`);
  try {
    await fsp.writeFile(probe, '', { flag: 'wx' });
  } catch (e) {
    throw new FsWriteError(`cannot write in ${target}: ${fsErrorSentence(e, target)}`, (e as NodeJS.ErrnoException).code);
  }
  await fsp.rm(probe, { force: true });
}
