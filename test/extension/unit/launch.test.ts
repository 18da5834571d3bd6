/**
 * The engine choice when training from the editor (src/extension/training/launch.ts), without VS Code: the spec's
 * `training.engine`/`training.backend` overridden by the settings, the Python interpreter (setting, the Python
 * extension's environment, or found here), the torch engine's launch plan with its processes, and the errors an
 * engine asked for by name gives when it cannot run here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/extension/config';
import {
  choosePython,
  distributedOptions,
  engineForRequest,
  engineRequest,
  fitBackend,
  launchOptions,
  mayNeedPython,
  settingForEngineError,
  startOptions,
} from '../../../src/extension/training/launch';
import { findEngine } from '../../../src/engines';
import { findTorchPython, PYTHON_ENV } from '../../../src/engines/torch/python';
import { TORCH_OPTIONS_ENV } from '../../../src/engines/torch';

const settings = (over: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, ...over });
const NO_PYTHON = path.join(os.tmpdir(), 'convbert-no-such-python', 'python3');
// The interpreter the user asked for is the only one tried; an inherited CONVBERT_PYTHON would come first.
delete process.env[PYTHON_ENV];

test('the spec\'s engine and backend count; each setting overrides its half', () => {
  assert.deepEqual(engineRequest({ engine: 'torch', backend: 'auto' }, settings()), { engine: 'torch', backend: 'auto', engineFrom: 'spec', backendFrom: 'spec' });
  assert.deepEqual(engineRequest(undefined, settings()), { engine: 'auto', backend: 'auto', engineFrom: 'spec', backendFrom: 'spec' });
  const byEngine = engineRequest({ engine: 'torch', backend: 'auto' }, settings({ engine: 'tfjs' }));
  assert.equal(byEngine.engine, 'tfjs');
  assert.equal(byEngine.engineFrom, 'setting');
  assert.equal(byEngine.startBackend, undefined, 'the trainer keeps the spec\'s backend');
  const byBackend = engineRequest({ engine: 'auto', backend: 'wasm' }, settings({ backend: 'torch-cpu' }));
  assert.deepEqual([byBackend.engine, byBackend.backend, byBackend.startBackend], ['auto', 'torch-cpu', 'torch-cpu']);
  assert.deepEqual(startOptions(settings({ backend: 'torch-cpu' }), false, 5, byBackend), { backend: 'torch-cpu', steps: 5 });
  assert.deepEqual(startOptions(settings(), true, undefined, engineRequest({ engine: 'torch' }, settings())), { resume: true });
});

test('a setting that disagrees with the spec wins, and the spec\'s other half becomes auto', () => {
  // The engine setting asks for torch; the spec names a TF.js backend: the trainer is told auto, not wasm.
  const r = engineRequest({ engine: 'auto', backend: 'wasm' }, settings({ engine: 'torch' }));
  assert.deepEqual([r.engine, r.backend, r.startBackend], ['torch', 'auto', 'auto']);
  assert.match(r.note ?? '', /convbert\.trainer\.engine setting \(torch\) replaces the spec's backend wasm \(the tfjs engine's\) with auto/);
  assert.deepEqual(startOptions(settings({ engine: 'torch' }), false, undefined, r), { backend: 'auto' });
  // The backend setting names a TF.js backend; the spec asks for torch: the engine follows the setting.
  const b = engineRequest({ engine: 'torch', backend: 'auto' }, settings({ backend: 'cpu' }));
  assert.deepEqual([b.engine, b.backend], ['auto', 'cpu']);
  assert.equal(engineForRequest(b, NO_PYTHON).id, 'tfjs');
  // Both in the spec, disagreeing: left to chooseEngine, which names the conflict.
  const both = engineRequest({ engine: 'torch', backend: 'wasm' }, settings());
  assert.equal(both.note, undefined);
  assert.throws(() => engineForRequest(both, NO_PYTHON), /the torch engine has no backend "wasm"; its backends: auto, cuda, mps, torch-cpu/);
  assert.equal(settingForEngineError('the torch engine has no backend "wasm"; its backends: auto'), 'convbert.trainer.engine');
});

test('Python is probed only when an engine other than TF.js may train', () => {
  assert.equal(mayNeedPython(engineRequest({ engine: 'tfjs' }, settings())), false);
  assert.equal(mayNeedPython(engineRequest({ engine: 'auto', backend: 'wasm' }, settings())), false);
  assert.equal(mayNeedPython(engineRequest({ engine: 'auto', backend: 'auto' }, settings())), true, 'auto takes torch on a GPU');
  assert.equal(mayNeedPython(engineRequest({ engine: 'auto', backend: 'torch-cpu' }, settings())), true);
  assert.equal(mayNeedPython(engineRequest({ engine: 'torch' }, settings())), true);
});

test('torch asked for by name without a Python that has PyTorch: a one-line error saying what to install; auto: TF.js', () => {
  const named = engineRequest({ engine: 'torch' }, settings());
  let message = '';
  assert.throws(() => engineForRequest(named, NO_PYTHON), (e: Error) => ((message = e.message), true));
  assert.match(message, /^the torch engine cannot run here: no Python with PyTorch: .*convbert-no-such-python.*: not found — install PyTorch for that interpreter/);
  assert.ok(!message.includes('\n'), 'one line');
  assert.equal(settingForEngineError(message), 'convbert.torch.python', 'its button opens the interpreter setting');
  // A torch backend named with engine auto is the same request.
  assert.throws(() => engineForRequest(engineRequest({ engine: 'auto', backend: 'torch-cpu' }, settings()), NO_PYTHON), /the torch engine cannot run here: no Python with PyTorch/);
  // Everything auto: TF.js, silently.
  assert.equal(engineForRequest(engineRequest(undefined, settings()), NO_PYTHON).id, 'tfjs');
  assert.throws(() => engineForRequest(engineRequest({ engine: 'jax' }, settings()), undefined), /unknown engine "jax"; use one of auto, tfjs, torch/);
});

test('torch asked for by name with a Python that has PyTorch: the torch engine, its processes and interpreter in the launch plan', async (t) => {
  const probe = await findTorchPython();
  if (!probe.ok) {
    t.skip(`no Python with PyTorch here (${probe.reason})`);
    return;
  }
  const python = probe.info.python;
  const engine = engineForRequest(engineRequest({ engine: 'torch', backend: 'auto' }, settings()), python);
  assert.equal(engine.id, 'torch');
  const s = settings({ nprocPerNode: 2 });
  const distributed = distributedOptions(engine, s, python);
  assert.deepEqual(distributed, { nprocPerNode: 2, python });
  const plan = launchOptions({ extensionPath: '/ext', settings: s, workspaceFolder: '/w', cwd: '/w/specs', env: {}, engine, ...(distributed ? { distributed } : {}) });
  assert.equal(plan.entry, path.join('/ext', 'dist', 'torch-trainer.js'), 'the installed torch trainer');
  assert.equal(plan.env?.ELECTRON_RUN_AS_NODE, '1');
  assert.deepEqual(JSON.parse(plan.env?.[TORCH_OPTIONS_ENV] ?? '{}'), { nprocPerNode: 2, python, installedAt: '/ext' });
  assert.deepEqual(JSON.parse(plan.env?.CONVBERT_MLM_JOB ?? '{}'), { specDir: '/w/specs' });
  assert.equal(fitBackend(engineRequest({ engine: 'torch' }, settings()), engine, { cuda: probe.info.cuda.available, mps: probe.info.mps }), probe.info.cuda.available ? 'cuda' : probe.info.mps ? 'mps' : 'torch-cpu');
});

test('the TF.js engine takes no distributed options; a single torch process passes only the interpreter', () => {
  const tfjs = findEngine('tfjs')!;
  const torch = findEngine('torch')!;
  assert.equal(distributedOptions(tfjs, settings({ nprocPerNode: 4 }), '/usr/bin/python3'), undefined);
  assert.deepEqual(distributedOptions(torch, settings(), '/usr/bin/python3'), { python: '/usr/bin/python3' });
  assert.deepEqual(distributedOptions(torch, settings(), undefined), {});
  const plan = launchOptions({ extensionPath: '/ext', settings: settings(), workspaceFolder: '/w', cwd: '/w', env: {}, engine: tfjs });
  assert.equal(plan.entry, path.join('/ext', 'dist', 'trainer.js'));
  assert.equal(plan.env?.[TORCH_OPTIONS_ENV], undefined);
});

test('the fit check assumes the backend asked for, the machine\'s TF.js auto, or the torch device that is here', () => {
  const torch = findEngine('torch')!;
  const tfjs = findEngine('tfjs')!;
  assert.equal(fitBackend(engineRequest({ backend: 'wasm' }, settings()), tfjs), 'wasm');
  assert.equal(fitBackend(engineRequest(undefined, settings()), tfjs), 'auto');
  assert.equal(fitBackend(engineRequest({ engine: 'torch' }, settings()), torch, { cuda: true, mps: false }), 'cuda');
  assert.equal(fitBackend(engineRequest({ engine: 'torch' }, settings()), torch, { cuda: false, mps: true }), 'mps');
  assert.equal(fitBackend(engineRequest({ engine: 'torch' }, settings()), torch, undefined), 'torch-cpu');
});

test('the interpreter: the setting (paths expanded), else the Python extension\'s environment with PyTorch, else found here', async () => {
  const never = async () => {
    throw new Error('not asked');
  };
  assert.deepEqual(await choosePython('${workspaceFolder}/.venv/bin/python', '/w', never, never), { python: path.join('/w', '.venv', 'bin', 'python'), source: 'setting' });
  assert.deepEqual(await choosePython('~/py/bin/python3', '/w', never, never), { python: path.join(os.homedir(), 'py', 'bin', 'python3'), source: 'setting' });
  assert.deepEqual(await choosePython(' python3.12 ', '/w', never, never), { python: 'python3.12', source: 'setting' }, 'a bare command stays a command');
  const asked: string[] = [];
  const hasTorch = async (p: string) => (asked.push(p), p === '/envs/torch/bin/python');
  assert.deepEqual(await choosePython('', '/w', async () => '/envs/torch/bin/python', hasTorch), { python: '/envs/torch/bin/python', source: 'python-extension' });
  const without = await choosePython('', '/w', async () => '/envs/plain/bin/python', hasTorch);
  assert.equal(without.python, undefined);
  assert.equal(without.source, 'auto');
  assert.match(without.note ?? '', /Python extension's environment \/envs\/plain\/bin\/python has no PyTorch/);
  assert.deepEqual(asked, ['/envs/torch/bin/python', '/envs/plain/bin/python']);
  assert.deepEqual(await choosePython('', '/w', async () => undefined, never), { source: 'auto' }, 'no Python extension');
  assert.deepEqual(await choosePython('', '/w', never, never), { source: 'auto' }, 'a failing Python extension is no Python extension');
});
