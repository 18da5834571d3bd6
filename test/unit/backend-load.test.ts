/**
 * loadBackend's fallback chain with an injected resolver: native packages absent, present but failing to load,
 * loading without registering a backend, registering one that fails, and registering one that works (a stand-in
 * built from the cpu kernels). Also the threaded-wasm fallback with a threaded init that really fails.
 *
 * Order matters: the first wasm initialisation of this process is the one with the failing threaded init.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  applyWasmKernelPatches,
  createNodeResolver,
  describeBackend,
  loadBackend,
  PATCHED_WASM_KERNELS,
  wasmKernelPatchesApplied,
  type ModuleResolver,
  type ThreadedWasmInit,
} from '../../src/engines/tfjs/backends';
import { loadBlasAddon } from '../../src/engines/tfjs/backends/blas/addon';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';

/** A resolver over a table of fake packages: absent, or present with a load function. */
function fakeResolver(pkgs: Record<string, (() => void) | undefined>, calls: string[] = []): ModuleResolver {
  return {
    resolve: (name) => (name in pkgs ? `/fake/node_modules/${name}/index.js` : undefined),
    load: async (name) => {
      calls.push(name);
      const load = pkgs[name];
      if (!load) throw new Error(`unexpected load of ${name}`);
      load();
      return {};
    },
  };
}

/** Registers a 'tensorflow' backend that is really a second cpu backend (kernels copied from 'cpu'). */
function registerFakeNativeBackend(): void {
  const CpuBackend = (tf.findBackend('cpu') ?? tf.engine().registry['cpu'])!.constructor as new () => tf.KernelBackend;
  tf.registerBackend('tensorflow', () => new CpuBackend(), 0);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
}

function removeFakeNativeBackend(): void {
  if (tf.findBackendFactory('tensorflow')) tf.removeBackend('tensorflow');
  for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
}

after(removeFakeNativeBackend);

