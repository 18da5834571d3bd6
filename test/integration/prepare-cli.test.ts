/**
 * `convbert prepare` end to end on the bundled default spec (the State of the Union corpus, an 8k vocabulary):
 * written, then reused untouched, then `--verify`ed, through the CLI's entry (in process and as a child process);
 * the rows read back are the TF.js training iterator's; a changed byte fails `--verify` with one line.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { BatchIterator, prepareData } from '../../src/core/data';
import { readShardIndex, readShardRows, readTrainStates } from '../../src/core/data/shards';
import { resolveSpec, type SpecFile } from '../../src/core/spec';
import { parse as parseJsonc } from 'jsonc-parser';

const ROOT = path.resolve(__dirname, '../..');
const SPEC = path.join(ROOT, 'examples/default.convbert.json');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const TSX = require.resolve('tsx');

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function capture(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(false), isTTY: false, cwd };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

function mtimes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[path.relative(dir, path.join(e.parentPath ?? e.path, e.name))] = fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs;
  }
  return out;
}

test('convbert prepare examples/default.convbert.json --out tmp --steps 3: written, reused, verified', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'convbert-prepare-'));
  made.push(cwd);

  const first = capture(cwd);
  assert.equal(await runCli(['prepare', SPEC, '--out', 'tmp', '--steps', '3'], first.io), 0, first.stderr());
  assert.match(first.stdout(), /^wrote tmp: 24 training sequences \(3 steps × 8: batch 8\) and 32 validation sequences, 14 files, [\d.]+ KiB\nkey [0-9a-f]{64}\n$/);
  assert.match(first.stderr(), /sequences 56\/56/);
  const dir = path.join(cwd, 'tmp');
  const index = readShardIndex(dir);
  assert.equal(index.steps, 3);
  assert.equal(index.vocabSize, 8192);
  assert.ok(first.stdout().includes(index.key));
  assert.ok(fs.existsSync(path.join(cwd, '.convbert/cache')), 'the tokenizer and tokens are cached where convbert train looks');

  // The rows are the TF.js job's training stream (an independent run of the data pipeline, from the cache).
  const spec = resolveSpec(parseJsonc(fs.readFileSync(SPEC, 'utf8'), [], { allowTrailingComma: true }) as SpecFile);
  const data = await prepareData({ training: spec.training, specDir: path.dirname(SPEC), nsp: spec.model.heads.nsp, cacheDir: path.join(cwd, '.convbert/cache') });
  try {
    const it = new BatchIterator(data.corpus, data.split.train, data.tokenizer, data.train.config);
    const states = readTrainStates(dir, index);
    for (let step = 0; step < 3; step++) {
      assert.deepEqual(states[step], it.state());
      const want = it.next();
      const got = readShardRows(dir, index, 'train', step * 8, 8);
      assert.deepEqual(got.inputIds, want.inputIds);
      assert.deepEqual(got.maskedLabels, want.maskedLabels);
      assert.deepEqual(got.nspLabels, want.nspLabels);
    }
  } finally {
    data.close();
  }

  const before = mtimes(dir);
  const second = capture(cwd);
  assert.equal(await runCli(['prepare', SPEC, '--out', 'tmp', '--steps', '3'], second.io), 0, second.stderr());
  assert.match(second.stdout(), /^reused tmp: .*; nothing written\nkey [0-9a-f]{64}\n$/);
  assert.deepEqual(mtimes(dir), before);

  // The real entry, as a child process: reused again and verified.
  const child = spawnSync(process.execPath, ['--require', TSX, CLI, 'prepare', SPEC, '--out', 'tmp', '--steps', '3', '--verify'], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^reused tmp/);
  assert.match(child.stdout, new RegExp(`verified: every file has its size and contentSha256 ${index.contentSha256} matches`));
  assert.deepEqual(mtimes(dir), before);

  // One changed byte: --verify fails with one line and exit 1 (the sizes are right, so a plain prepare reuses).
  const file = path.join(dir, 'train/input_ids.00000.bin');
  const bytes = fs.readFileSync(file);
  bytes[3] = bytes[3]! ^ 0xff;
  fs.writeFileSync(file, bytes);
  const bad = capture(cwd);
  assert.equal(await runCli(['prepare', SPEC, '--out', 'tmp', '--steps', '3', '--verify'], bad.io), 1);
  const line = bad.stderr().split('\n').filter((l) => l.startsWith('convbert:'));
  assert.equal(line.length, 1);
  assert.match(line[0]!, /^convbert: tmp: the content hash is [0-9a-f]{64}, index\.json records [0-9a-f]{64}; delete the folder and run convbert prepare again$/);

  // Usage and input errors: exit 2 and 1, one line, nothing written.
  const usage = capture(cwd);
  assert.equal(await runCli(['prepare', SPEC, '--steps', '3'], usage.io), 2);
  assert.match(usage.stderr(), /required option '--out <dir>'/);
  const notOurs = capture(cwd);
  fs.writeFileSync(path.join(cwd, 'notes.txt'), 'mine');
  assert.equal(await runCli(['prepare', SPEC, '--out', 'notes.txt'], notOurs.io), 1);
  assert.match(notOurs.stderr(), /^convbert: .*notes\.txt exists and is not a folder\n$/);
});
