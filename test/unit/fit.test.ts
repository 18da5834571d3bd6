/**
 * Issue #9, finding 6: a spec that cannot fit is refused before a trainer starts. `trainingFit` holds the cost
 * model's memory estimate against the budget and the backend's hard limit; the validator makes "over every
 * backend" and absurd sizes errors; `convbert train` refuses (and `--force` only lifts the budget).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeCost } from '../../src/core/cost';
import { describeOutOfMemory, hardLimitBytes, trainingFit, type MachineFacts } from '../../src/core/cost/fit';
import { BACKEND_DESCRIPTIONS, BACKEND_MEMORY_LIMITS } from '../../src/core/spec/schema';
import { resolveSpec } from '../../src/core/spec/resolve';
import type { SpecFile } from '../../src/core/spec/schema';
import { validateSpecText } from '../../src/core/validate/validate';
import { cli, useBuiltInTrainer } from '../cli-harness';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** The spec of the issue: groupbert-large at batch 64 on wasm. */
const BIG = '{"version":1,"name":"big","extends":"groupbert-large","training":{"batchSize":64,"steps":4,"checkpointInterval":2,"backend":"wasm"}}';
const MACHINE_16: MachineFacts = { memoryBytes: 16 * GiB, autoBackend: 'wasm' };

function spec(text: string) {
  const r = validateSpecText(text);
  assert.ok(r.file, JSON.stringify(r.diagnostics));
  return resolveSpec(r.file as SpecFile);
}

test('every backend has a hard-limit entry beside its description (one table)', () => {
  const named = Object.keys(BACKEND_DESCRIPTIONS).filter((b) => b !== 'auto').sort();
  assert.deepEqual(Object.keys(BACKEND_MEMORY_LIMITS).sort(), named);
  assert.equal(hardLimitBytes('wasm'), 4 * GiB - 256 * MiB);
  assert.equal(hardLimitBytes('cpu', { memoryBytes: 8 * GiB }), 8 * GiB);
  assert.equal(hardLimitBytes('cpu'), undefined, 'no machine facts: no figure is made up');
  assert.equal(hardLimitBytes('auto', { memoryBytes: 8 * GiB, autoBackend: 'tfjs-node' }), 8 * GiB);
  assert.equal(hardLimitBytes('auto', {}), hardLimitBytes('wasm'), 'auto without native add-ons is wasm');
});

test("the issue's groupbert-large spec on wasm: about 36 GiB, past wasm's hard limit, cannot be forced", () => {
  const s = spec(BIG);
  const fit = trainingFit(s, 'wasm', undefined, MACHINE_16);
  // One source: the same figure as the cost model (and so as the memory-over-budget diagnostic).
  assert.equal(fit.estimateBytes, computeCost(s).memory.totalBytes);
  assert.ok(fit.estimateBytes > 35 * GiB && fit.estimateBytes < 38 * GiB, `estimate ${fit.estimateBytes / GiB} GiB`);
  assert.equal(fit.fits, false);
  assert.equal(fit.canForce, false);
  assert.equal(fit.hardLimitBytes, 3840 * MiB);
  assert.equal(fit.budgetBytes, 4096 * MiB);
  assert.match(fit.message, /36 GiB/);
  assert.match(fit.message, /hard limit of the wasm backend, 3840 MiB/);
  assert.match(fit.message, /4096 MiB memory budget/);
  // Its weights, gradients and optimizer state alone (7.7 GiB) exceed wasm: only a smaller model helps there.
  assert.match(fit.suggestions.join('\n'), /smaller model.*7\.7 GiB/);
});

