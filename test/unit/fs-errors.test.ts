/**
 * Issue #9, finding 9: where run directories are created, a file-system failure names its real cause. A recursive
 * mkdir on a read-only file system says `ENOENT … mkdir`; `ensureWritableDir` says "read-only file system".
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { ensureWritableDir, fsErrorSentence, FsWriteError } from '../../src/run-format/fs-errors';

const made: string[] = [];
const mounts: string[] = [];
after(() => {
  for (const m of mounts) execFileSync('umount', [m]);
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'convbert-fs-'));
  made.push(d);
  return d;
}

/** A read-only file system to write into: a read-only tmpfs (needs root and mount rights), else undefined. */
function readOnlyDir(): string | undefined {
  const d = tmp();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'convbert-ro', d], { stdio: 'ignore' });
    mounts.push(d);
    return d;
  } catch {
    return undefined;
  }
}

async function rejection(p: Promise<unknown>): Promise<FsWriteError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FsWriteError, String(e));
    return e;
  }
  assert.fail('expected a failure');
}

test('a read-only file system is called that, not ENOENT', async (t) => {
  const ro = readOnlyDir();
  if (!ro) return t.skip('cannot mount a read-only tmpfs here (not root)');
  const e = await rejection(ensureWritableDir(path.join(ro, 'runs', 'r1')));
  assert.equal(e.code, 'EROFS');
  assert.equal(e.message, `cannot create ${path.join(ro, 'runs', 'r1')}: ${ro} is on a read-only file system (EROFS)`);
  assert.doesNotMatch(e.message, /ENOENT/);
  // The directory itself exists but is read-only.
  assert.match((await rejection(ensureWritableDir(ro))).message, /^cannot write in .*: .* is on a read-only file system \(EROFS\)$/);

  // convbert train --out there: refused before a trainer starts, with the cause.
  const cwd = tmp();
  writeFileSync(path.join(cwd, 'tiny.convbert.json'), '{ "version": 1, "extends": "bert-tiny", "training": { "backend": "cpu" } }');
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), color: createColors(false), isTTY: false, cwd };
  const code = await runCli(['train', 'tiny.convbert.json', '--out', path.join(ro, 'run')], io);
  assert.equal(code, 1);
  assert.match(err.join(''), new RegExp(`^convbert: cannot write in ${ro}: ${ro} is on a read-only file system \\(EROFS\\); pick another --out\\n$`, 'm'));
  assert.equal(out.join(''), '', 'no trainer output: none was started');
});

test('no permission is called that (EACCES)', async (t) => {
  if (process.getuid?.() === 0) return t.skip('root ignores permissions');
  const d = tmp();
  const locked = path.join(d, 'locked');
  mkdirSync(locked, { mode: 0o555 });
  const e = await rejection(ensureWritableDir(path.join(locked, 'runs')));
  assert.equal(e.code, 'EACCES');
  assert.match(e.message, /no permission to write .*locked \(EACCES\)$/);
});

test('a file in the way, and a full disk, are named', async () => {
  const d = tmp();
  writeFileSync(path.join(d, 'runs'), 'not a directory');
  const e = await rejection(ensureWritableDir(path.join(d, 'runs', 'r1')));
  assert.equal(e.message, `cannot create ${path.join(d, 'runs', 'r1')}: ${path.join(d, 'runs')} is a file, not a directory (ENOTDIR)`);
  // A real ENOSPC: /dev/full refuses every write.
  if (existsSync('/dev/full')) {
    let caught: unknown;
    try {
      writeFileSync('/dev/full', 'x');
    } catch (err) {
      caught = err;
    }
    assert.equal(fsErrorSentence(caught, 'checkpoints/ckpt-4'), 'no space left on the disk of checkpoints/ckpt-4 (ENOSPC)');
  }
  // Made and writable: no error, and nothing left behind but the directory.
  const fresh = path.join(d, 'a', 'b');
  await ensureWritableDir(fresh);
  assert.ok(existsSync(fresh));
  assert.deepEqual(readdirSync(fresh), []);
});
