/**
 * The run registry against real run directories (what the trainer writes), and the dashboard controller that
 * serves the webview from it: handshake, replay when visible again, batched points, probes, exports, validation.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainerMessage, type TrainerMessage, type TrainerMessageBody } from '../../../src/protocol';
import { fromWebview, parseToWebviewMessage, type ToWebviewMessage } from '../../../src/protocol/webview';
import { decodeProbe, encodeProbe, type ModelProbe } from '../../../src/core/train/probe-format';
import { RUNS_DIR } from '../../../src/run-format/run-dir';
import { DashboardController } from '../../../src/extension/dashboard/controller';
import { probeMessage } from '../../../src/extension/dashboard/probe-file';
import { displayState, isResumable, RunRegistry } from '../../../src/extension/runs/registry';
import { runDescription, runPickItem } from '../../../src/extension/runs/labels';
import { readRunInfo } from '../../../src/run-format/run-dir';
import { readFileSync } from 'node:fs';
import { analyzeSpecText } from '../../../src/extension/analysis';
import { costLabel, specCostEntry, STALE_MARK } from '../../../src/extension/dashboard/spec-costs';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convbert-ext-'));
  made.push(dir);
  return dir;
}

const msg = (body: TrainerMessageBody): TrainerMessage => trainerMessage(body, 1_700_000_000_000);

function probe(step: number, T = 4): ModelProbe {
  const probs = new Float32Array(2 * T * T).map((_, i) => ((i % T) + 1) / 10);
  const map = new Float32Array(T * T).map((_, i) => (i % (T + 1) === 0 ? 1 : 0));
  return {
    step,
    tokens: ['[CLS]', 'a', 'b', '[SEP]'].slice(0, T),
    length: T,
    realLength: T,
    attention: [{ layer: 0, module: 'attention', heads: 2, probs, meanDistance: [0.5, 1.5] }],
    conv: [{ layer: 0, module: 'conv', kernelSize: 3, padding: 'same', offsets: [-1, 0, 1], offsetWeights: Float32Array.from([0.2, 0.5, 0.3]), map, meanDistance: 0.4 }],
  };
}

/** A run directory as the trainer leaves it. */
function writeRun(root: string, runId: string, info: Record<string, unknown>, events: TrainerMessageBody[] = [], probes: number[] = []): string {
  const dir = path.join(root, runId);
  mkdirSync(path.join(dir, 'probes'), { recursive: true });
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  writeFileSync(path.join(dir, 'spec.convbert.json'), '{ "version": 1, "extends": "bert-tiny" }\n');
  const now = new Date(1_700_000_000_000).toISOString();
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId, name: `run ${runId.slice(-6)}`, createdAt: now, updatedAt: now, step: 0, versions: { protocol: 1, node: '20' }, ...info }));
  writeFileSync(path.join(dir, 'metrics.jsonl'), events.map((e) => JSON.stringify(msg(e))).join('\n') + (events.length ? '\n' : ''));
  for (const s of probes) writeFileSync(path.join(dir, 'probes', `step-${String(s).padStart(9, '0')}.probe`), encodeProbe(probe(s)));
  return dir;
}

const metrics = (step: number, loss: number): TrainerMessageBody => ({ type: 'metrics', step, loss, mlmLoss: loss, learningRate: 0.001, gradNorm: 1, tokensPerSecond: 10, stepMs: 5, flopsPerSecond: 0, memoryBytes: 0 });

test('run.json states read as the dashboard shows them: a dead trainer means interrupted', () => {
  const info = { format: 'convbert-run', formatVersion: 1, runId: 'x', createdAt: '', updatedAt: '', step: 0, pid: 4242, versions: { protocol: 1, node: '' } } as const;
  const dead = () => false;
  const alive = () => true;
  assert.equal(displayState({ ...info, state: 'running' }, dead), 'interrupted');
  assert.equal(displayState({ ...info, state: 'running' }, alive), 'running');
  assert.equal(displayState({ ...info, state: 'paused' }, dead), 'interrupted');
  assert.equal(displayState({ ...info, state: 'created' }, alive), 'starting');
  assert.equal(displayState({ ...info, state: 'completed' }, dead), 'completed');
  assert.equal(displayState({ ...info, state: 'error' }, dead), 'error');
  // Issue #9 (4): read as the CLI reads it (core's effectiveRunState): "running" without a pid is interrupted, and
  // the real check of this machine's processes is the default.
  const { pid: _pid, ...noPid } = info;
  void _pid;
  assert.equal(displayState({ ...noPid, state: 'running' }, alive), 'interrupted');
  assert.equal(displayState({ ...info, state: 'running', pid: 2_147_483_000 }), 'interrupted');
  assert.equal(displayState({ ...info, state: 'running', pid: process.pid }), 'running');
});

