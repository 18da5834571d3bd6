/**
 * The packaged extension, installed: run.sh builds the .vsix files with `npm run package`, installs this machine's
 * (`convbert-studio-<target>.vsix`) with
 * code-server's `--install-extension` into a fresh extensions folder under a temporary directory outside the
 * repository, and starts a second code-server without the smoke-test driver. This drives that workbench with no
 * development payload, so only the installed copy of the extension can run, and nothing above it has a
 * node_modules: the trainer must find TF.js, the wasm binaries and the corpus in the .vsix's dist/node_modules, which
 * holds this platform's dawn.node (webgpu) and no other.
 *
 * Checks: the installed extension activates (CodeLens on a spec), a 2-step training from the command palette
 * completes on the wasm backend (read back from the run directory), the Runs view lists it, and Show Costs opens
 * the installed dashboard on its Costs tab. Screenshots `vsix-*.png` go to $SHOTS. Ends with "vsix: N passed, M failed".
 *
 *   BASE=… WS=… EXTENSIONS=<extensions dir> SHOTS=… PROFILE_ROOT=… REPO=<repository> npx tsx test/e2e/vsix.ts
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { launch } from './drivers/browser';
import { Checks, command, dashboardFrame, EDITOR, quickOpen, screenshot, until } from './drivers/workbench';

const { BASE, WS, EXTENSIONS, SHOTS, PROFILE_ROOT, REPO } = process.env;
const EXTENSION_ID = 'convbert-studio.convbert-studio';
const TRAIN_TIMEOUT_MS = Number(process.env.VSIX_TRAIN_TIMEOUT_MS ?? 240_000);

const checks = new Checks('vsix', SHOTS ?? '.');

interface RunJson {
  runId: string;
  name?: string;
  state: string;
  step: number;
  totalSteps?: number;
  message?: string;
}

function runs(ws: string): { dir: string; info: RunJson }[] {
  const root = path.join(ws, '.convbert', 'runs');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((id) => path.join(root, id))
    .filter((dir) => existsSync(path.join(dir, 'run.json')))
    .flatMap((dir) => {
      try {
        return [{ dir, info: JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunJson }];
      } catch {
        return []; // being replaced
      }
    });
}

/** Folders Node would search for `@tensorflow/tfjs` from the installed trainer other than the extension's own. */
function otherModuleFolders(trainer: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(path.dirname(trainer)); ; dir = path.dirname(dir)) {
    const nm = path.join(dir, 'node_modules');
    if (existsSync(nm)) out.push(nm);
    if (path.dirname(dir) === dir) break;
  }
  // NODE_PATH, and Node's global folders (this process has the server's HOME; CS_NODE_PREFIX is its Node's prefix).
  const globals = [...(process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean)];
  if (process.env.HOME) globals.push(path.join(process.env.HOME, '.node_modules'), path.join(process.env.HOME, '.node_libraries'));
  if (process.env.CS_NODE_PREFIX) globals.push(path.join(process.env.CS_NODE_PREFIX, 'lib', 'node'));
  for (const p of globals) if (existsSync(p)) out.push(p);
  return out;
}

