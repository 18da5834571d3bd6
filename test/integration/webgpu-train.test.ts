/**
 * Training on webgpu (whatever adapter this machine has: mesa's lavapipe in CI) against wasm (one thread):
 *
 * - the masked-LM job (src/core/train/mlm-job.ts, in-process) on the bert-tiny and groupbert-tiny presets (their
 *   layers, widths, dropout and optimizer as they are; a 128-piece vocabulary, 2×16 tokens, 4 predictions), a causal
 *   GroupBERT variant and a model of the rarer options (every module branch on the GPU), the
 *   same seed and the same batches: 5 steps give losses equal step by step within 1e-3 (relative) and finite;
 * - `convbert train <spec> --backend webgpu --steps 3` (the CLI, forking the real trainer) exits 0; its run.json
 *   names the backend webgpu, the adapter (in its description) and the limits; metrics.jsonl's started event carries
 *   the backend's details (adapter, adapterDescription, softwareAdapter, limits) and its step rows memoryBytes and
 *   peakMemoryBytes > 0.
 *
 * Without an adapter the tests are skipped with the loader's reason printed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { resolveSpec } from '../../src/core/spec';
import { useBuiltInTrainer } from '../cli-harness';
import { readMetricEvents } from '../../src/run-format/metrics';
import { readRunInfo } from '../../src/run-format/run-dir';
import { assertSameCurve, jobLosses, tinySpec, VARIANTS } from '../train-parity';
import { webgpuOrSkip } from '../webgpu-adapter';

const ROOT = resolve(__dirname, '../..');
const CORPUS = join(ROOT, 'test/fixtures/corpus/small.txt');
const STEPS = 5;
const TOL = 1e-3;

let skip: string | false = false;
let dir = '';

before(async () => {
  // The trainer the CLI forks runs the built-in masked-LM job.
  useBuiltInTrainer();
  dir = mkdtempSync(join(tmpdir(), 'convbert-webgpu-train-'));
  copyFileSync(CORPUS, join(dir, 'corpus.txt'));
  skip = (await webgpuOrSkip()).skip;
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('webgpu trains like wasm', () => {
  for (const variant of Object.keys(VARIANTS)) {
    it(`${variant}: ${STEPS} steps from the same seed, losses equal step by step within ${TOL} (relative)`, async (t) => {
      if (skip) return t.skip(skip);
      const spec = resolveSpec(tinySpec(variant, STEPS));
      const onWasm = await jobLosses(spec, 'wasm', dir, STEPS);
      const onGpu = await jobLosses(spec, 'webgpu', dir, STEPS);
      t.diagnostic(`wasm ${onWasm.map((x) => x.toFixed(6)).join(' ')}; webgpu ${onGpu.map((x) => x.toFixed(6)).join(' ')}`);
      assertSameCurve(onWasm, onGpu, TOL, variant);
    });
  }
});

describe('convbert train --backend webgpu', () => {
  it('trains 3 steps, names the backend and the adapter in run.json, and records GPU memory per step', { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const spec = tinySpec('bert-tiny', STEPS);
    writeFileSync(join(dir, 'tiny.convbert.json'), JSON.stringify({ ...spec, training: { ...spec.training, steps: 10, backend: 'cpu' } }));
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), color: createColors(false), isTTY: false, cwd: dir };
    const runDir = join(dir, 'run');
    const code = await runCli(['train', 'tiny.convbert.json', '--backend', 'webgpu', '--steps', '3', '--out', runDir], io);
    assert.equal(code, 0, `exit ${code}: ${err.join('')}${out.join('')}`);
    assert.match(out.join(''), /^backend\s+webgpu/m);

    // run.json: the backend, the adapter in its description, and the limits requested.
    const info = await readRunInfo(runDir);
    assert.equal(info?.state, 'completed');
    assert.equal(info?.step, 3);
    assert.equal(info?.backend?.requested, 'webgpu');
    assert.equal(info?.backend?.name, 'webgpu');
    assert.match(info?.backend?.limits ?? '', /maxStorageBuffersPerShaderStage=\d+, maxStorageBufferBindingSize=\d+/);

    // metrics.jsonl's started event: the backend's details, the adapter's parts one by one.
    const { events, invalid } = await readMetricEvents(runDir);
    assert.deepEqual(invalid, []);
    const started = events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started', 'a started event');
    assert.equal(started.backend.name, 'webgpu');
    const details = started.backend.details ?? {};
    t.diagnostic(`backend details: ${JSON.stringify(details)}`);
    assert.equal(typeof details.adapter, 'string');
    assert.ok(String(details.adapter).trim().length > 0, 'the adapter is named');
    assert.equal(typeof details.adapterDescription, 'string');
    assert.equal(typeof details.softwareAdapter, 'boolean');
    assert.equal(details.limits, info?.backend?.limits);
    assert.ok(info?.backend?.description?.includes(String(details.adapterDescription)), `run.json's description names the adapter: ${info?.backend?.description}`);

    const steps = events.filter((e) => e.type === 'metrics');
    assert.deepEqual(
      steps.map((m) => m.step),
      [1, 2, 3],
    );
    for (const m of steps) {
      assert.ok(Number.isFinite(m.loss), `step ${m.step}: loss ${m.loss}`);
      assert.ok(m.memoryBytes > 0, `step ${m.step}: memoryBytes ${m.memoryBytes}`);
      assert.ok((m.peakMemoryBytes ?? 0) > 0, `step ${m.step}: peakMemoryBytes ${m.peakMemoryBytes}`);
      assert.ok(m.peakMemoryBytes! >= m.memoryBytes, `step ${m.step}: peak ${m.peakMemoryBytes} below current ${m.memoryBytes}`);
    }
  });
});