test('the registry rescans run directories: states, backends, steps, best losses, probes, newest first', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  writeRun(root, '20250101-100000-000-aaaaaa', { state: 'completed', step: 3, totalSteps: 3, backend: { requested: 'auto', name: 'wasm' } }, [
    { type: 'started', runId: 'a', runDir: 'a', backend: { requested: 'auto', name: 'wasm', skipped: [] }, seed: 1, step: 0, totalSteps: 3, resumed: false },
    metrics(1, 5),
    metrics(2, 3),
    { type: 'eval', step: 2, loss: 4, mlmAccuracy: 0.1 },
    metrics(3, 2.5),
    { type: 'eval', step: 3, loss: 3.5, mlmAccuracy: 0.2 },
    { type: 'probes', step: 2, path: 'probes/step-000000002.probe', summary: {} },
    { type: 'done', reason: 'completed', step: 3, summary: {} },
  ], [2]);
  writeRun(root, '20250102-100000-000-bbbbbb', { state: 'running', step: 7, totalSteps: 40, pid: 2_147_483_000 }, [metrics(1, 9)]);
  writeRun(root, '20250103-100000-000-cccccc', { state: 'running', step: 1, totalSteps: 40, pid: process.pid });
  mkdirSync(path.join(root, 'not-a-run'), { recursive: true });

  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  const runs = registry.list();
  assert.deepEqual(runs.map((r) => r.runId), ['20250103-100000-000-cccccc', '20250102-100000-000-bbbbbb', '20250101-100000-000-aaaaaa']);
  const [live, dead, done] = runs;
  assert.equal(live?.state, 'running', 'its pid is alive (this process)');
  assert.equal(live?.resumable, false);
  assert.equal(dead?.state, 'interrupted');
  assert.equal(dead?.resumable, true);
  assert.equal(dead?.bestLoss, 9);
  assert.equal(done?.state, 'completed');
  assert.equal(done?.backend, 'wasm');
  assert.equal(done?.bestLoss, 3.5, 'the best evaluation loss once there are evaluations');
  assert.equal(done?.lastLoss, 2.5);
  assert.deepEqual(registry.points(done!.runId).map(({ tokens: _t, trainingMs: _ms, ...p }) => p), [
    { step: 1, loss: 5, lr: 0.001 },
    { step: 2, loss: 3, lr: 0.001, valLoss: 4, valAccuracy: 0.1 },
    { step: 3, loss: 2.5, lr: 0.001, valLoss: 3.5, valAccuracy: 0.2 },
  ]);
  assert.deepEqual(registry.points(done!.runId).map((p) => p.trainingMs), [5, 10, 15], 'the training time through each step (its totals: issue #12)');
  assert.deepEqual(registry.probeSteps(done!.runId), [2]);
  let fired = 0;
  registry.onDidChange(() => fired++);
  await registry.refresh();
  assert.equal(fired, 0, 'a rescan that changes nothing tells nobody');
  writeRun(root, '20250104-100000-000-dddddd', { state: 'completed', step: 1, totalSteps: 1 }, [metrics(1, 1)]);
  await registry.refresh();
  assert.equal(fired, 1);
  assert.equal(registry.list().length, 4);
  const series = registry.series();
  assert.equal(series.length, 4);
  assert.ok(parseToWebviewMessage({ v: 1, type: 'snapshot', runs: series, selectedRunIds: [], costs: [] }).ok, 'the series make a valid snapshot');
});

test('a live run: messages update it as they arrive; its end is read back from the directory; delete removes it', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const registry = new RunRegistry({ roots: () => [root] });
  const changes: string[] = [];
  registry.onDidChange((c) => changes.push(`${c.message?.type ?? 'change'}${c.point ? `@${c.point.step}` : ''}`));
  const runId = '20250104-100000-000-dddddd';
  const dir = path.join(root, runId);
  await registry.beginLive(runId, dir, root, { name: 'tiny', specSource: '/w/tiny.convbert.json' });
  assert.equal(registry.get(runId)?.state, 'starting');
  assert.equal(registry.get(runId)?.live, true);
  registry.apply(runId, msg({ type: 'started', runId, runDir: dir, backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step: 0, totalSteps: 2, resumed: false }));
  registry.apply(runId, msg(metrics(1, 4)));
  registry.apply(runId, msg({ type: 'progress', step: 1, totalSteps: 2, tokensSeen: 10, elapsedMs: 5, etaMs: 5 }));
  registry.apply(runId, msg(metrics(2, 3)));
  registry.apply(runId, msg({ type: 'probes', step: 2, path: 'probes/step-000000002.json', summary: { file: 'probes/step-000000002.probe' } }));
  registry.apply(runId, msg({ type: 'probes', step: 3, path: 'probes/step-000000003.json', summary: { kernelNorm: 1 } }));
  registry.apply(runId, msg({ type: 'done', reason: 'completed', step: 2, summary: {} }));
  assert.deepEqual(changes, ['change', 'started', 'metrics@1', 'progress', 'metrics@2', 'probes', 'probes', 'done']);
  assert.deepEqual(registry.probeSteps(runId), [2], 'the masked-LM job\'s .probe file counts; a toy job\'s JSON does not');
  const r = registry.get(runId)!;
  assert.equal(r.state, 'completed');
  assert.equal(r.live, false);
  assert.equal(r.backend, 'cpu');
  assert.equal(r.bestLoss, 3);
  // The trainer wrote the directory meanwhile.
  writeRun(root, runId, { state: 'completed', step: 2, totalSteps: 2, lastCheckpoint: 'checkpoints/ckpt-2' }, [metrics(1, 4), metrics(2, 3)]);
  await registry.endLive(runId);
  assert.equal(registry.get(runId)?.lastCheckpoint, 'checkpoints/ckpt-2');
  await registry.refresh();
  assert.equal(registry.get(runId)?.state, 'completed');
  assert.equal(registry.points(runId).length, 2);

  await registry.delete(runId);
  assert.equal(existsSync(dir), false);
  assert.equal(registry.get(runId), undefined);
});

