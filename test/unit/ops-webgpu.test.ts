/**
 * cpu vs webgpu: every op's forward values and gradients agree to 1e-4 (max abs difference relative to the largest
 * magnitude), the same cases as cpu vs wasm (./op-agreement.ts). The finite-difference checks stay on cpu
 * (ops-gradcheck.test.ts); webgpu is held to cpu's gradients. Runs on whatever adapter this machine has (lavapipe in
 * CI); without one the tests are skipped with the loader's reason printed.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { webgpuOrSkip } from '../webgpu-adapter';
import { checkExpNonPositive, compareGroup, OP_GROUPS } from './op-agreement';

let skip: string | false = false;

before(async () => {
  const r = await webgpuOrSkip();
  skip = r.skip;
  if (r.report) assert.equal(r.report.name, 'webgpu');
});

describe('cpu and webgpu agree (values and gradients)', () => {
  for (const group of OP_GROUPS) {
    it(group.title, async (t) => {
      if (skip) return t.skip(skip);
      await compareGroup('webgpu', group);
    });
  }

  it("expNonPositive (tf.exp on webgpu) equals e^z for z ≤ 0 within WGSL's exp accuracy", async (t) => {
    if (skip) return t.skip(skip);
    // WGSL promises exp(x) to (3 + 2·|x|) ULP only (the spec's accuracy table), so 1e-6 would fail for z < −4:
    // lavapipe is off by 3.8e-6 relative at worst over 0 … −87 (0.37 of the allowance); one ULP is ≤ 2⁻²³ relative.
    await checkExpNonPositive((z) => (3 + 2 * Math.abs(z)) * 2 ** -23);
  });
});
