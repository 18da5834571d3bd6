/// <reference types="mocha" />
/**
 * The PyTorch engine in the real VS Code (issue #11): a run trained by the CLI with `--engine torch
 * --nproc-per-node 2` is a run like any other in the Runs view and the dashboard; Train on a spec whose
 * `training.engine` is "torch" trains with PyTorch (with the `convbert.torch.nprocPerNode` setting's processes);
 * an interpreter without PyTorch is an error for an engine asked for by name and TF.js for `auto`.
 *
 * Skipped, with the reason printed, where no Python with PyTorch is found (CI installs Debian's python3-torch).
 * Its specs live in torch-e2e/ of the workspace and its runs are deleted at the end: the suites after it see the
 * workspace as it was.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findTorchPython } from '../../../src/engines/torch/python';
import { runDescription } from '../../../src/extension/runs/labels';
import { readMetricEvents } from '../../../src/run-format/metrics';
import { newRunId, readRunInfo, RUNS_DIR } from '../../../src/run-format/run-dir';
import { api, EXTENSION_ID, fixture, sleep, waitFor, workspaceRoot } from './util';

const TRAIN_TIMEOUT = 240_000;
const FOLDER = 'torch-e2e';

/** The e2e fixture spec (a tiny GroupBERT), renamed, with `training` changes. */
async function writeSpec(file: string, name: string, training: Record<string, unknown>): Promise<vscode.Uri> {
  const text = (await fsp.readFile(fixture('model.convbert.json').fsPath, 'utf8')).replace(/^\s*\/\/.*$/gm, '');
  const spec = JSON.parse(text) as { name: string; training: Record<string, unknown> };
  spec.name = name;
  spec.training = { ...spec.training, ...training };
  const uri = vscode.Uri.file(path.join(workspaceRoot(), FOLDER, file));
  await fsp.mkdir(path.dirname(uri.fsPath), { recursive: true });
  await fsp.writeFile(uri.fsPath, `${JSON.stringify(spec, null, 2)}\n`);
  return uri;
}