test('a live run that dies without done is interrupted (or failed, with the reason); a running run cannot be deleted', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.beginLive('20250105-100000-000-eeeeee', path.join(root, 'x'), root, { name: 'x' });
  registry.apply('20250105-100000-000-eeeeee', msg({ type: 'started', runId: 'x', runDir: 'x', backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step: 0, totalSteps: 2, resumed: false }));
  await assert.rejects(registry.delete('20250105-100000-000-eeeeee'), /still running/);
  await registry.endLive('20250105-100000-000-eeeeee');
  assert.equal(registry.get('20250105-100000-000-eeeeee')?.state, 'interrupted');
  assert.equal(registry.get('20250105-100000-000-eeeeee')?.resumable, true);
  await registry.beginLive('20250105-100000-000-ffffff', path.join(root, 'y'), root, { name: 'y' });
  await registry.endLive('20250105-100000-000-ffffff', 'the trainer exited without `done` (signal SIGKILL)');
  assert.equal(registry.get('20250105-100000-000-ffffff')?.state, 'error');
  assert.match(registry.get('20250105-100000-000-ffffff')?.message ?? '', /SIGKILL/);
});

test('resuming drops the points past the checkpoint the trainer restarts from', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const runId = '20250106-100000-000-aaaaaa';
  const dir = writeRun(root, runId, { state: 'running', step: 4, totalSteps: 10, pid: 2_147_483_000 }, [metrics(1, 4), metrics(2, 3), metrics(3, 2), metrics(4, 1)]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  assert.equal(registry.get(runId)?.state, 'interrupted');
  await registry.beginLive(runId, dir, root, { name: 'r', resume: true });
  registry.apply(runId, msg({ type: 'started', runId, runDir: dir, backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step: 2, totalSteps: 10, resumed: true, checkpoint: 'checkpoints/ckpt-2' }));
  assert.deepEqual(registry.points(runId).map((p) => p.step), [1, 2]);
  assert.equal(registry.get(runId)?.state, 'running');
});

const started = (runId: string, step: number, resumed: boolean): TrainerMessageBody => ({ type: 'started', runId, runDir: runId, backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step, totalSteps: 200, resumed });

test('issue #9 (2): a resume without a checkpoint restarts at 0: the old points are superseded, never kept beside the new', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const runId = '20250106-110000-000-aaaaaa';
  const old = Array.from({ length: 147 }, (_, i) => metrics(i + 1, 20 - i / 10));
  const dir = writeRun(root, runId, { state: 'running', step: 147, totalSteps: 200, pid: 2_147_483_000 }, [started(runId, 0, false), ...old]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  assert.equal(registry.points(runId).length, 147);
  await registry.beginLive(runId, dir, root, { name: 'r', resume: true });
  // What the trainer sends when there is no checkpoint to resume from: step 0, `resumed: false`.
  registry.apply(runId, msg(started(runId, 0, false)));
  assert.deepEqual(registry.points(runId), [], 'nothing past step 0 survives');
  assert.equal(registry.get(runId)?.bestLoss, undefined);
  for (let s = 1; s <= 14; s++) registry.apply(runId, msg(metrics(s, 30 + s)));
  const points = registry.points(runId);
  assert.deepEqual(points.map((p) => p.step), Array.from({ length: 14 }, (_, i) => i + 1));
  assert.equal(points[0]?.loss, 31, 'the new value, not the old');
  assert.equal(registry.get(runId)?.bestLoss, 31);
  assert.equal(registry.get(runId)?.lastLoss, 44);
});

