/**
 * The file primitives every run-directory writer uses: a write that is on disk when it returns (fsync), and an
 * atomic replace built on it (a temporary file beside the target, then a rename) that never leaves its temporary
 * file behind when it fails (a full disk, a failed rename).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes `data` to `file` and fsyncs it before returning. */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fsp.open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `data` atomically: `<file>.tmp-<random>`, fsynced, renamed over it; removed on failure. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(3).toString('hex')}`;
  try {
    await writeFileSynced(tmp, data);
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
