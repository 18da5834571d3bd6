/**
 * The threaded wasm build in Node (the unofficial worker_threads workaround in src/engines/tfjs/backends/wasm/wasm-threads.ts):
 * it comes up with 2 XNNPACK threads, leaves the globals it touched as they were, and computes what the cpu
 * backend computes, gradients included. Its own process, since the wasm build is chosen once per process.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsAvailable, loadBackend, type BackendReport } from '../../src/engines/tfjs/backends';
import { attention, dense, gelu, groupedConv1d, layerNorm, randn } from '../../src/core/ops';

let report: BackendReport;
const realCpus = os.cpus().length;
const realBlob = globalThis.Blob;
const realCreateObjectURL = URL.createObjectURL;

before(async () => {
  report = await loadBackend('wasm', { threads: 2 });
});

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-6);
}

describe('threaded wasm in Node', () => {
  it('comes up with 2 threads and SIMD', () => {
    assert.deepEqual(report.tried, [{ name: 'wasm', ok: true }]);
    assert.equal(report.threads, 2);
    assert.equal(report.simd, true);
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('restores os.cpus, Blob and URL.createObjectURL', () => {
    assert.equal(os.cpus().length, realCpus);
    assert.equal(globalThis.Blob, realBlob);
    assert.equal(URL.createObjectURL, realCreateObjectURL);
  });

  it('computes what the cpu backend computes (a large matMul, dense/conv/GELU/LayerNorm/attention fwd+bwd), with the SIMD kernels on its shared memory', async () => {
    const run = () =>
      tf.tidy(() => {
        const a = randn([256, 192], 1);
        const b = randn([192, 160], 2);
        const x = randn([2, 32, 64], 3);
        const w = randn([64, 48], 4, 0.2);
        const cw = randn([4, 7 * 16, 16], 5, 0.2);
        const loss = (x: tf.Tensor, w: tf.Tensor, cw: tf.Tensor) => {
          const h = groupedConv1d(x as tf.Tensor3D, cw as tf.Tensor3D, { kernelSize: 7, channelsPerGroup: 16, padding: 'same' });
          const n = layerNorm(gelu(h), tf.ones([64]) as tf.Tensor1D, tf.zeros([64]) as tf.Tensor1D);
          const y = dense(n, w as tf.Tensor2D) as tf.Tensor3D;
          return tf.sum(tf.square(attention(y, y, y, null, 4)));
        };
        const grads = tf.grads(loss)([x, w, cw]);
        return [tf.matMul(a, b), loss(x, w, cw), ...grads].map((t) => Float32Array.from(t.dataSync()));
      });
    const onWasm = run();
    // The SIMD kernels imported the threaded build's shared memory and ran (im2col, GELU, LayerNorm).
    assert.equal(fusedKernelsAvailable(), true);
    const kernels = (await tf.profile(() => void run())).kernels.map((k) => k.name);
    for (const name of [FUSED_KERNELS.im2col, FUSED_KERNELS.gelu, FUSED_KERNELS.layerNorm]) assert.ok(kernels.includes(name), `${name} did not run`);
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    onWasm.forEach((w, i) => assert.ok(relDiff(w, onCpu[i]!) < 1e-4, `output ${i}: ${relDiff(w, onCpu[i]!)}`));
  });
});
