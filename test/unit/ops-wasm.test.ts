/**
 * cpu vs wasm: every op's forward values and gradients agree to 1e-4 (max abs difference relative to the largest
 * magnitude). The cases and the comparison are shared with ops-webgpu.test.ts (./op-agreement.ts).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadBackend, wasmKernelPatchesApplied } from '../../src/engines/tfjs/backends';
import { checkExpNonPositive, compareGroup, OP_GROUPS } from './op-agreement';

before(async () => {
  const report = await loadBackend('wasm', { threads: 1 });
  assert.equal(report.name, 'wasm');
  assert.deepEqual(wasmKernelPatchesApplied().sort(), ['Concat', 'GatherV2', 'Identity', 'OneHot', 'Pack', 'Reverse', 'Slice', 'SplitV', 'Sum', 'Transpose', 'Unpack', 'UnsortedSegmentSum'].sort());
});

describe('cpu and wasm agree (values and gradients)', () => {
  for (const group of OP_GROUPS) {
    it(group.title, async () => {
      await compareGroup('wasm', group);
    });
  }

  it('expNonPositive (σ(z)/σ(−z) on wasm) equals e^z for z ≤ 0 to 1e-6', async () => {
    await checkExpNonPositive();
  });
});