test('issue #9 (2): a metrics.jsonl holding a step twice (an old resumed run) keeps only the last value per step', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  // With the `started` line of the resume (from the checkpoint at step 2), and without one (older files).
  const a = '20250106-120000-000-aaaaaa';
  writeRun(root, a, { state: 'completed', step: 4, totalSteps: 4 }, [started(a, 0, false), metrics(1, 9), metrics(2, 8), { type: 'eval', step: 3, loss: 7.5, mlmAccuracy: 0.1 }, metrics(3, 7), metrics(4, 6), started(a, 2, true), metrics(3, 5), metrics(4, 4)]);
  const b = '20250106-130000-000-bbbbbb';
  writeRun(root, b, { state: 'completed', step: 3, totalSteps: 3 }, [metrics(1, 9), metrics(2, 8), { type: 'eval', step: 2, loss: 8.5, mlmAccuracy: 0.1 }, metrics(3, 7), metrics(1, 3), metrics(2, 2), metrics(3, 1)]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  assert.deepEqual(registry.points(a).map(({ step, loss, lr, valLoss, trainingMs }) => ({ step, loss, lr, valLoss, trainingMs })), [
    { step: 1, loss: 9, lr: 0.001, valLoss: undefined, trainingMs: 5 },
    { step: 2, loss: 8, lr: 0.001, valLoss: undefined, trainingMs: 10 },
    { step: 3, loss: 5, lr: 0.001, valLoss: undefined, trainingMs: 15 },
    { step: 4, loss: 4, lr: 0.001, valLoss: undefined, trainingMs: 20 },
  ], 'the evaluation at step 3 was superseded with it; the training time counts each kept step once');
  assert.equal(registry.get(a)?.bestLoss, 4, 'no evaluation is left: the best training loss');
  assert.deepEqual(registry.points(b).map((p) => [p.step, p.loss, p.valLoss]), [[1, 3, undefined], [2, 2, undefined], [3, 1, undefined]]);
  assert.equal(registry.get(b)?.lastLoss, 1);
});

/** A step of `ms` milliseconds that processed `tokens` tokens and `flops` training FLOPs (sent as rates, as the trainer does). */
const costed = (step: number, loss: number, ms: number, tokens: number, flops: number): TrainerMessageBody => ({
  type: 'metrics', step, loss, mlmLoss: loss, learningRate: 0.001, gradNorm: 1, tokensPerSecond: (tokens * 1000) / ms, stepMs: ms, flopsPerSecond: (flops * 1000) / ms, memoryBytes: 0,
});
const totalsOf = (points: { step: number; tokens?: number; flops?: number; trainingMs?: number }[]) => points.map((p) => [p.step, p.tokens, p.flops, p.trainingMs]);

test('issue #12: points carry tokens, training FLOPs and training time through each kept step, across a resume (live and from disk)', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const runId = '20250106-140000-000-cccccc';
  // Four steps of 250 ms, 256 tokens and 1 GFLOP each; killed after step 4 with the checkpoint at 2.
  const before = [started(runId, 0, false), ...[1, 2, 3, 4].map((s) => costed(s, 10 - s, 250, 256, 1e9))];
  const dir = writeRun(root, runId, { state: 'running', step: 4, totalSteps: 200, pid: 2_147_483_000, lastCheckpoint: 'checkpoints/ckpt-2' }, before);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  assert.deepEqual(totalsOf(registry.points(runId)), [[1, 256, 1e9, 250], [2, 512, 2e9, 500], [3, 768, 3e9, 750], [4, 1024, 4e9, 1000]]);
  // The resume from step 2 retrains 3 and 4 (at 500 ms a step now) and trains 5: sums over the kept steps.
  await registry.beginLive(runId, dir, root, { name: 'r', resume: true });
  const after = [started(runId, 2, true), ...[3, 4, 5].map((s) => costed(s, 9 - s, 500, 256, 1e9)), { type: 'eval', step: 5, loss: 3.5, mlmAccuracy: 0.3 } as TrainerMessageBody];
  const pushed: unknown[] = [];
  registry.onDidChange((c) => c.point && pushed.push(c.point));
  for (const m of after) registry.apply(runId, msg(m));
  const want = [[1, 256, 1e9, 250], [2, 512, 2e9, 500], [3, 768, 3e9, 1000], [4, 1024, 4e9, 1500], [5, 1280, 5e9, 2000]];
  assert.deepEqual(totalsOf(registry.points(runId)), want, 'no reset at the resume, the superseded steps counted once');
  assert.deepEqual(pushed.at(-1), { step: 5, loss: 4, lr: 0.001, tokens: 1280, flops: 5e9, trainingMs: 2000, valLoss: 3.5, valAccuracy: 0.3 }, 'the live point the dashboard gets');
  // What the trainer leaves on disk (metrics.jsonl truncated at the checkpoint, then the resumed session) reads the same.
  writeFileSync(path.join(dir, 'metrics.jsonl'), [...before.slice(0, 3), ...after].map((e) => JSON.stringify(msg(e))).join('\n') + '\n');
  const reread = new RunRegistry({ roots: () => [root] });
  await reread.refresh();
  assert.deepEqual(totalsOf(reread.points(runId)), want);
  // A job without a cost model reports 0 FLOPs per second: its points have no FLOPs (not a flat 0 curve).
  const plain = '20250106-150000-000-dddddd';
  writeRun(root, plain, { state: 'completed', step: 2, totalSteps: 2 }, [metrics(1, 3), metrics(2, 2)]);
  await reread.refresh();
  assert.deepEqual(totalsOf(reread.points(plain)), [[1, 0.05, undefined, 5], [2, 0.1, undefined, 10]]);
});

