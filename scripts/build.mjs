// Bundles each runtime entry with esbuild: the CLI and the trainer process (node), the extension host
// (node, `vscode` external) and the dashboard webview app (browser). `node scripts/build.mjs [--watch] [--minify]`.
// Entries whose source does not exist yet are skipped, so the build works at every stage of the tree.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const minify = process.argv.includes('--minify');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  minify,
  logLevel: 'warning',
  // jsonc-parser's UMD entry requires its files dynamically; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
};

export const entries = [
  // TensorFlow.js stays a runtime dependency: an optional native backend (tfjs-node-gpu) must register into
  // the same @tensorflow/tfjs instance the trainer uses, and the wasm backend finds its binaries beside it.
  // @resvg/resvg-js (the sweep report's PNGs, src/engines/sweep/report-files.ts) is a native module, prebuilt per platform:
  // loaded from node_modules when used, never bundled.
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', external: ['@tensorflow/*', '@resvg/*'] },
  { ...node, entryPoints: ['src/engines/tfjs/trainer/main.ts'], outfile: 'dist/trainer.js', external: ['@tensorflow/*'] },
  // The TF.js engine's in-process evaluation (`convbert eval`): src/engines/tfjs/index.ts loads it by path, beside
  // the bundle that asks, so the modules declaring the engine (which the extension bundles) stay free of TF.js.
  { ...node, entryPoints: ['src/engines/tfjs/evaluate.ts'], outfile: 'dist/evaluate.js', external: ['@tensorflow/*'] },
  // The torch engine's trainer and evaluation: Node processes that drive the Python workers (python/convbert_torch).
  { ...node, entryPoints: ['src/engines/torch/trainer/main.ts'], outfile: 'dist/torch-trainer.js', external: ['@tensorflow/*'] },
  { ...node, entryPoints: ['src/engines/torch/evaluate.ts'], outfile: 'dist/torch-evaluate.js', external: ['@tensorflow/*'] },
  { ...node, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode', '@resvg/*'] },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    minify,
    logLevel: 'warning',
    entryPoints: ['webview/src/main.ts'],
    outfile: 'dist/webview/dashboard.js',
    loader: { '.css': 'css' },
  },
].filter((options) => existsSync(options.entryPoints[0]));

for (const options of entries) {
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
