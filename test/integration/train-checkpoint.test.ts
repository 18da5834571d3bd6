import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CHECKPOINTS_DIR,
  LATEST_FILE,
  hashSpec,
  listCheckpoints,
  loadLatestCheckpoint,
  writeCheckpoint,
  type CheckpointContent,
  type CheckpointPhase,
} from '../../src/run-format/checkpoint';

const CHECKPOINT_MODULE = path.resolve(__dirname, '../../src/run-format/checkpoint.ts');

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tmpRun(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-ckpt-'));
  made.push(dir);
  return dir;
}

/**
 * Deterministic content for step `step`, built the same way here and in the child process below (the child gets
 * this function's source). 64 KiB of float32 weights, so a write takes many small chunks.
 */
function contentFor(step: number): CheckpointContent {
  const w = new Float32Array(16384);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.37 + step) * (step + 1);
  const ids = new Int32Array(7);
  for (let i = 0; i < ids.length; i++) ids[i] = i * step - 3;
  const mask = new Uint8Array([1, 0, step % 2, 1, 1]);
  return {
    step,
    specHash: 'abc123',
    tensors: {
      'weights/layer00/dense/kernel': { dtype: 'float32', shape: [128, 128], data: w },
      'weights/ids': { dtype: 'int32', shape: [7], data: ids },
      'weights/mask': { dtype: 'bool', shape: [5], data: mask },
      'weights/scalar': { dtype: 'float32', shape: [], data: new Float32Array([step + 0.5]) },
      'weights/empty': { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) },
    },
    optimizer: { type: 'adamw', step },
    data: { epoch: 1, cursor: step * 10, order: [3, 1, 2] },
    rng: { loop: [1, 2, 3, step] },
    extra: { loop: { totalSteps: 100 } },
  };
}

function assertSameContent(actual: CheckpointContent, expected: CheckpointContent) {
  assert.equal(actual.step, expected.step);
  assert.equal(actual.specHash, expected.specHash);
  assert.deepEqual(Object.keys(actual.tensors).sort(), Object.keys(expected.tensors).sort());
  for (const [name, want] of Object.entries(expected.tensors)) {
    const got = actual.tensors[name]!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    assert.equal(got.data.constructor, want.data.constructor, name);
    assert.deepEqual(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength), Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength), `${name} bit-identical`);
  }
  assert.deepEqual(actual.optimizer, expected.optimizer);
  assert.deepEqual(actual.data, expected.data);
  assert.deepEqual(actual.rng, expected.rng);
  assert.deepEqual(actual.extra, expected.extra);
}

test('a checkpoint round-trips bit-identically (float32, int32, bool, scalars, empty tensors, JSON state)', async () => {
  const run = tmpRun();
  const written = await writeCheckpoint(run, contentFor(3));
  assert.match(written.name, /^ckpt-000000003-[0-9a-f]{6}$/);
  assert.equal((await fsp.readFile(path.join(run, CHECKPOINTS_DIR, LATEST_FILE), 'utf8')).trim(), written.name);
  const loaded = await loadLatestCheckpoint(run);
  assert.ok(loaded);
  assertSameContent(loaded, contentFor(3));
  assert.deepEqual(loaded.skipped, []);
  const manifest = JSON.parse(await fsp.readFile(path.join(written.path, 'manifest.json'), 'utf8')) as { tensors: { offset: number }[] };
  assert.ok(manifest.tensors.every((t) => t.offset % 8 === 0), 'offsets are 8-byte aligned');
});

test('keeps the newest and the previous checkpoint, and points latest at the newest', async () => {
  const run = tmpRun();
  for (const step of [1, 2, 3, 4]) await writeCheckpoint(run, contentFor(step));
  assert.deepEqual((await listCheckpoints(run)).map((c) => c.step), [4, 3]);
  assertSameContent((await loadLatestCheckpoint(run))!, contentFor(4));
  await writeCheckpoint(run, contentFor(5), { keep: 3 });
  assert.deepEqual((await listCheckpoints(run)).map((c) => c.step), [5, 4, 3]);
});

