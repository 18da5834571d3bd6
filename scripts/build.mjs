// Bundles each runtime entry with esbuild: the CLI (node), and later the trainer process, the extension host
// (vscode external) and the webview app (browser). `node scripts/build.mjs [--watch] [--minify]`.
import * as esbuild from 'esbuild';

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

export const entries = [{ ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' }];

for (const options of entries) {
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