test('issue #9 (14): two runs of one spec differ by short id and start time; newest first; the best loss says train or val', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const a = '20250301-090000-000-aaaaaa';
  const b = '20250301-100500-000-bbbbbb';
  const events = (withEval: boolean): TrainerMessageBody[] => [metrics(29, 10.8), metrics(30, 10.77), ...(withEval ? [{ type: 'eval', step: 30, loss: 10.76, mlmAccuracy: 0.01 } as TrainerMessageBody] : [])];
  // Created in the other order than the ids sort (a copied or renamed directory): the start time decides.
  writeRun(root, a, { name: 'tiny', state: 'completed', step: 30, totalSteps: 30, createdAt: '2025-03-01T11:00:00.000Z', backend: { requested: 'auto', name: 'wasm' } }, events(true));
  writeRun(root, b, { name: 'tiny', state: 'completed', step: 30, totalSteps: 30, createdAt: '2025-03-01T10:05:00.000Z', backend: { requested: 'auto', name: 'wasm' } }, events(false));
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  assert.deepEqual(registry.list().map((r) => r.runId), [a, b], 'most recent start first');
  const [ra, rb] = registry.list();
  const p = (n: number) => String(n).padStart(2, '0');
  const local = (iso: string) => {
    const t = new Date(iso);
    return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
  };
  assert.equal(runDescription(ra!), `#aaaaaa · ${local('2025-03-01T11:00:00.000Z')} · completed · wasm · step 30/30 · best val 10.76`);
  assert.equal(runDescription(rb!), `#bbbbbb · ${local('2025-03-01T10:05:00.000Z')} · completed · wasm · step 30/30 · best train 10.77`);
  assert.notEqual(runDescription(ra!), runDescription(rb!));
  // The Resume / Open pickers say the same, and carry the full id to match on.
  assert.deepEqual(runPickItem(ra!), { label: 'tiny', description: runDescription(ra!), detail: a, runId: a });
  // The dashboard gets the start time, to show and to order by.
  assert.equal(registry.dashboardInfo(a)?.createdAt, '2025-03-01T11:00:00.000Z');
  assert.ok(parseToWebviewMessage({ v: 1, type: 'snapshot', runs: registry.series(), selectedRunIds: [], costs: [] }).ok);
});

test('issue #9 (14): Rename Run writes a display name into run.json; it survives a rescan and a resume; empty restores the spec name', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const runId = '20250301-090000-000-aaaaaa';
  const dir = writeRun(root, runId, { name: 'tiny', state: 'stopped', step: 3, totalSteps: 30 }, [metrics(3, 5)]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  let fired = 0;
  registry.onDidChange(() => fired++);
  const renamed = await registry.rename(runId, '  lr 3e-4\nwarmup 10 ');
  assert.equal(renamed.name, 'lr 3e-4 warmup 10');
  assert.equal(fired, 1);
  const info = await readRunInfo(dir);
  assert.equal(info?.displayName, 'lr 3e-4 warmup 10');
  assert.equal(info?.name, 'tiny', 'the spec name is kept');
  assert.equal(info?.state, 'stopped', 'nothing else changes');
  const fresh = new RunRegistry({ roots: () => [root] });
  await fresh.refresh();
  assert.equal(fresh.get(runId)?.name, 'lr 3e-4 warmup 10');
  assert.equal(fresh.get(runId)?.specName, 'tiny');
  assert.equal(fresh.dashboardInfo(runId)?.name, 'lr 3e-4 warmup 10');
  // Resumed, the name stays (the trainer's spec name does not replace it).
  await fresh.beginLive(runId, dir, root, { name: 'tiny', resume: true });
  assert.equal(fresh.get(runId)?.name, 'lr 3e-4 warmup 10');
  await fresh.endLive(runId);
  // Empty: back to the spec's name, and the field is gone from run.json.
  await fresh.rename(runId, '   ');
  assert.equal(fresh.get(runId)?.name, 'tiny');
  assert.doesNotMatch(readFileSync(path.join(dir, 'run.json'), 'utf8'), /displayName/);
  // A run without a run.json: a clear error, nothing written.
  const bare = '20250301-100000-000-cccccc';
  mkdirSync(path.join(root, bare), { recursive: true });
  await fresh.refresh();
  await assert.rejects(fresh.rename(bare, 'x'), /run\.json is missing or unreadable/);
});