test('what the suggestions say to change does fit', () => {
  const s = spec('{"version":1,"extends":"groupbert-base","training":{"batchSize":64,"gradientAccumulation":1}}');
  const fit = trainingFit(s, 'wasm', undefined, MACHINE_16);
  assert.equal(fit.fits, false);
  assert.equal(fit.canForce, false);
  const text = fit.suggestions.join('\n');
  const batch = Number(/batchSize from 64 to (\d+)/.exec(text)?.[1]);
  const acc = Number(/gradientAccumulation from 1 to (\d+)/.exec(text)?.[1]);
  const seq = Number(/sequenceLength from 128 to (\d+)/.exec(text)?.[1]);
  assert.ok(batch >= 1 && batch < 64 && acc >= 2, text);
  assert.equal(batch * acc, 64, 'the effective batch is kept');
  assert.ok(computeCost(s, { batchSize: batch }).memory.totalBytes <= 3840 * MiB);
  assert.ok(computeCost(s, { sequenceLength: seq }).memory.totalBytes <= 3840 * MiB);
  assert.ok(computeCost(s, { sequenceLength: seq + 1 }).memory.totalBytes > 3840 * MiB, 'the largest sequence length that fits');
  // The machine (16 GiB) holds it on the native/cpu backends and PyTorch on the CPU: they are offered (not the GPUs,
  // whose memory is not known here).
  assert.match(text, /another backend: tfjs-node \(up to 16 GiB\), cpu \(up to 16 GiB, [^)]*\) or torch-cpu \(up to 16 GiB\)$/m);
  assert.doesNotMatch(text, /cuda|mps/);
});

test('over the budget only: does not fit, but can be forced, and raising the budget is offered', () => {
  const s = spec('{"version":1,"extends":"groupbert-base","training":{"batchSize":64,"backend":"cpu"}}');
  const fit = trainingFit(s, 'cpu', undefined, MACHINE_16);
  assert.equal(fit.fits, false);
  assert.equal(fit.canForce, true);
  assert.match(fit.message, /within the cpu backend's hard limit of 16 GiB/);
  assert.match(fit.suggestions.join('\n'), new RegExp(`memoryBudgetMiB to ${Math.ceil(fit.estimateBytes / MiB)}`));
  assert.doesNotMatch(fit.suggestions.join('\n'), /another backend/, 'another backend does not lift a budget');
  // An explicit budget wins over the spec's.
  assert.equal(trainingFit(s, 'cpu', 64 * 1024, MACHINE_16).fits, true);
});

test('describeOutOfMemory says out of memory with the numbers, never "memory access out of bounds"', () => {
  const big = describeOutOfMemory(spec(BIG), 'wasm', undefined, MACHINE_16);
  assert.match(big, /^out of memory on the wasm backend: estimated training memory 36 GiB/);
  assert.match(big, /3840 MiB/);
  assert.match(big, /4096 MiB/);
  assert.match(big, /To make it fit: /);
  // A spec the estimate says fits, yet memory ran out: still the numbers and what to change.
  const small = describeOutOfMemory(spec('{"version":1,"extends":"bert-tiny"}'), 'wasm');
  assert.match(small, /^out of memory on the wasm backend: the estimate \d+(\.\d)? MiB .*hard limit 3840 MiB/);
  assert.match(small, /lower training\.batchSize from 16 to \d+/);
  for (const m of [big, small]) assert.doesNotMatch(m, /out of bounds/);
});

test('validator: over every backend on this machine is an error on the value to change; over the budget a warning', () => {
  const at = (d: { range: { start: { line: number; character: number } } }) => `${d.range.start.line + 1}:${d.range.start.character + 1}`;
  const text = '{\n  "version": 1,\n  "extends": "groupbert-large",\n  "training": { "batchSize": 64, "backend": "wasm" }\n}';
  const withMachine = validateSpecText(text, { machine: MACHINE_16 });
  const err = withMachine.diagnostics.find((d) => d.code === 'memory-over-every-backend');
  assert.ok(err, JSON.stringify(withMachine.diagnostics));
  assert.equal(err.severity, 'error');
  assert.deepEqual(err.path, ['training', 'batchSize']);
  assert.equal(at(err), '4:30'); // the 64
  assert.match(err.message, /36 GiB is over every backend's hard limit, wasm's 3840 MiB and the machine's 16 GiB/);
  assert.match(err.message, /lower training\.batchSize from 64 to \d+/);
  assert.equal(withMachine.spec, undefined, 'not trainable');
  assert.ok(!withMachine.diagnostics.some((d) => d.code === 'memory-over-budget'), 'one diagnostic, not two');
  // Without machine facts (pure use) only the budget warning: the machine could be large enough.
  const pure = validateSpecText(text);
  assert.deepEqual(pure.diagnostics.map((d) => [d.code, d.severity]), [['memory-over-budget', 'warning']]);
  // A machine large enough for it: a warning again.
  assert.deepEqual(
    validateSpecText(text, { machine: { memoryBytes: 64 * GiB } }).diagnostics.map((d) => d.severity),
    ['warning'],
  );
});

test('validator: an absurd size is an error, so convbert validate exits 1', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-fit-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'huge.convbert.json'), '{"version":1,"extends":"groupbert-base","model":{"hiddenSize":65536,"numLayers":1024,"numHeads":256}}');
  const r = await cli(dir, 'validate', 'huge.convbert.json');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /huge\.convbert\.json:1:\d+: error: the model would have 83\.6 T parameters .*\[model-too-large\]/);
});

