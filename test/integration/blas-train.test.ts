/**
 * The `blas` backend trains like wasm: the masked-LM job for 20 steps from the same seed on every model variant
 * (test/train-parity.ts), losses equal step by step within 1e-4 relative (floating-point noise: sgemm sums in another
 * order than XNNPACK). Skipped, with the build's reason printed, where the native addon could not be built.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSpec } from '../../src/core/spec';
import { loadBlasAddon } from '../../src/engines/tfjs/backends/blas/addon';
import { blasMatMulCalls } from '../../src/engines/tfjs/backends/blas/kernels';
import { assertSameCurve, jobLosses, tinySpec, VARIANTS } from '../train-parity';

const CORPUS = join(resolve(__dirname, '../..'), 'test/fixtures/corpus/small.txt');
const STEPS = 20;
const TOL = 1e-4;

let skip: string | false = false;
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'convbert-blas-train-'));
  copyFileSync(CORPUS, join(dir, 'corpus.txt'));
  const found = await loadBlasAddon();
  if (!found.ok) {
    skip = `no native BLAS addon here: ${found.reason}`;
    console.log(`# skipped: ${skip}`);
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('blas trains like wasm', () => {
  for (const variant of Object.keys(VARIANTS)) {
    it(`${variant}: ${STEPS} steps from the same seed, losses equal step by step within ${TOL} (relative)`, async (t) => {
      if (skip) return t.skip(skip);
      const spec = resolveSpec(tinySpec(variant, STEPS));
      const onWasm = await jobLosses(spec, 'wasm', dir, STEPS);
      const before = blasMatMulCalls().blas;
      const onBlas = await jobLosses(spec, 'blas', dir, STEPS, 'wasm');
      if (blasMatMulCalls().blas === before) throw new Error('the blas run made no sgemm call');
      t.diagnostic(`wasm ${onWasm.map((x) => x.toFixed(6)).join(' ')}; blas ${onBlas.map((x) => x.toFixed(6)).join(' ')}`);
      assertSameCurve(onWasm, onBlas, TOL, variant);
    });
  }
});