test('issue #9 (13): a followed spec\'s cost entry is its current report; with errors, the last one marked stale', () => {
  const text = (layers: number | string) => `{ "version": 1, "name": "follow", "extends": "bert-mini", "model": { "numLayers": ${layers} } }`;
  const four = analyzeSpecText(text(4));
  const e4 = specCostEntry(four.spec?.name, '/w/follow.convbert.json', four.cost, undefined);
  assert.equal(e4?.label, 'follow');
  assert.equal(e4?.report.layers.length, 4);
  const eight = analyzeSpecText(text(8));
  const e8 = specCostEntry(eight.spec?.name, '/w/follow.convbert.json', eight.cost, e4);
  assert.equal(e8?.report.layers.length, 8, 'the new report replaces the old');
  assert.ok(e8!.report.totals.params > e4!.report.totals.params);
  const broken = analyzeSpecText(text('"eight"'));
  assert.equal(broken.cost, undefined);
  const stale = specCostEntry(broken.spec?.name, '/w/follow.convbert.json', broken.cost, e8);
  assert.equal(stale?.label, `follow ${STALE_MARK}`);
  assert.equal(stale?.report, e8?.report);
  // Still broken: marked once, not twice. Never a report: nothing.
  assert.equal(specCostEntry(undefined, '/w/follow.convbert.json', undefined, stale)?.label, `follow ${STALE_MARK}`);
  assert.equal(specCostEntry(undefined, '/w/follow.convbert.json', undefined, undefined), undefined);
  assert.equal(costLabel(undefined, '/w/my-spec.convbert.json'), 'my-spec');
});

test('probe files decode and become valid probe messages with typed arrays', () => {
  const p = probe(5);
  const decoded = decodeProbe(encodeProbe(p));
  assert.deepEqual(decoded.tokens, p.tokens);
  assert.deepEqual(Array.from(decoded.attention[0]!.probs), Array.from(p.attention[0]!.probs));
  const m = probeMessage('run-1', decoded);
  const parsed = parseToWebviewMessage(m);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  assert.equal(m.layers[0]?.conv?.kernelStart, -1);
  assert.ok(m.layers[0]?.attention?.probs instanceof Float32Array);
  assert.throws(() => decodeProbe(new TextEncoder().encode('not a probe')), /bad magic/);
  // A damaged header is refused with a reason, never half-read.
  const withHeader = (header: string) => {
    const json = new TextEncoder().encode(header);
    const bytes = new Uint8Array(Math.ceil((12 + json.length) / 4) * 4 + 16);
    bytes.set(new TextEncoder().encode('CBPROBE1'));
    new DataView(bytes.buffer).setUint32(8, json.length, true);
    bytes.set(json, 12);
    return bytes;
  };
  const head = { format: 'convbert-probe', version: 1, step: 1, tokens: ['a'], length: 1, realLength: 1, conv: [] };
  assert.throws(() => decodeProbe(withHeader('{ not json')), /not JSON/);
  assert.throws(() => decodeProbe(withHeader(JSON.stringify({ ...head, version: 2, attention: [] }))), /v2 is not supported/);
  assert.throws(() => decodeProbe(withHeader(JSON.stringify({ ...head, attention: null }))), /lacks tokens, attention or conv/);
  const entry = (probs: unknown) => JSON.stringify({ ...head, attention: [{ layer: 0, module: 'attention', heads: 1, meanDistance: [0], probs }] });
  assert.equal(decodeProbe(withHeader(entry({ offset: 0, length: 1, shape: [1, 1, 1] }))).attention[0]?.probs.length, 1);
  assert.throws(() => decodeProbe(withHeader(entry({ offset: 2, length: -1, shape: [] }))), /outside the file/);
  assert.throws(() => decodeProbe(withHeader(entry({ offset: 0, length: 5, shape: [] }))), /outside the file/);
  assert.throws(() => decodeProbe(withHeader(entry(undefined))), /outside the file/);
});

// ---------------------------------------------------------------------------------------------------------
// The dashboard controller