/** Runs the repository's built CLI (bin/convbert.js) on the extension host's Node; resolves with its output. */
function cli(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ext.extensionPath, 'bin', 'convbert.js'), ...args], { cwd, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function waitForEnd(runId: string) {
  const a = await api();
  return waitFor(`run ${runId} to end`, () => {
    const r = a.registry.get(runId);
    return r && !r.live && r.state !== 'running' && r.state !== 'starting' && r.state !== 'stopping' ? r : undefined;
  }, TRAIN_TIMEOUT, 500);
}

/** Asks the host driver for a screenshot, and gives it a moment to take it before anything changes. */
async function screenshot(name: string): Promise<void> {
  console.log(`e2e-screenshot: ${name}`);
  await sleep(2_500);
}

suite('torch engine: runs trained with PyTorch, from the CLI and from the editor', function () {
  const created: string[] = [];
  const config = () => vscode.workspace.getConfiguration('convbert');
  const settingsFile = () => path.join(workspaceRoot(), '.vscode', 'settings.json');
  let hadSettingsFile = true;

  suiteSetup(async function () {
    const probe = await findTorchPython();
    if (!probe.ok) {
      console.log(`torch e2e suite skipped: ${probe.reason} (${probe.hint})`);
      this.skip();
    }
    console.log(`torch e2e: Python ${probe.info.pythonVersion} (${probe.info.python}), PyTorch ${probe.info.torch}`);
    hadSettingsFile = existsSync(settingsFile());
  });

  suiteTeardown(async () => {
    for (const key of ['torch.python', 'torch.nprocPerNode', 'trainer.engine']) await config().update(key, undefined, vscode.ConfigurationTarget.Workspace);
    for (const id of created) await vscode.commands.executeCommand('convbert.runs.delete', id, true);
    await fsp.rm(path.join(workspaceRoot(), FOLDER), { recursive: true, force: true });
    // The settings this suite wrote are gone again; so is the settings file they made.
    if (!hadSettingsFile && existsSync(settingsFile()) && /^\s*\{\s*\}\s*$/.test(await fsp.readFile(settingsFile(), 'utf8'))) await fsp.rm(path.dirname(settingsFile()), { recursive: true, force: true });
  });

  test('a run trained by the CLI with --engine torch --nproc-per-node 2 is in the Runs view with its loss; its dashboard shows the curve', async () => {
    const a = await api();
    const spec = await writeSpec('torch-cli.convbert.json', 'e2e-torch-cli', { steps: 20, evalInterval: 10, checkpointInterval: 20 });
    const runId = newRunId();
    const runDir = path.join(workspaceRoot(), RUNS_DIR, runId);
    const t0 = Date.now();
    const { code, output } = await cli(['train', spec.fsPath, '--engine', 'torch', '--nproc-per-node', '2', '--steps', '20', '--out', runDir], path.dirname(spec.fsPath), 180_000);
    created.push(runId);
    assert.equal(code, 0, `convbert train exited ${code}:\n${output.slice(-3000)}`);
    assert.match(output, /PyTorch .* on the CPU, 2 ranks/, 'the CLI said what ran');
    console.log(`CLI: 20 steps with PyTorch, 2 ranks, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    await vscode.commands.executeCommand('convbert.runs.refresh');
    const run = await waitFor('the Runs view to list the CLI run', () => a.registry.get(runId), 20_000);
    assert.equal(run.state, 'completed');
    assert.equal(run.name, 'e2e-torch-cli');
    assert.equal(run.backend, 'torch-cpu');
    assert.equal(run.step, 20);
    const points = await waitFor('its 20 losses', () => {
      const p = a.registry.points(runId).filter((x) => x.loss !== undefined);
      return p.length === 20 ? p : undefined;
    }, 20_000);
    assert.ok(points.every((p) => Number.isFinite(p.loss)), 'finite losses');
    assert.ok(a.registry.points(runId).some((p) => p.valLoss !== undefined), 'its evaluations');
    assert.ok(run.bestLoss !== undefined && Number.isFinite(run.bestLoss));
    const item = runDescription(a.registry.get(runId)!);
    assert.match(item, /completed · torch-cpu · step 20\/20 · best val \d/, `the Runs view's line: ${item}`);
    assert.match(a.registry.get(runId)?.backendDescription ?? '', /^PyTorch \S+ on the CPU, 2 ranks/, 'what the backend said it is');

    await vscode.commands.executeCommand('convbert.runs.open', runId);
    const c = await waitFor('the dashboard to be ready', () => (a.dashboard.current?.isReady ? a.dashboard.current : undefined), 60_000);
    await waitFor('the CLI run selected in the dashboard', () => c.selectedRunIds.includes(runId) || undefined, 15_000);
    assert.ok((c.sent.get('snapshot') ?? 0) >= 1, 'a snapshot went to the webview');
    const series = a.registry.series().find((s) => s.id === runId);
    assert.equal(series?.backend, 'torch-cpu');
    assert.equal(series?.points.filter((p) => p.loss !== undefined).length, 20, 'the curve the dashboard draws');
    await vscode.commands.executeCommand('convbert.runs.focus');
    await screenshot('torch-cli-run-dashboard');
  });

  test('Train on a spec whose training.engine is "torch" trains with PyTorch (2 processes from the setting) to completion', async () => {
    const a = await api();
    const spec = await writeSpec('torch-editor.convbert.json', 'e2e-torch-editor', { engine: 'torch', steps: 12, evalInterval: 6, checkpointInterval: 12 });
    await config().update('torch.nprocPerNode', 2, vscode.ConfigurationTarget.Workspace);
    const runId = await vscode.commands.executeCommand<string>('convbert.train', spec, { quiet: true });
    assert.ok(runId, 'Train returns the run id');
    created.push(runId);
    const run = await waitForEnd(runId);
    assert.equal(run.state, 'completed', `${run.state}: ${run.message ?? ''}`);
    assert.equal(run.step, 12);
    assert.equal(run.backend, 'torch-cpu');
    const info = await readRunInfo(run.dir);
    assert.equal(info?.backend?.name, 'torch-cpu', 'run.json says the torch engine\'s CPU backend ran it');
    assert.equal(info?.state, 'completed');
    assert.ok(info?.lastCheckpoint, 'a checkpoint was written');
    const history = await readMetricEvents(run.dir);
    const started = history.events.find((e) => e.type === 'started');
    assert.ok(started?.type === 'started');
    assert.match(String(started.backend.details?.description ?? ''), /^PyTorch \S+ on the CPU, 2 ranks/, 'two worker processes, from convbert.torch.nprocPerNode');
    assert.equal(history.events.filter((e) => e.type === 'metrics').length, 12);
    assert.match(runDescription(a.registry.get(runId)!), /completed · torch-cpu · step 12\/12/);

    // Resume goes on with the engine it trained with (the snapshot's training.engine and its recorded backend).
    assert.equal(await vscode.commands.executeCommand<string>('convbert.resume', runId, { quiet: true, steps: 15 }), runId);
    await waitFor('the resumed run to start', () => a.registry.get(runId)?.live || a.registry.get(runId)?.step === 15, 60_000, 200);
    const resumed = await waitForEnd(runId);
    assert.equal(resumed.state, 'completed', `${resumed.state}: ${resumed.message ?? ''}`);
    assert.equal(resumed.step, 15);
    const sessions = (await readMetricEvents(run.dir)).events.filter((e) => e.type === 'started');
    assert.deepEqual(sessions.map((e) => (e.type === 'started' ? [e.backend.name, e.resumed] : [])), [['torch-cpu', false], ['torch-cpu', true]]);
    await vscode.commands.executeCommand('convbert.runs.open', runId);
    await waitFor('the editor run in the dashboard', () => a.dashboard.current?.isReady && a.dashboard.current.selectedRunIds.includes(runId), 60_000);
    await vscode.commands.executeCommand('convbert.runs.focus');
    await screenshot('torch-editor-run-dashboard');
  });

  test('an interpreter without PyTorch: torch asked for by name is refused before any run starts; auto trains with TF.js', async () => {
    const a = await api();
    const missing = path.join(workspaceRoot(), FOLDER, 'no-such-python');
    await config().update('torch.python', missing, vscode.ConfigurationTarget.Workspace);
    await config().update('torch.nprocPerNode', undefined, vscode.ConfigurationTarget.Workspace);
    const named = await writeSpec('torch-named.convbert.json', 'e2e-torch-named', { engine: 'torch', steps: 2 });
    const before = a.registry.list().length;
    const refused = await vscode.commands.executeCommand<string | undefined>('convbert.train', named, { quiet: true });
    assert.equal(refused, undefined, 'no run');
    assert.equal(a.registry.list().length, before, 'nothing was started');
    await sleep(1_500); // the notification is shown without waiting for it
    await vscode.commands.executeCommand('notifications.showList');
    await screenshot('torch-named-refused'); // the error notification, with its Open Setting button
    await vscode.commands.executeCommand('notifications.hideList');

    const auto = await writeSpec('torch-auto.convbert.json', 'e2e-torch-auto', { engine: 'auto', steps: 2, evalInterval: 2, checkpointInterval: 2 });
    const runId = await vscode.commands.executeCommand<string>('convbert.train', auto, { quiet: true });
    assert.ok(runId, 'auto trains');
    created.push(runId);
    const run = await waitForEnd(runId);
    assert.equal(run.state, 'completed', `${run.state}: ${run.message ?? ''}`);
    assert.ok(run.backend && !['cuda', 'mps', 'torch-cpu'].includes(run.backend), `a TF.js backend (${run.backend})`);
    assert.ok(existsSync(path.join(run.dir, 'run.json')));
  });
});
