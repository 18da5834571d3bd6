/**
 * Bundles what the end-to-end tests load into `out/e2e/` (git-ignored): the in-host mocha entry and its test
 * files (`vscode` and `mocha` stay external: the extension host provides the first, the repository the second),
 * and the training jobs the trainer can be pointed at (CONVBERT_TRAINER_JOB_MODULE) while the masked-LM job is not
 * wired into the trainer: the toy job and the masked-LM job itself. TF.js stays external, as in the trainer bundle,
 * so job and trainer share one TF.js. The extension itself is built by `npm run build`.
 *
 *   npx tsx test/e2e/build.ts
 */
import * as esbuild from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, 'out', 'e2e');

async function main(): Promise<void> {
  const suite = path.join(ROOT, 'test', 'e2e', 'suite');
  const entries = readdirSync(suite)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => path.join(suite, f));
  const common: esbuild.BuildOptions = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
    mainFields: ['module', 'main'],
  };
  await esbuild.build({ ...common, entryPoints: entries, outdir: path.join(OUT, 'suite'), external: ['vscode', 'mocha'] });
  for (const job of ['toy-job', 'mlm-job']) {
    const entry = path.join(ROOT, 'src', 'core', 'train', `${job}.ts`);
    if (existsSync(entry)) await esbuild.build({ ...common, sourcemap: false, entryPoints: [entry], outfile: path.join(OUT, `${job}.js`), external: ['@tensorflow/*'] });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