async function dashboardFixture() {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const runId = '20250107-100000-000-aaaaaa';
  writeRun(root, runId, { state: 'completed', step: 2, totalSteps: 2 }, [metrics(1, 4), metrics(2, 3), { type: 'probes', step: 2, path: 'probes/step-000000002.probe', summary: {} }], [2]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  const posted: ToWebviewMessage[] = [];
  const logs: string[] = [];
  const saved: { name: string; kind: string; bytes: Uint8Array }[] = [];
  const controller = new DashboardController(
    registry,
    {
      post: (m) => {
        const parsed = parseToWebviewMessage(m);
        assert.ok(parsed.ok, `the host sent an invalid ${m.type}: ${parsed.ok ? '' : parsed.error}`);
        posted.push(m);
        return true;
      },
      saveFile: async (name, kind, bytes) => {
        saved.push({ name, kind, bytes });
        return `/tmp/${name}`;
      },
      log: (level, message) => logs.push(`${level} ${message}`),
    },
    { flushMs: 5 },
  );
  return { registry, controller, posted, logs, saved, runId, root };
}

const types = (ms: ToWebviewMessage[]) => ms.map((m) => m.type);
const settle = () => new Promise((r) => setTimeout(r, 30));

test('nothing is sent before ready; ready gets a snapshot (and the newest probe of the selected run)', async () => {
  const { controller, posted, runId } = await dashboardFixture();
  controller.setCosts([]);
  controller.select([runId]);
  assert.equal(posted.length, 0, 'nothing before ready');
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  assert.deepEqual(types(posted), ['snapshot', 'probe']);
  const snap = posted[0]!;
  assert.ok(snap.type === 'snapshot' && snap.runs[0]?.points.length === 2 && snap.selectedRunIds[0] === runId);
  controller.dispose();
});

test('hidden: nothing is pushed; visible again: the snapshot is replayed', async () => {
  const { controller, posted, registry, runId, root } = await dashboardFixture();
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  posted.length = 0;
  controller.setVisible(false);
  const live = '20250108-100000-000-bbbbbb';
  await registry.beginLive(live, path.join(root, live), root, { name: 'live' });
  registry.apply(live, msg(metrics(1, 2)));
  await settle();
  assert.equal(posted.length, 0, 'a hidden webview drops messages: none are sent');
  controller.setVisible(true);
  await settle();
  assert.equal(posted[0]?.type, 'snapshot');
  const snap = posted[0];
  assert.ok(snap?.type === 'snapshot' && snap.runs.some((r) => r.id === live && r.points.length === 1));
  void runId;
  controller.dispose();
});

test('showView: sent at once to a listening webview; otherwise after the next ready, once', async () => {
  const { controller, posted } = await dashboardFixture();
  // A new panel (Show Costs opening the dashboard): the view waits for ready and follows the snapshot.
  controller.showView('costs');
  assert.equal(posted.length, 0);
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  assert.deepEqual(types(posted).filter((t) => t !== 'probe'), ['snapshot', 'showView']);
  assert.deepEqual(posted.find((m) => m.type === 'showView'), { v: 1, type: 'showView', view: 'costs' });
  // Listening: at once. Replays (visible again, a reloaded page's ready) do not repeat it: the webview keeps its tab.
  posted.length = 0;
  controller.showView('attention');
  assert.deepEqual(types(posted), ['showView']);
  controller.setVisible(false);
  controller.setVisible(true);
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  assert.equal(types(posted).filter((t) => t === 'showView').length, 1);
  // Hidden (the page is reloaded when shown): it waits for that page's ready.
  posted.length = 0;
  controller.setVisible(false);
  controller.showView('costs');
  controller.setVisible(true);
  assert.deepEqual(types(posted).filter((t) => t === 'showView'), []);
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  assert.deepEqual(types(posted).filter((t) => t !== 'probe'), ['snapshot', 'snapshot', 'showView']);
  controller.dispose();
});

test('live points are batched into metrics messages; eval and probes are pushed', async () => {
  const { controller, posted, registry, root } = await dashboardFixture();
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  posted.length = 0;
  const live = '20250109-100000-000-cccccc';
  await registry.beginLive(live, path.join(root, live), root, { name: 'live' });
  registry.apply(live, msg({ type: 'started', runId: live, runDir: 'x', backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step: 0, totalSteps: 5, resumed: false }));
  for (let s = 1; s <= 5; s++) registry.apply(live, msg(metrics(s, 10 - s)));
  registry.apply(live, msg({ type: 'eval', step: 5, loss: 4, mlmAccuracy: 0.5 }));
  await settle();
  const metricsMessages = posted.filter((m) => m.type === 'metrics');
  assert.equal(metricsMessages.length, 1, 'one batch');
  assert.ok(metricsMessages[0]?.type === 'metrics' && metricsMessages[0].points.length === 5);
  assert.ok(types(posted).includes('run'));
  assert.ok(types(posted).includes('eval'));
  controller.dispose();
});

test('issue #9 (2): a resume from an earlier step sends the webview the run anew, without the superseded points', async () => {
  const { controller, posted, registry, root } = await dashboardFixture();
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  const live = '20250109-110000-000-dddddd';
  await registry.beginLive(live, path.join(root, live), root, { name: 'live' });
  registry.apply(live, msg(started(live, 0, false)));
  for (let s = 1; s <= 5; s++) registry.apply(live, msg(metrics(s, 10 - s)));
  await settle();
  posted.length = 0;
  registry.apply(live, msg(started(live, 2, true)));
  registry.apply(live, msg(metrics(3, 1)));
  await settle();
  const snap = posted.find((m) => m.type === 'snapshot');
  assert.ok(snap?.type === 'snapshot', `a snapshot replaces the webview's copy: got ${types(posted).join(', ')}`);
  assert.deepEqual(snap.runs.find((r) => r.id === live)?.points.map((p) => p.step), [1, 2]);
  const after = posted.slice(posted.indexOf(snap) + 1).filter((m) => m.type === 'metrics');
  assert.ok(after[0]?.type === 'metrics' && after[0].points[0]?.step === 3 && after[0].points[0].loss === 1);
  controller.dispose();
});

test('requestProbe is answered with the probe, or probeMissing; exportFile is saved; bad messages are dropped', async () => {
  const { controller, posted, logs, saved, runId } = await dashboardFixture();
  await controller.receive(fromWebview({ type: 'ready' }));
  await settle();
  posted.length = 0;
  await controller.receive(fromWebview({ type: 'requestProbe', runId, step: 2 }));
  assert.deepEqual(types(posted), ['probe']);
  await controller.receive(fromWebview({ type: 'requestProbe', runId, step: 99 }));
  assert.equal(posted[1]?.type, 'probeMissing');
  await controller.receive(fromWebview({ type: 'exportFile', kind: 'csv', name: 'loss.csv', data: 'step,loss\n1,2\n' }));
  assert.equal(saved[0]?.name, 'loss.csv');
  assert.equal(new TextDecoder().decode(saved[0]?.bytes), 'step,loss\n1,2\n');
  await controller.receive({ v: 1, type: 'exportFile', kind: 'png', name: '../../etc/passwd', data: 'x' });
  await controller.receive({ type: 'ready' });
  await controller.receive({ v: 1, type: 'nope' });
  assert.equal(saved.length, 1);
  assert.equal(logs.filter((l) => l.startsWith('warn dashboard: dropped')).length, 3);
  controller.dispose();
});

test('a cancelled run offers Resume only when it holds a checkpoint (cancelled while a resume was setting up)', () => {
  assert.equal(isResumable('cancelled', false, false), false, 'cancelled before its first checkpoint: nothing to continue');
  assert.equal(isResumable('cancelled', false, true), true);
  assert.equal(isResumable('cancelled', true, true), false, 'not while it is live');
  assert.equal(isResumable('completed', false, true), false);
  assert.equal(isResumable('interrupted', false, false), true, 'an interrupted run is offered Resume; without a checkpoint, Resume offers Start over');
});

test('issue #13: a GPU run names its adapter and the limits requested (the Runs view shows both), from disk and live', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const details = {
    description: 'webgpu (nvidia hopper (NVIDIA: 580.159.04))',
    adapter: 'nvidia hopper',
    adapterDescription: 'NVIDIA: 580.159.04',
    softwareAdapter: false,
    limits: 'maxStorageBuffersPerShaderStage=16, maxStorageBufferBindingSize=2147483644',
  };
  const started: TrainerMessageBody = { type: 'started', runId: 'g', runDir: 'g', backend: { requested: 'webgpu', name: 'webgpu', skipped: [], details }, seed: 1, step: 0, totalSteps: 2, resumed: false };
  writeRun(root, '20250105-100000-000-eeeeee', { state: 'completed', step: 2, totalSteps: 2, backend: { requested: 'webgpu', name: 'webgpu', description: details.description, limits: details.limits } }, [
    started,
    metrics(1, 5),
    metrics(2, 4),
    { type: 'done', reason: 'completed', step: 2, summary: {} },
  ]);
  const registry = new RunRegistry({ roots: () => [root] });
  await registry.refresh();
  const [run] = registry.list();
  assert.equal(run?.backend, 'webgpu');
  assert.equal(run?.backendDescription, 'webgpu (nvidia hopper (NVIDIA: 580.159.04))');
  assert.equal(run?.backendLimits, details.limits);
  const info = await readRunInfo(path.join(root, '20250105-100000-000-eeeeee'));
  assert.equal(info?.backend?.limits, details.limits, 'run.json keeps the limits');
});

