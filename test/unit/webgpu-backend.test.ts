/**
 * The webgpu backend (src/engines/tfjs/backends/webgpu) on whatever adapter this machine has: CI and these machines
 * have mesa's lavapipe (a software Vulkan adapter, `mesa-vulkan-drivers` from bookworm-backports). Without an adapter
 * the tests that need one are skipped with the loader's reason printed; `auto`'s refusal of a software adapter and
 * the chunking arithmetic are tested everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, loadBackend, type BackendReport } from '../../src/engines/tfjs/backends';
import { isSoftwareAdapter, noAdapterReason } from '../../src/engines/tfjs/backends/webgpu/adapter';
import { dawnPlatformFolder } from '../../src/engines/tfjs/backends/webgpu/dawn';
import { deviceErrorMessage, DeviceErrorLog, opOfMessage } from '../../src/engines/tfjs/backends/webgpu/device-errors';
import { takeGpuMemory } from '../../src/engines/tfjs/backends/webgpu/memory';
import { addNChunk, provokeWideAddNFault, wideOpsSplit } from '../../src/engines/tfjs/backends/webgpu/wide-ops';
import { deviceErrors } from '../../src/engines/tfjs/backends/webgpu/load';
import { backendTraits } from '../../src/core/ops/traits';
import { webgpuOrSkip } from '../webgpu-adapter';

let report: BackendReport | undefined;
let skip: string | false = false;

before(async () => {
  ({ skip, report } = await webgpuOrSkip());
});

after(() => {
  tf.disposeVariables();
});

describe('webgpu: pure parts', () => {
  it('names the Dawn build folder per platform (macOS is one universal build)', () => {
    assert.equal(dawnPlatformFolder('linux', 'x64'), 'linux-x64');
    assert.equal(dawnPlatformFolder('darwin', 'arm64'), 'darwin-universal');
    assert.equal(dawnPlatformFolder('win32', 'arm64'), 'win32-arm64');
  });

  it('tells software adapters from GPUs', () => {
    assert.equal(isSoftwareAdapter({ info: { vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7' } }), true);
    assert.equal(isSoftwareAdapter({ info: { vendor: 'google', architecture: '', description: 'SwiftShader Device (Subzero)' } }), true);
    assert.equal(isSoftwareAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA: 580.159.04' } }), false);
    assert.equal(isSoftwareAdapter({ isFallbackAdapter: true, info: { vendor: 'x' } }), true);
  });

  it('the no-adapter reason names the fix on Linux', () => {
    assert.match(noAdapterReason('linux'), /libvulkan1 and libglvnd0/);
  });

  it('a device error names the TF.js program and is kept (the first) and thrown', () => {
    const msg = 'The number of storage buffers (21) in the Compute stage exceeds the maximum per-stage limit (8).\n - While validating [ComputePipeline "AddNPackedProgram"]';
    assert.equal(opOfMessage(msg), 'AddNPackedProgram');
    assert.equal(opOfMessage('[Invalid ComputePipeline "MatMulPackedProgram"] is invalid'), 'MatMulPackedProgram');
    assert.match(deviceErrorMessage('out-of-memory', 'Out of memory while creating buffer'), /^WebGPU ran out of GPU memory: Out of memory/);
    const log = new DeviceErrorLog();
    log.throwIfAny();
    log.record('validation', msg);
    log.record('validation', 'a later one');
    assert.equal(log.count, 2);
    assert.throws(() => log.throwIfAny(), /WebGPU failed GPU validation in AddNPackedProgram: The number of storage buffers \(21\)/);
  });

  it('AddN chunks leave one storage buffer for the output', () => {
    assert.equal(addNChunk(8), 7);
    assert.equal(addNChunk(16), 15);
    assert.equal(addNChunk(2), 2);
  });
});

describe('webgpu: on the adapter', () => {
  it('auto refuses a software adapter and says so; by name it is used and named', async (t) => {
    if (skip) return t.skip(skip);
    const r = report!;
    assert.equal(r.name, 'webgpu');
    assert.ok(r.device, 'the report names the adapter');
    assert.ok((r.device.limits.maxStorageBuffersPerShaderStage ?? 0) >= 8, 'the adapter limits were requested');
    assert.match(describeBackend(r), /^webgpu \(/);
    assert.equal(backendTraits().syncReads, false);
    if (r.device.software) {
      const auto = await loadBackend('auto', { threads: 1 });
      assert.notEqual(auto.name, 'webgpu');
      const skipped = auto.tried.find((a) => a.name === 'webgpu');
      assert.match(skipped?.reason ?? '', /only a software adapter is available .*name it to use it anyway \(--backend webgpu/);
      await loadBackend('webgpu', { strict: true });
    }
    assert.equal(tf.getBackend(), 'webgpu');
  });

  it('addN, stack and concat wider than a dispatch give the cpu backend\'s values, and free what they made', async (t) => {
    if (skip) return t.skip(skip);
    const limit = wideOpsSplit()!;
    assert.ok(limit >= 8);
    const chunk = addNChunk(limit);
    for (const n of [chunk, chunk + 1, 2 * chunk, 2 * chunk + 1, chunk * chunk + 2, 93]) {
      const host = Array.from({ length: n }, (_, i) => Float32Array.from({ length: 5 }, (_, j) => ((i * 7 + j * 3) % 11) - 5 + i / 8));
      const before = tf.memory().numTensors;
      const gpuBytes = takeGpuMemory()!.inUse;
      const ts = host.map((h) => tf.tensor1d(h));
      const sum = tf.addN(ts);
      const stacked = tf.stack(ts);
      const cat = tf.concat(ts);
      const [s, st, c] = await Promise.all([sum.data(), stacked.data(), cat.data()]);
      for (let j = 0; j < 5; j++) {
        const want = host.reduce((a, h) => a + h[j]!, 0);
        assert.ok(Math.abs(s[j]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `addN of ${n}: [${j}] ${s[j]} ≠ ${want}`);
      }
      assert.deepEqual(Array.from(st), host.flatMap((h) => Array.from(h)), `stack of ${n}`);
      assert.deepEqual(Array.from(c), host.flatMap((h) => Array.from(h)), `concat of ${n}`);
      tf.dispose([...ts, sum, stacked, cat]);
      assert.equal(tf.memory().numTensors, before, `addN of ${n} left tensors behind`);
      assert.equal(takeGpuMemory()!.inUse, gpuBytes, `addN of ${n} left GPU buffers in use`);
    }
  });

  it('GPU memory: bytes in use and the peak since the last look', async (t) => {
    if (skip) return t.skip(skip);
    takeGpuMemory();
    const base = takeGpuMemory()!.inUse;
    const big = tf.zeros([256, 1024]); // 1 MiB
    const bigger = tf.add(big, 1);
    await bigger.data();
    big.dispose();
    bigger.dispose();
    const m = takeGpuMemory()!;
    assert.equal(m.inUse, base);
    assert.ok(m.peak >= base + 2 * 2 ** 20, `peak ${m.peak} should include both 1 MiB buffers over ${base}`);
    assert.equal(takeGpuMemory()!.peak, base, 'the next window starts at the current use');
  });

  it('a dispatch that fails validation makes the next read throw, naming the op (never zeros)', async (t) => {
    if (skip) return t.skip(skip);
    // Last in this file: a device error is kept, and every later read throws it.
    const x = tf.tensor1d([1, 2, 3]).add(1);
    provokeWideAddNFault();
    await assert.rejects(x.data(), /WebGPU failed GPU validation in AddNPackedProgram: The number of storage buffers/);
    assert.ok(deviceErrors.first);
    await assert.rejects(tf.scalar(1).add(1).data(), /AddNPackedProgram/);
  });
});
