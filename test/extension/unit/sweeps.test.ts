/** The extension's sweeps: state.json read from real folders, the crossing table from real run directories, the dashboard's `sweeps` messages, the Run Sweep command line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromWebview, type ToWebviewMessage } from '../../../src/protocol/webview';
import { DashboardController } from '../../../src/extension/dashboard/controller';
import { RunRegistry } from '../../../src/extension/runs/registry';
import { crossingRows, readSweeps, sweepInfo, sweepRunGroup, sweepRunInputs } from '../../../src/extension/sweeps/state';
import { sweepCommandLine } from '../../../src/extension/sweeps/command-line';

function workspace(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'convbert-sweeps-'));
}

function writeState(ws: string, name: string, runs: string[]): void {
  const dir = path.join(ws, '.convbert', 'sweeps', name);
  mkdirSync(dir, { recursive: true });
  const entries = Object.fromEntries(runs.map((id) => [id, { runDir: `.convbert/runs/${id}`, hash: 'h' }]));
  writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ format: 'convbert-sweep', version: 1, planHash: 'p1', runs: entries }));
}

/** A run directory: its spec snapshot, and steps 1…n of `flopsPerStep` FLOPs and 100 ms each, with the given evaluations. */
function writeRun(ws: string, id: string, preset: string, n: number, flopsPerStep: number, evals: [number, number][]): void {
  const dir = path.join(ws, '.convbert', 'runs', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'spec.convbert.json'), JSON.stringify({ version: 1, name: id, extends: preset }));
  const lines: string[] = [];
  for (let step = 1; step <= n; step++) {
    lines.push(JSON.stringify({ type: 'metrics', step, loss: 8, mlmLoss: 8, gradNorm: 1, learningRate: 1e-4, tokensPerSecond: 1000, stepMs: 100, flopsPerSecond: flopsPerStep * 10, memoryBytes: 1, v: 1, time: step }));
    for (const [s, loss] of evals) if (s === step) lines.push(JSON.stringify({ type: 'eval', step, loss, mlmAccuracy: 0.1, v: 1, time: step }));
  }
  writeFileSync(path.join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
}

test('readSweeps: every sweep with a state.json, runs in its order, run dirs resolved; a broken state is said, a folder without one skipped', async () => {
  const ws = workspace();
  try {
    writeState(ws, 'b-sweep', ['b-sweep--x-s1', 'b-sweep--a-s2']);
    mkdirSync(path.join(ws, '.convbert', 'sweeps', 'planning'), { recursive: true });
    mkdirSync(path.join(ws, '.convbert', 'sweeps', 'torn'), { recursive: true });
    writeFileSync(path.join(ws, '.convbert', 'sweeps', 'torn', 'state.json'), '{"format":"convbert-sweep"');
    const { sweeps, problems } = await readSweeps(ws);
    assert.deepEqual(sweeps.map((s) => [s.name, s.runIds, s.planHash]), [['b-sweep', ['b-sweep--x-s1', 'b-sweep--a-s2'], 'p1']]);
    assert.equal(sweeps[0]!.runDirs['b-sweep--a-s2'], path.join(ws, '.convbert', 'runs', 'b-sweep--a-s2'));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /torn.*state\.json is not JSON/);
    assert.deepEqual(await readSweeps(path.join(ws, 'nowhere')), { sweeps: [], problems: [] });
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});

test('sweepRunGroup: the run name without the sweep prefix and the seed', () => {
  assert.equal(sweepRunGroup('gb-vs-bert', 'gb-vs-bert--groupbert-mini-s12'), 'groupbert-mini');
  assert.equal(sweepRunGroup('gb-vs-bert', 'gb-vs-bert--gb-L2-H128-s1'), 'gb-L2-H128');
  assert.equal(sweepRunGroup('other', 'gb-vs-bert--x-s1'), 'gb-vs-bert--x');
});