test('a torn or corrupt checkpoint is skipped (with the reason) and the previous good one is returned', async () => {
  const run = tmpRun();
  await writeCheckpoint(run, contentFor(1));
  const second = await writeCheckpoint(run, contentFor(2));
  const bin = path.join(second.path, 'tensors.bin');

  // Torn: the .bin is shorter than the manifest says (a filesystem that reordered writes, a crash mid-copy).
  const full = await fsp.readFile(bin);
  await fsp.writeFile(bin, full.subarray(0, full.length - 100));
  let loaded = await loadLatestCheckpoint(run);
  assertSameContent(loaded!, contentFor(1));
  assert.equal(loaded!.skipped[0]!.name, second.name);
  assert.match(loaded!.skipped[0]!.reason, /torn/);

  // Same length, one flipped bit.
  const flipped = Buffer.from(full);
  flipped[1000] = flipped[1000]! ^ 1;
  await fsp.writeFile(bin, flipped);
  loaded = await loadLatestCheckpoint(run);
  assertSameContent(loaded!, contentFor(1));
  assert.match(loaded!.skipped[0]!.reason, /SHA-256/);

  // A half-written manifest.
  await fsp.writeFile(bin, full);
  const manifest = await fsp.readFile(path.join(second.path, 'manifest.json'), 'utf8');
  await fsp.writeFile(path.join(second.path, 'manifest.json'), manifest.slice(0, manifest.length / 2));
  loaded = await loadLatestCheckpoint(run);
  assertSameContent(loaded!, contentFor(1));
  assert.match(loaded!.skipped[0]!.reason, /not valid JSON/);

  // A garbage `latest` pointer: the directories are scanned by step instead.
  await fsp.writeFile(path.join(second.path, 'manifest.json'), manifest);
  await fsp.writeFile(path.join(run, CHECKPOINTS_DIR, LATEST_FILE), '../../etc/passwd');
  assertSameContent((await loadLatestCheckpoint(run))!, contentFor(2));

  // Nothing whole at all.
  await fsp.rm(path.join(run, CHECKPOINTS_DIR), { recursive: true });
  assert.equal(await loadLatestCheckpoint(run), undefined);
});

test('hashSpec ignores key order and sees every value', () => {
  assert.equal(hashSpec({ a: 1, b: { c: [1, 2], d: 'x' } }), hashSpec({ b: { d: 'x', c: [1, 2] }, a: 1 }));
  assert.notEqual(hashSpec({ a: 1, b: { c: [1, 2] } }), hashSpec({ a: 1, b: { c: [2, 1] } }));
  assert.match(hashSpec({}), /^[0-9a-f]{16}$/);
});

/**
 * The child: writes checkpoint 1 whole, then checkpoint 2 with a hook that, at the chosen phase, says where it
 * is and hangs there until the parent SIGKILLs it. Phase `tensors` hangs halfway through `tensors.bin`.
 */
function childScript(runDir: string, killAt: CheckpointPhase): string {
  return `
    const mod = await import(${JSON.stringify(pathToFileURL(CHECKPOINT_MODULE).href)});
    const { writeCheckpoint } = mod.writeCheckpoint ? mod : mod.default;
    const contentFor = ${contentFor.toString()};
    await writeCheckpoint(${JSON.stringify(runDir)}, contentFor(1));
    process.stdout.write('FIRST DONE\\n');
    await writeCheckpoint(${JSON.stringify(runDir)}, contentFor(2), {
      chunkBytes: 4096,
      onPhase: async (phase, { bytesWritten, bytesTotal }) => {
        if (phase !== ${JSON.stringify(killAt)}) return;
        if (phase === 'tensors' && bytesWritten < bytesTotal / 2) return;
        process.stdout.write('AT ' + phase + ' ' + bytesWritten + '/' + bytesTotal + '\\n');
        setInterval(() => {}, 1000);
        await new Promise(() => {});
      },
    });
    process.stdout.write('SECOND DONE\\n');
  `;
}

async function killDuringWrite(runDir: string, killAt: CheckpointPhase): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', childScript(runDir, killAt)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('AT ')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`child exited before the kill point (${killAt}): ${out}\n${err}`)));
  });
  const { signal } = await exited;
  assert.equal(signal, 'SIGKILL');
  return out;
}

test('SIGKILL at any point of a checkpoint write leaves the previous one loadable and bit-identical', { timeout: 60_000 }, async () => {
  const phases: CheckpointPhase[] = ['tensors', 'tensors-written', 'manifest-written', 'renamed', 'latest-written'];
  for (const phase of phases) {
    const run = tmpRun();
    const out = await killDuringWrite(run, phase);
    assert.match(out, new RegExp(`AT ${phase}`));
    const loaded = await loadLatestCheckpoint(run);
    assert.ok(loaded, `${phase}: a checkpoint loads`);
    assertSameContent(loaded, contentFor(1));
    assert.deepEqual(loaded.skipped, [], `${phase}: the pointer still names the first checkpoint`);
    // The run goes on: the next write cleans up what the killed one left.
    await writeCheckpoint(run, contentFor(3));
    assertSameContent((await loadLatestCheckpoint(run))!, contentFor(3));
    const leftovers = (await fsp.readdir(path.join(run, CHECKPOINTS_DIR))).filter((n) => n.includes('.tmp-'));
    assert.deepEqual(leftovers, [], `${phase}: no temporary files left`);
  }
  // Killed after the pointer was replaced (while pruning): the new checkpoint is complete and current.
  const run = tmpRun();
  await killDuringWrite(run, 'pruned');
  assertSameContent((await loadLatestCheckpoint(run))!, contentFor(2));
});