// ---------------------------------------------------------------------------------------------------------
// convbert train

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

before(async () => {
  useBuiltInTrainer();
});


function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-fit-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  copyFileSync(path.resolve(__dirname, '../fixtures/corpus/small.txt'), path.join(dir, 'corpus.txt'));
  return dir;
}

const runsOf = (cwd: string) => (existsSync(path.join(cwd, '.convbert', 'runs')) ? readdirSync(path.join(cwd, '.convbert', 'runs')) : []);

test('convbert train refuses a spec past the backend hard limit before any trainer starts; --force cannot override', async () => {
  // groupbert-base at batch 64 (13 GiB): past wasm's limit, within most machines' memory, so it validates.
  const cwd = workspace({ 'base.convbert.json': '{"version":1,"extends":"groupbert-base","training":{"batchSize":64,"backend":"wasm"}}' });
  for (const extra of [[], ['--force']]) {
    const r = await cli(cwd, 'train', 'base.convbert.json', ...extra);
    if (os.totalmem() < 13 * GiB) {
      assert.match(r.stdout + r.stderr, /memory-over-every-backend/); // a small machine: the validator already says no
    } else {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^convbert: will not train: estimated training memory 13 GiB .* exceeds the hard limit of the wasm backend, 3840 MiB/m);
      assert.match(r.stderr, /^ {2}- lower training\.batchSize from 64 to \d+/m);
      assert.match(r.stderr, /--force cannot help/);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(runsOf(cwd), [], 'no run directory: no trainer was started');
  }
});

test('convbert train refuses a spec over its budget only, and --force trains it anyway', { timeout: 120_000 }, async () => {
  // 1 layer at hidden 256 with an 8000-row embedding: about 35 MiB, over a 16 MiB budget, far within cpu's limit.
  const text = JSON.stringify({
    version: 1,
    name: 'over-budget',
    extends: 'bert-tiny',
    model: { hiddenSize: 256, numHeads: 4, numLayers: 1, vocabSize: 8000, maxPositions: 32 },
    training: {
      corpus: ['corpus.txt'],
      tokenizer: { vocabSize: 200 },
      sequenceLength: 16,
      batchSize: 2,
      steps: 2,
      evalInterval: 2,
      evalBatches: 1,
      checkpointInterval: 2,
      backend: 'cpu',
      memoryBudgetMiB: 16,
    },
  });
  const cwd = workspace({ 'over.convbert.json': text });
  const refused = await cli(cwd, 'train', 'over.convbert.json');
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /will not train: estimated training memory \d+(\.\d)? MiB .* exceeds the 16 MiB memory budget/);
  assert.match(refused.stderr, /pass --force to train anyway/);
  assert.deepEqual(runsOf(cwd), []);

  const forced = await cli(cwd, 'train', 'over.convbert.json', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /warning: estimated training memory .* exceeds the 16 MiB memory budget.*training anyway \(--force\)/);
  assert.match(forced.stdout, /completed 2 steps/);
  assert.equal(runsOf(cwd).length, 1);
});