describe('loadBackend', () => {
  it('auto with no native packages: explains both skips, falls back to single-threaded wasm when the threaded init fails', async () => {
    const logs: string[] = [];
    // A real failure: the threaded build without the worker_threads workaround cannot start its workers in Node.
    const failingThreads: ThreadedWasmInit = async (wasm, threads) => {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      wasm.setThreadsCount(threads);
      const ok = await tf.setBackend('wasm');
      return ok ? { ok: true, threads: wasm.getThreadsCount() } : { ok: false, reason: 'threaded init failed' };
    };
    const report = await loadBackend('auto', {
      threads: 2,
      resolver: fakeResolver({}),
      threadedWasmInit: failingThreads,
      log: (m) => logs.push(m),
    });
    assert.equal(report.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(report.threads, 1);
    assert.equal(report.simd, true);
    assert.deepEqual(
      report.tried.map((t) => [t.name, t.ok]),
      [
        ['tfjs-node-gpu', false],
        ['webgpu', false],
        ['tfjs-node', false],
        ['blas', false],
        ['wasm-threads', false],
        ['wasm', true],
      ],
    );
    assert.equal(
      report.tried[0]!.reason,
      '@tensorflow/tfjs-node-gpu is not installed (npm i @tensorflow/tfjs-node-gpu to train on an NVIDIA GPU)',
    );
    assert.match(report.tried[1]!.reason!, /^the optional package webgpu is not installed \(npm i webgpu\)/);
    assert.match(report.tried[2]!.reason!, /^@tensorflow\/tfjs-node is not installed \(npm i @tensorflow\/tfjs-node /);
    assert.match(report.tried[3]!.reason!, /^the native addon was not built/);
    assert.equal(report.tried[4]!.reason, 'threaded init failed');
    assert.ok(logs.some((l) => l.includes('skipped tfjs-node-gpu')));
    assert.ok(logs.some((l) => l.includes('single-threaded build')));
    assert.equal(describeBackend(report), 'wasm (SIMD, 1 thread)');
    // The fallback build really computes.
    assert.deepEqual(Array.from(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()), [3, 3, 3, 3]);
    assert.equal(wasmKernelPatchesApplied().length, PATCHED_WASM_KERNELS.length);
  });

  it('a native package that is installed but fails to load is reported, and the chain goes on', async () => {
    const calls: string[] = [];
    const resolver = fakeResolver(
      {
        [NODE]: () => {
          throw new Error('libtensorflow.so.2: cannot open shared object file\n    at Module._extensions..node');
        },
      },
      calls,
    );
    const report = await loadBackend('tfjs-node', { resolver, threads: 1 });
    assert.equal(report.name, 'wasm');
    assert.deepEqual(calls, [NODE]);
    assert.deepEqual(report.tried[0], {
      name: 'tfjs-node',
      ok: false,
      reason: '@tensorflow/tfjs-node is installed but failed to load: libtensorflow.so.2: cannot open shared object file',
    });
    assert.equal(report.tried.at(-1)!.name, 'wasm');
  });

  it('a package that loads but registers no backend (e.g. another tfjs-core copy) is skipped with the reason', async () => {
    const report = await loadBackend('auto', { resolver: fakeResolver({ [GPU]: () => {} }), threads: 1 });
    assert.equal(report.name, 'wasm');
    assert.match(report.tried[0]!.reason!, /^@tensorflow\/tfjs-node-gpu loaded but registered no 'tensorflow' backend/);
  });

  it('a registered native backend whose initialisation fails is skipped', async () => {
    const report = await loadBackend('tfjs-node', {
      threads: 1,
      resolver: fakeResolver({
        [NODE]: () =>
          tf.registerBackend('tensorflow', () => {
            throw new Error('CUDA driver version is insufficient');
          }),
      }),
    });
    removeFakeNativeBackend();
    assert.equal(report.name, 'wasm');
    assert.match(report.tried[0]!.reason!, /backend failed to start/);
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('picks a native backend that loads and works (stand-in built from the cpu kernels)', async () => {
    const calls: string[] = [];
    const report = await loadBackend('auto', {
      resolver: fakeResolver({ [NODE]: registerFakeNativeBackend }, calls),
      threads: 1,
    });
    try {
      assert.equal(report.name, 'tfjs-node');
      assert.deepEqual(calls, [NODE]);
      assert.deepEqual(
        report.tried.map((t) => [t.name, t.ok]),
        [
          ['tfjs-node-gpu', false],
          ['webgpu', false],
          ['tfjs-node', true],
        ],
      );
      assert.equal(report.threads, undefined);
      assert.equal(tf.getBackend(), 'tensorflow');
    } finally {
      removeFakeNativeBackend();
      await tf.setBackend('cpu');
    }
  });

  it('a native backend that starts but computes a wrong 2×2 matMul fails the smoke test', async () => {
    const report = await loadBackend('tfjs-node', {
      threads: 1,
      resolver: fakeResolver({
        [NODE]: () => {
          registerFakeNativeBackend();
          // A broken matMul: returns its first input unchanged.
          const identity = tf.getKernel('Identity', 'tensorflow')!;
          tf.unregisterKernel('BatchMatMul', 'tensorflow');
          tf.registerKernel({
            kernelName: 'BatchMatMul',
            backendName: 'tensorflow',
            kernelFunc: ({ inputs, backend }) => identity.kernelFunc({ inputs: { x: inputs['a']! }, backend, attrs: {} }),
          });
        },
      }),
    });
    removeFakeNativeBackend();
    assert.equal(report.name, 'wasm');
    assert.equal(report.tried[0]!.reason, '@tensorflow/tfjs-node loaded but failed a smoke test: a 2×2 matMul gave [1, 2, 3, 4], not [19, 22, 43, 50]');
  });

  it('strict: an explicit preference that cannot load rejects with the reason', async () => {
    await assert.rejects(
      loadBackend('tfjs-node-gpu', { resolver: fakeResolver({}), strict: true }),
      /backend 'tfjs-node-gpu' could not be loaded: @tensorflow\/tfjs-node-gpu is not installed/,
    );
  });

  it('a resolver error other than "not installed" is reported as such', async () => {
    const resolver: ModuleResolver = {
      resolve: (name) => {
        throw new Error(`Invalid package config for ${name}`);
      },
      load: async () => ({}),
    };
    const report = await loadBackend('tfjs-node', { resolver, threads: 1 });
    assert.match(report.tried[0]!.reason!, /could not be resolved: Invalid package config/);
  });

  it("'cpu' and 'wasm' load directly; wasm reuse keeps the patches idempotent", async () => {
    const cpu = await loadBackend('cpu');
    assert.deepEqual(cpu, { name: 'cpu', tried: [{ name: 'cpu', ok: true }] });
    assert.equal(tf.getBackend(), 'cpu');
    const logs: string[] = [];
    const wasm = await loadBackend('wasm', { threads: 4, log: (m) => logs.push(m) });
    assert.equal(wasm.name, 'wasm');
    assert.deepEqual(wasm.tried, [{ name: 'wasm', ok: true }]);
    assert.ok(logs.some((l) => /already initialised in this process with 1 thread/.test(l)));
    assert.deepEqual(applyWasmKernelPatches(), []);
    assert.equal(wasmKernelPatchesApplied().length, PATCHED_WASM_KERNELS.length);
  });

  it('rejects an unknown preference', async () => {
    await assert.rejects(loadBackend('metal' as never), /unknown backend 'metal'/);
  });

  const nativeInstalled = [GPU, NODE].some((p) => createNodeResolver().resolve(p) !== undefined);
  it('the default resolver reports the real native packages as not installed', { skip: nativeInstalled && 'a native package is installed here' }, async () => {
    // Neither package is installable on the project's machines (they download binaries at install time).
    const report = await loadBackend('tfjs-node-gpu', { threads: 1 });
    // Next after the native packages: the blas backend where its addon was built here, else wasm.
    assert.equal(report.name, (await loadBlasAddon()).ok ? 'blas' : 'wasm');
    assert.match(report.tried.find((t) => t.name === 'tfjs-node-gpu')!.reason!, /tfjs-node-gpu is not installed/);
    assert.match(report.tried.find((t) => t.name === 'tfjs-node')!.reason!, /tfjs-node is not installed/);
  });
});