test('the crossing table from run directories: hand-computed FLOPs, time and ratios', async () => {
  const ws = workspace();
  try {
    const ids = ['s--gb-s1', 's--bert-s1'];
    writeState(ws, 's', ids);
    // GroupBERT: 1 GFLOP a step, loss 7 at step 2, 5 at step 4. BERT: 2 GFLOP a step, loss 7.5 at step 2, 6 at step 4.
    writeRun(ws, ids[0]!, 'groupbert-tiny', 4, 1e9, [[2, 7], [4, 5]]);
    writeRun(ws, ids[1]!, 'bert-tiny', 4, 2e9, [[2, 7.5], [4, 6]]);
    const [record] = (await readSweeps(ws)).sweeps;
    const inputs = await sweepRunInputs(record!);
    assert.deepEqual(inputs.map((r) => [r.id, r.group, r.seed, r.family]), [
      ['s--gb-s1', 'gb', 1, 'groupbert'],
      ['s--bert-s1', 'bert', 1, 'bert'],
    ]);
    assert.deepEqual(inputs[0]!.curve.map((p) => [p.step, p.loss, p.flops, p.trainingMs]), [
      [2, 7, 2e9, 200],
      [4, 5, 4e9, 400],
    ]);
    // BERT ends at 6 after 8 GFLOP and 400 ms; GroupBERT reaches 6 halfway between its evaluations: 3 GFLOP, 300 ms.
    const rows = crossingRows(inputs);
    assert.equal(rows.length, 1);
    const c = rows[0]!;
    assert.deepEqual([c.groupbert, c.bert, c.target], ['gb', 'bert', 6]);
    assert.ok(Math.abs(c.flops! - 3e9) < 1, `flops ${c.flops}`);
    assert.ok(Math.abs(c.flopsRatio! - 0.375) < 1e-12, `ratio ${c.flopsRatio}`);
    assert.ok(Math.abs(c.timeMs! - 300) < 1e-9, `time ${c.timeMs}`);
    assert.ok(Math.abs(c.timeRatio! - 0.75) < 1e-12, `time ratio ${c.timeRatio}`);
    const info = await sweepInfo(record!);
    assert.deepEqual(info.runIds, ids);
    assert.equal(info.crossings?.length, 1);

    // A GroupBERT run that never gets to BERT's final loss: a row without FLOPs or time ("not reached").
    writeRun(ws, ids[0]!, 'groupbert-tiny', 4, 1e9, [[2, 7], [4, 6.5]]);
    const notReached = crossingRows(await sweepRunInputs(record!));
    assert.equal(notReached.length, 1);
    assert.equal(notReached[0]!.flops, undefined);
    assert.equal(notReached[0]!.timeMs, undefined);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});

test('a sweep whose runs are not on disk yet: its runs listed, no crossing table', async () => {
  const ws = workspace();
  try {
    writeState(ws, 'fresh', ['fresh--a-s1', 'fresh--b-s1']);
    const [record] = (await readSweeps(ws)).sweeps;
    assert.deepEqual(await sweepInfo(record!), { name: 'fresh', runIds: ['fresh--a-s1', 'fresh--b-s1'] });
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});

test('the dashboard controller: sweeps follow each snapshot once there are any, and are pushed when they change', async () => {
  const ws = workspace();
  try {
    const registry = new RunRegistry({ roots: () => [path.join(ws, '.convbert', 'runs')] });
    await registry.refresh();
    const posted: ToWebviewMessage[] = [];
    const controller = new DashboardController(registry, { post: (m) => (posted.push(m), true), saveFile: async () => undefined, log: () => undefined });
    controller.setSweeps([{ name: 'early', runIds: ['early--a-s1'] }]);
    assert.equal(posted.length, 0, 'nothing before ready');
    await controller.receive(fromWebview({ type: 'ready' }));
    assert.deepEqual(posted.map((m) => m.type), ['snapshot', 'sweeps']);
    const first = posted[1]!;
    assert.ok(first.type === 'sweeps' && first.sweeps[0]?.name === 'early');
    posted.length = 0;
    controller.setSweeps([]);
    assert.deepEqual(posted.map((m) => (m.type === 'sweeps' ? m.sweeps.length : m.type)), [0], 'emptied: the page is told');
    posted.length = 0;
    controller.sendSnapshot();
    assert.deepEqual(posted.map((m) => m.type), ['snapshot'], 'no sweeps: none follow the snapshot');
    controller.dispose();
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});

test('Run Sweep\'s command line: the bundled CLI on the configured Node, else the editor\'s runtime as Node', () => {
  const own = sweepCommandLine({ extensionPath: '/ext', sweepFile: '/ws/a.sweep.json', execPath: '/electron' });
  assert.deepEqual(own, { command: '/electron', args: [path.join('/ext', 'dist', 'cli.js'), 'sweep', '/ws/a.sweep.json'], env: { ELECTRON_RUN_AS_NODE: '1' } });
  const node = sweepCommandLine({ extensionPath: '/ext', sweepFile: '/ws/a.sweep.json', execPath: '/electron', nodePath: '/usr/bin/node', extraArgs: ['--parallel', '2'] });
  assert.deepEqual(node, { command: '/usr/bin/node', args: [path.join('/ext', 'dist', 'cli.js'), 'sweep', '/ws/a.sweep.json', '--parallel', '2'], env: {} });
});