test('what the backend said it is survives a rescan that reads no new metrics (from run.json, or from the history where run.json lacks it)', async () => {
  const ws = workspace();
  const root = path.join(ws, RUNS_DIR);
  const description = 'PyTorch 1.13 on the CPU, 2 ranks (Python 3.11)';
  const started: TrainerMessageBody = { type: 'started', runId: 't', runDir: 't', backend: { requested: 'torch-cpu', name: 'torch-cpu', skipped: [], details: { description } }, seed: 1, step: 0, totalSteps: 2, resumed: false };
  const events = [started, metrics(1, 5), metrics(2, 4), { type: 'done', reason: 'completed', step: 2, summary: {} } as TrainerMessageBody];
  const withIt = '20250106-100000-000-aaaaaa';
  const historyOnly = '20250106-100000-000-bbbbbb';
  writeRun(root, withIt, { state: 'completed', step: 2, totalSteps: 2, backend: { requested: 'torch-cpu', name: 'torch-cpu', description } }, events);
  writeRun(root, historyOnly, { state: 'completed', step: 2, totalSteps: 2, backend: { requested: 'torch-cpu', name: 'torch-cpu' } }, events);
  const registry = new RunRegistry({ roots: () => [root] });
  for (let scan = 1; scan <= 3; scan++) {
    await registry.refresh(); // the second and third read run.json again and metrics.jsonl not at all (unchanged)
    for (const id of [withIt, historyOnly]) assert.equal(registry.get(id)?.backendDescription, description, `${id}, scan ${scan}`);
  }
});