async function main(): Promise<number> {
  if (!BASE || !WS || !EXTENSIONS || !SHOTS || !PROFILE_ROOT || !REPO) throw new Error('BASE, WS, EXTENSIONS, SHOTS, PROFILE_ROOT and REPO must be set');
  const installed = readdirSync(EXTENSIONS).find((d) => d.startsWith(`${EXTENSION_ID}-`));

  await checks.check('the .vsix is installed outside the repository, where no other node_modules can be reached', async () => {
    if (!installed) throw new Error(`no ${EXTENSION_ID}-* in ${EXTENSIONS}: ${readdirSync(EXTENSIONS).join(', ')}`);
    const dir = path.join(EXTENSIONS, installed);
    const rel = path.relative(REPO, dir);
    if (!rel.startsWith('..')) throw new Error(`${dir} is inside the repository ${REPO}`);
    const trainer = path.join(dir, 'dist', 'trainer.js');
    const torchFiles = ['dist/cli.js', 'dist/torch-trainer.js', 'python/convbert_torch/worker.py', 'python/convbert_torch/model.py', 'python/convbert_torch/launch.py'].map((f) => path.join(dir, f));
    for (const f of [trainer, path.join(dir, 'dist', 'node_modules', '@tensorflow', 'tfjs', 'package.json'), ...torchFiles]) if (!existsSync(f)) throw new Error(`missing ${f}`);
    for (const f of ['dist/trainer.js.map', 'dist/cli.js.map', 'src', 'node_modules', 'python/tests']) if (existsSync(path.join(dir, f))) throw new Error(`${f} should not be installed`);
    // webgpu's index.js loads dist/<platform>-<arch>/dawn.node (macOS: darwin-universal): only this platform's ships.
    const webgpuDist = path.join(dir, 'dist', 'node_modules', 'webgpu', 'dist');
    const platformDir = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
    const platforms = existsSync(webgpuDist) ? readdirSync(webgpuDist) : [];
    if (platforms.join() !== platformDir || !existsSync(path.join(webgpuDist, platformDir, 'dawn.node'))) throw new Error(`webgpu/dist holds [${platforms.join(', ')}], expected only ${platformDir}/dawn.node`);
    const others = otherModuleFolders(trainer);
    if (others.length) throw new Error(`the trainer could reach ${others.join(', ')}`);
    if (existsSync(path.join(WS, 'node_modules'))) throw new Error('the workspace has a node_modules');
    return `${installed}, ${readdirSync(path.join(dir, 'dist', 'node_modules'), { recursive: true }).length} entries in its dist/node_modules, webgpu/dist/${platformDir} only`;
  });

  const { context, page, url } = await launch({ base: BASE, workspace: WS, profileRoot: PROFILE_ROOT, viewport: { width: 1600, height: 1000 } });
  checks.page = page;
  try {
    await page.goto(url);
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90_000 });
    checks.log('workbench restored');

    await checks.check('no development payload: the window is not an Extension Development Host', async () => {
      const title = await page.title();
      if (/Extension Development Host/.test(title) || url.includes('payload=')) throw new Error(`title "${title}", url ${url}`);
      return `title "${title}"`;
    });

    await checks.check('the installed extension activates: CodeLens with parameters and FLOPs, ▶ Train, Show costs', async () => {
      await quickOpen(page, 'model.convbert.json');
      const text = await until('the CodeLens', async () => {
        const t = await page.$$eval(`${EDITOR} .codelens-decoration`, (els) => els.map((e) => e.textContent ?? '').join(' | '));
        return /params · .*FLOPs\/token/.test(t) && t.includes('Train') && t.includes('Show costs') ? t : undefined;
      }, 90_000);
      await screenshot(page, SHOTS, 'vsix-1-codelens');
      return text.replace(/\s+/g, ' ').slice(0, 100);
    });

    await checks.check('Train from the palette: a 2-step run completes on the wasm backend, from the .vsix\'s runtime', async () => {
      const before = new Set(runs(WS).map((r) => r.info.runId));
      await page.click(`${EDITOR} .view-lines`);
      await command(page, 'ConvBERT: Train');
      const run = await until('the run to end', async () => {
        const r = runs(WS).find((x) => !before.has(x.info.runId));
        if (r && ['error', 'stopped', 'nonfinite'].includes(r.info.state)) throw new Error(`the run ended ${r.info.state}: ${r.info.message ?? ''}`);
        return r?.info.state === 'completed' ? r : undefined;
      }, TRAIN_TIMEOUT_MS, 500);
      if (run.info.step !== 2) throw new Error(`step ${run.info.step}, expected 2`);
      const events = readFileSync(path.join(run.dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; backend?: { name: string; details?: Record<string, unknown> }; loss?: number });
      const started = events.find((e) => e.type === 'started');
      const losses = events.filter((e) => e.type === 'metrics').map((e) => e.loss);
      if (started?.backend?.name !== 'wasm') throw new Error(`backend ${JSON.stringify(started?.backend)}`);
      if (losses.length !== 2 || !losses.every((l) => typeof l === 'number' && Number.isFinite(l))) throw new Error(`losses ${JSON.stringify(losses)}`);
      const details = Object.entries(started.backend.details ?? {}).map(([k, v]) => `${k} ${String(v)}`).join(', ');
      return `${run.info.name ?? run.info.runId}: completed, 2 steps on wasm (${details}), losses ${losses.map((l) => (l as number).toFixed(3)).join(', ')}`;
    });

    await checks.check('the Runs view lists the completed run', async () => {
      await page.click('.activitybar .action-item a[aria-label^="ConvBERT"], .activitybar .action-label[aria-label^="ConvBERT"]').catch(async () => command(page, 'View: Show ConvBERT'));
      const rows = await until('a completed run row', async () => {
        const r = await page.$$eval('[id="workbench.view.extension.convbert"] .monaco-list-row, .pane-body .monaco-list-row', (els) => els.map((e) => e.textContent ?? '').filter((t) => /step \d+/.test(t)));
        return r.some((t) => /completed/.test(t)) ? r : undefined;
      }, 30_000);
      await screenshot(page, SHOTS, 'vsix-2-runs');
      return rows.map((r) => r.replace(/\s+/g, ' ').trim()).join(' / ').slice(0, 160);
    });

    await checks.check('Show Costs opens the installed dashboard on its Costs tab', async () => {
      await quickOpen(page, 'model.convbert.json');
      await page.click(`${EDITOR} .view-lines`);
      await command(page, 'ConvBERT: Show Costs');
      const frame = await dashboardFrame(page);
      await until('the Costs tab', async () => (await frame.evaluate<string>('window.__convbertDashboard.view().tab')) === 'costs', 30_000);
      const charts = await until('the costs charts', async () => {
        const ids = await frame.evaluate<string[]>('window.__convbertDashboard.settled().then(() => Object.keys(window.__convbertDashboard.charts()))');
        return ids.some((id) => id.startsWith('costs-')) ? ids : undefined;
      }, 30_000);
      await page.waitForTimeout(300);
      await screenshot(page, SHOTS, 'vsix-3-costs');
      return `charts: ${charts.filter((id) => id.startsWith('costs-')).join(', ')}`;
    });
  } finally {
    await context.close();
  }
  return checks.summary();
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    checks.summary(1);
    process.exit(2);
  },
);
