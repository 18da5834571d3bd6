/**
 * The UI-level end-to-end test: the real workbench (code-server) in headless Chromium, driven like a user.
 * Opens a spec, sees the CodeLens, triggers suggestions and a hover, opens the dashboard, runs "ConvBERT: Train"
 * from the command palette, watches the loss curve grow in the dashboard, and sees the attention and conv
 * heatmaps and the costs render, then trains one spec at batch 8 and at batch 4 and compares the two runs from the
 * Runs view (each Costs column notes its own batch × sequence; the Loss tab tells the runs apart), and plots the
 * first run's loss against training FLOPs (issue #12). Screenshots go to
 * $SHOTS (test-results/e2e/). Ends with "ui: N passed, M failed".
 *
 *   BASE=… WS=… EXT=… SHOTS=… PROFILE_ROOT=… [EXT_ENV=<json>] [REFERENCE_RUN=<run id>] npx tsx test/e2e/drivers/ui.ts
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { launch } from './browser';
import { command as runCommand, dashboardFrame, until } from './workbench';

const { BASE, WS, EXT, SHOTS, PROFILE_ROOT } = process.env;
const t0 = Date.now();
const log = (...a: unknown[]) => console.log(`[ui ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

const results: { name: string; ok: boolean; detail?: string }[] = [];
let currentPage: Page | undefined;
async function check(name: string, fn: () => Promise<string | void>): Promise<boolean> {
  try {
    const detail = await fn();
    results.push({ name, ok: true, ...(detail ? { detail } : {}) });
    log(`✔ ${name}${detail ? ` — ${detail}` : ''}`);
    return true;
  } catch (e) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    results.push({ name, ok: false, detail });
    log(`✘ ${name} — ${detail}`);
    if (currentPage) await shot(currentPage, `failed-${results.length}`).catch(() => undefined);
    return false;
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS as string, `${name}.png`) });
}

async function command(page: Page, title: string): Promise<void> {
  await runCommand(page, title, process.env.UI_DEBUG ? SHOTS : undefined);
}

interface ChartData {
  datasets: { role?: string; runId?: string; label: string; data: unknown[] }[];
}

// Code evaluated in the webview's page is written as strings: this file is type-checked without the DOM library.
async function charts(frame: Frame): Promise<Record<string, ChartData>> {
  return frame.evaluate<Record<string, ChartData>>('window.__convbertDashboard.settled().then(() => JSON.parse(JSON.stringify(window.__convbertDashboard.charts())))');
}

/** Distinct colours in a canvas: > a few means something was drawn. */
async function canvasColours(frame: Frame, selector: string): Promise<number> {
  return frame.evaluate<number>(`(() => {
    const c = document.querySelector(${JSON.stringify(selector)});
    if (!c || c.hidden || c.width === 0 || c.height === 0) return 0;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size < 1000; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  })()`);
}

async function clickTab(frame: Frame, tab: string, timeout = 30_000): Promise<void> {
  await frame.click(`vscode-tab-header[data-tab="${tab}"]`, { timeout });
  await frame.evaluate('window.__convbertDashboard.settled()');
}

async function main(): Promise<number> {
  if (!BASE || !WS || !EXT || !SHOTS || !PROFILE_ROOT) throw new Error('BASE, WS, EXT, SHOTS and PROFILE_ROOT must be set');
  const env = process.env.EXT_ENV ? (JSON.parse(process.env.EXT_ENV) as Record<string, string>) : undefined;
  const { context, page, url } = await launch({ base: BASE, workspace: WS, extensionPath: EXT, profileRoot: PROFILE_ROOT, viewport: { width: 1600, height: 1000 }, ...(env ? { env } : {}) });
  currentPage = page;
  try {
    await page.goto(url);
    await page.waitForFunction('!!window.driver', null, { timeout: 90_000 });
    await page.evaluate('window.driver.whenWorkbenchRestored()');
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60_000 });
    log('workbench restored');

    const ED = '.editor-instance .monaco-editor';
    await check('open a spec: CodeLens shows parameters and GFLOPs, ▶ Train and Show costs', async () => {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('model.convbert.json');
      await page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 15_000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector(`${ED} .view-lines`, { timeout: 15_000 });
      const text = await until('the CodeLens', async () => {
        const t = await page.$$eval(`${ED} .codelens-decoration`, (els) => els.map((e) => e.textContent ?? '').join(' | '));
        return /params · .*FLOPs\/token/.test(t) && t.includes('Train') ? t : undefined;
      }, 60_000);
      await shot(page, '1-codelens');
      return text.replace(/\s+/g, ' ').slice(0, 120);
    });

    await check('suggestions list the schema\'s model properties', async () => {
      await page.click(`${ED} .view-lines`);
      await page.keyboard.press('Control+G');
      await page.keyboard.type('9');
      await page.keyboard.press('Enter');
      await page.keyboard.press('End');
      await page.keyboard.type(',');
      await page.keyboard.press('Enter');
      let labels: string[] = [];
      await until('numLayers in the suggest widget', async () => {
        await page.keyboard.press('Control+Space');
        await page.waitForSelector('.suggest-widget.visible .monaco-list-row', { timeout: 3000 });
        labels = await page.$$eval('.suggest-widget.visible .monaco-list-row', (rows) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
        return labels.some((l) => l.includes('numLayers'));
      }, 60_000, 1000);
      await shot(page, '2-suggest');
      await page.keyboard.press('Escape');
      // Undo the edit (the spec is trained below; the undo stack holds nothing older than these keystrokes).
      for (let i = 0; i < 4; i++) await page.keyboard.press('Control+Z');
      await page.waitForTimeout(300);
      return `${labels.length} items, e.g. ${labels.slice(0, 4).join(', ')}`;
    });

    await check('a hover on hiddenSize shows shapes and costs', async () => {
      await page.click(`${ED} .view-lines`);
      await page.keyboard.press('Control+G');
      await page.keyboard.type('9');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Home');
      for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
      const text = await until('the hover', async () => {
        await page.keyboard.press('Control+K');
        await page.keyboard.press('Control+I');
        await page.waitForSelector('.monaco-hover', { state: 'visible', timeout: 3000 });
        const t = await page.$eval('.monaco-hover', (e) => e.textContent ?? '');
        return t.includes('ConvBERT') ? t : undefined;
      }, 30_000, 1000);
      await shot(page, '3-hover');
      await page.keyboard.press('Escape');
      if (!/head size 32/.test(text)) throw new Error(`hover without the head size: ${text.slice(0, 200)}`);
      return 'head size 32, parameters, FLOPs';
    });

    let frame: Frame | undefined;
    await check('the dashboard opens from the command palette', async () => {
      await command(page, 'ConvBERT: Open Dashboard');
      frame = await dashboardFrame(page);
      await frame.waitForSelector('vscode-tab-header[data-tab="loss"]', { timeout: 30_000 });
      return 'webview loaded under its CSP';
    });

    let trainingRun: string | undefined;
    await check('Train from the command palette: the loss curve grows in the dashboard', async () => {
      if (!frame) throw new Error('no dashboard');
      await page.click(`${ED} .view-lines`);
      await command(page, 'ConvBERT: Train');
      await until('the training notification or status', async () => {
        const status = await page.$$eval('.statusbar-item', (els) => els.map((e) => e.textContent ?? '').join(' '));
        const toast = await page.$$eval('.notifications-toasts', (els) => els.map((e) => e.textContent ?? '').join(' '));
        return /Training e2e-tiny/.test(toast) || /e2e-tiny \d+\/\d+/.test(status);
      }, 60_000, 250);
      const f = frame;
      const count = async () => {
        const c = await charts(f);
        const loss = Object.values(c).flatMap((x) => x.datasets).filter((d) => d.role === 'train-raw' && d.label.startsWith('e2e-tiny'));
        trainingRun = loss[0]?.runId;
        return loss.reduce((n, d) => Math.max(n, d.data.length), 0);
      };
      const first = await until('the first points', async () => ((await count()) > 0 ? await count() : undefined), 120_000, 300);
      await shot(page, '4-training');
      const later = await until('more points', async () => {
        const n = await count();
        return n > first ? n : undefined;
      }, 120_000, 500);
      await until('the run to finish', async () => {
        const status = await page.$$eval('.statusbar-item', (els) => els.map((e) => e.textContent ?? '').join(' '));
        return !/e2e-tiny \d+\/\d+/.test(status);
      }, 240_000, 1000);
      const final = await count();
      await page.waitForTimeout(500);
      await shot(page, '5-loss-curve');
      return `${first} → ${later} → ${final} points`;
    });

    await check('the Runs view lists the runs with state, backend, step and best loss', async () => {
      await page.click('.activitybar .action-item a[aria-label^="ConvBERT"], .activitybar .action-label[aria-label^="ConvBERT"]').catch(async () => command(page, 'View: Show ConvBERT'));
      const rows = await until('run rows', async () => {
        const r = await page.$$eval('[id="workbench.view.extension.convbert"] .monaco-list-row, .pane-body .monaco-list-row', (els) => els.map((e) => e.textContent ?? '').filter((t) => /step \d+/.test(t)));
        return r.length >= 2 ? r : undefined;
      }, 30_000);
      await shot(page, '6-runs-view');
      if (!rows.some((r) => /completed/.test(r) && /best (train|val) \d/.test(r) && /#[0-9a-f]{6} · \d{4}-\d\d-\d\d \d\d:\d\d/.test(r))) throw new Error(`no completed run with its short id, start time and a best train/val loss: ${rows.join(' / ')}`);
      return rows.map((r) => r.replace(/\s+/g, ' ').trim()).join(' / ').slice(0, 200);
    });

    await check('the Attention vs Conv tab renders the attention and conv heatmaps', async () => {
      if (!frame) throw new Error('no dashboard');
      await clickTab(frame, 'attention');
      const f = frame;
      const heatmaps = () =>
        until('heatmaps', async () => {
          const a = await canvasColours(f, '#attention-map');
          const c = await canvasColours(f, '#conv-map');
          return a > 8 && c > 8 ? { a, c } : undefined;
        }, 60_000, 500);
      const colours = await heatmaps();
      await shot(page, '7-heatmaps');
      const runs = await f.$$eval('vscode-single-select[data-control="probe-run"] vscode-option', (os) => os.map((o) => `${o.getAttribute('value')}=${o.textContent?.trim() ?? ''}`));
      let trained = '';
      if (process.env.E2E_JOB !== 'toy') {
        // The masked-LM job probes the model at every evaluation: the run just trained has heatmaps of its own.
        // Its option reads "e2e-tiny #<short id>" (runs of one spec are told apart).
        const option = runs.find((r) => /=e2e-tiny #[0-9a-f]{6}$/.test(r));
        if (!option) throw new Error(`the trained run has no probes in the dashboard: ${runs.join(', ')}`);
        const id = option.slice(0, option.indexOf('='));
        await f.evaluate(`(() => { const s = document.querySelector('vscode-single-select[data-control="probe-run"]'); s.value = ${JSON.stringify(id)}; s.dispatchEvent(new Event('change')); })()`);
        await f.evaluate('window.__convbertDashboard.settled()');
        await page.waitForTimeout(300);
        const t = await heatmaps();
        await shot(page, '7b-heatmaps-trained-run');
        trained = `; the trained run's: ${t.a}/${t.c} colours`;
      }
      return `attention map ${colours.a} colours, conv map ${colours.c} colours${trained}; runs with probes: ${runs.map((r) => r.split('=')[1]).join(', ')}`;
    });

    await check('Show Costs switches the dashboard to the Costs tab and shows the spec\'s costs; Open Dashboard keeps the tab', async () => {
      if (!frame) throw new Error('no dashboard');
      const before = await frame.evaluate<string>('window.__convbertDashboard.view().tab');
      if (before === 'costs') throw new Error('the dashboard is on the Costs tab already: nothing to switch');
      await page.click(`${ED} .view-lines`);
      await command(page, 'ConvBERT: Show Costs');
      // No click on the tab: the host's showView message switches it.
      const f = await dashboardFrame(page);
      const onCosts = async () =>
        (await f.evaluate<string>('window.__convbertDashboard.view().tab')) === 'costs' &&
        (await f.$eval('vscode-tab-header[data-tab="costs"]', (e) => e.getAttribute('aria-selected'))) === 'true';
      await until('the Costs tab', onCosts, 30_000);
      const n = await until('a costs chart or table', async () => {
        const c = await charts(f);
        const data = Object.values(c).flatMap((x) => x.datasets).reduce((s, d) => s + d.data.length, 0);
        const table = await f.$$eval('table tr, vscode-table-row', (rows) => rows.length).catch(() => 0);
        return data + table > 0 ? data + table : undefined;
      }, 30_000);
      await shot(page, '8-costs');
      await command(page, 'ConvBERT: Open Dashboard');
      await page.waitForTimeout(1000);
      if (!(await onCosts())) throw new Error('Open Dashboard moved the dashboard off the Costs tab');
      return `${before} → costs without a click; ${n} values drawn; still costs after Open Dashboard`;
    });
    await check('New Spec from Preset: accepting the suggested name in the save dialog writes one .convbert.json, name without extension', async () => {
      // Issue #9, finding 10: the dialog's filter appended the extension again (groupbert-mini.convbert.json.convbert.json).
      await command(page, 'ConvBERT: New Spec from Preset…');
      await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label^="groupbert-mini"]', { timeout: 15_000 });
      await page.keyboard.type('groupbert-mini');
      await page.waitForTimeout(300);
      await page.keyboard.press('Enter');
      // code-server's save dialog: a quick input holding the suggested path; Enter accepts it as it is.
      const suggested = await until('the save dialog with the suggested name', async () => {
        const v = await page.inputValue('.quick-input-widget input');
        return v.includes('groupbert-mini') && v !== 'groupbert-mini' ? v : undefined;
      }, 15_000);
      await shot(page, '9-new-spec-dialog');
      await page.keyboard.press('Enter');
      const file = path.join(WS as string, 'groupbert-mini.convbert.json');
      const text = await until('the new spec on disk', async () => (existsSync(file) ? readFileSync(file, 'utf8') : undefined), 15_000);
      const doubled = readdirSync(WS as string).filter((f) => /\.convbert\.json\.|\.json\.json$/.test(f));
      if (doubled.length > 0) throw new Error(`doubled extension: ${doubled.join(', ')}`);
      const name = (JSON.parse(text) as { name?: unknown }).name;
      if (name !== 'groupbert-mini') throw new Error(`name is ${JSON.stringify(name)}`);
      return `dialog suggested "${suggested}"; wrote groupbert-mini.convbert.json with name "groupbert-mini"`;
    });
    await check('Resume Run on a run without a checkpoint: refused, with a Start over button that trains its snapshot as a new run', async () => {
      // Issue #9, finding 2: what a window closed mid-run used to leave (running, its trainer gone, no checkpoint).
      const runs = path.join(WS as string, '.convbert', 'runs');
      const oldId = '20250102-120000-000-0c0c0c';
      const dir = path.join(runs, oldId);
      mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
      copyFileSync(path.join(WS as string, 'model.convbert.json'), path.join(dir, 'spec.convbert.json'));
      const now = new Date().toISOString();
      writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ format: 'convbert-run', formatVersion: 1, runId: oldId, name: 'ui-no-checkpoint', state: 'running', createdAt: now, updatedAt: now, step: 147, totalSteps: 1000, versions: { protocol: 1, node: process.versions.node }, pid: 2_147_483_000 }));
      const before = new Set(readdirSync(runs));
      await until('the run in the Resume picker', async () => {
        await command(page, 'ConvBERT: Refresh Runs');
        await page.waitForTimeout(500);
        await command(page, 'ConvBERT: Resume Run');
        const row = await page.waitForSelector('.quick-input-widget .monaco-list-row[aria-label*="ui-no-checkpoint"]', { timeout: 3000 }).catch(() => undefined);
        if (!row) await page.keyboard.press('Escape');
        return row;
      }, 30_000, 1000).then((row) => row.click());
      const dialog = await page.waitForSelector('.monaco-dialog-box', { timeout: 15_000 });
      const said = ((await dialog.textContent()) ?? '').replace(/\s+/g, ' ');
      await shot(page, '10-resume-no-checkpoint');
      if (!said.includes('ui-no-checkpoint has no checkpoint to resume from (it ended at step 147')) throw new Error(`the dialog says: ${said.slice(0, 300)}`);
      await page.click('.monaco-dialog-box .monaco-button:has-text("Start over")');
      const fresh = await until('a new run directory with a fresh start', async () => {
        for (const id of readdirSync(runs).filter((d) => !before.has(d))) {
          const metrics = path.join(runs, id, 'metrics.jsonl');
          const started = existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').find((l) => l.includes('"type":"started"')) : undefined;
          if (started) return { id, started: JSON.parse(started) as { step: number; resumed: boolean } };
        }
        return undefined;
      }, 120_000, 500);
      if (fresh.started.step !== 0 || fresh.started.resumed) throw new Error(`the new run started at ${fresh.started.step} (resumed: ${String(fresh.started.resumed)})`);
      const old = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as { step: number };
      if (old.step !== 147 || readdirSync(path.join(dir, 'checkpoints')).length !== 0) throw new Error('the old run was changed');
      return `"${said.slice(0, 120)}…"; Start over → new run ${fresh.id} from step 0; the old run kept`;
    });
    await check('Compare Runs of a batch-8 and a batch-4 run of one spec: each Costs column says its own batch × sequence; the Loss tab tells the two apart', async () => {
      // Issue #9, findings 15 (one "FLOPs per step of 8 × 32 tokens" note under both columns) and 14 (two runs of
      // one spec read the same in the Loss tab's run list). Two real runs of one spec file, edited between them.
      const runs = path.join(WS as string, '.convbert', 'runs');
      const file = path.join(WS as string, 'ui-apart.convbert.json');
      const spec = (batchSize: number) =>
        `${JSON.stringify({ version: 1, name: 'ui-apart', extends: 'groupbert-tiny', model: { vocabSize: 1024, maxPositions: 64, hiddenSize: 64 }, training: { tokenizer: { vocabSize: 1024 }, sequenceLength: 32, batchSize, steps: 4, evalInterval: 2, evalBatches: 1, checkpointInterval: 4, seed: 7 } }, null, 2)}\n`;
      // The dashboard's editor group is the active one: ui-apart.convbert.json opens there, beside model.convbert.json.
      const AED = `.editor-group-container.active ${ED}`;
      const editorText = async () => (await page.$eval(`${AED} .view-lines`, (e) => e.textContent ?? '')).replace(/\s+/g, ' ');
      const train = async (batchSize: number): Promise<string> => {
        writeFileSync(file, spec(batchSize));
        // The editor shows what is on disk before Train (which saves the editor's text).
        await until(`the editor with batchSize ${batchSize}`, async () => (await editorText()).includes(`"batchSize": ${batchSize},`), 15_000, 200);
        const before = new Set(readdirSync(runs));
        await page.click(`${AED} .view-lines`);
        await command(page, 'ConvBERT: Train');
        const ended = await until(`the batch-${batchSize} run to end`, async () => {
          for (const id of readdirSync(runs).filter((d) => !before.has(d))) {
            const info = JSON.parse(readFileSync(path.join(runs, id, 'run.json'), 'utf8')) as { state?: string; message?: string };
            if (['completed', 'error', 'interrupted', 'nonfinite'].includes(info.state ?? '')) return { id, ...info };
          }
          return undefined;
        }, 120_000, 300);
        if (ended.state !== 'completed') throw new Error(`run ${ended.id} ended ${String(ended.state)}: ${ended.message ?? ''}`);
        return ended.id;
      };
      writeFileSync(file, spec(8));
      // Quick Open may not list a file written a moment ago (its file search lags): ask again until it does.
      await until('ui-apart.convbert.json in Quick Open', async () => {
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+P');
        await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
        await page.keyboard.type('ui-apart.convbert.json');
        return page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="ui-apart.convbert.json"]', { timeout: 3000 }).then(() => true, () => false);
      }, 45_000, 500);
      await page.keyboard.press('Enter');
      await until('the ui-apart editor', async () => (await editorText()).includes('"name": "ui-apart"'), 15_000, 200);
      const run8 = await train(8);
      const run4 = await train(4);
      const tag = (id: string) => `#${id.slice(id.lastIndexOf('-') + 1)}`; // the short id, worked out here
      const expected = new Map([[tag(run8), 8], [tag(run4), 4]]);

      // Compare Runs from the Runs view's context menu, on the two rows selected (click, Ctrl+click).
      await command(page, 'Notifications: Clear All Notifications');
      // The Runs view is still open from above unless something closed the side bar (its icon toggles it).
      if (!(await page.locator('.part.sidebar').isVisible())) await page.click('.activitybar .action-item a[aria-label^="ConvBERT"], .activitybar .action-label[aria-label^="ConvBERT"]');
      const ROWS = '[id="workbench.view.extension.convbert"] .monaco-list-row, .pane-body .monaco-list-row';
      const row = (id: string) => page.locator(ROWS, { hasText: tag(id) }).first();
      await until('both runs in the Runs view', async () => (await row(run8).count()) > 0 && (await row(run4).count()) > 0, 30_000);
      const rowTexts = await Promise.all([run8, run4].map(async (id) => ((await row(id).textContent()) ?? '').replace(/\s+/g, ' ').trim()));
      if (rowTexts[0] === rowTexts[1]) throw new Error(`the two rows read the same: ${rowTexts[0]}`);
      let f: Frame | undefined;
      let cols: { head: string; note: string }[] = [];
      const twoColumns = async (frame: Frame) => {
        cols = await frame.evaluate<{ head: string; note: string }[]>(`[...document.querySelectorAll('.cost-column')].map((c) => ({ head: c.querySelector('h3')?.textContent ?? '', note: c.querySelector('.step-tokens')?.textContent ?? '' }))`);
        return cols.length === 2 && [...expected.keys()].every((t) => cols.some((c) => c.head.includes(t))) ? cols : undefined;
      };
      // The view redraws its rows as other runs progress (the Start over run above may still train), which can
      // close a context menu under the pointer: up to three tries, each from a fresh selection.
      let columns: { head: string; note: string }[] | undefined;
      let tries = 0;
      for (let attempt = 1; attempt <= 3 && !columns; attempt++) {
        tries = attempt;
        await page.keyboard.press('Escape');
        await row(run8).click(); // a click opens the run (one column) …
        // … Ctrl+click adds the other to the selection. Opening the run can take the focus from the view as the
        // Ctrl+click lands (the selection is then just the clicked row): both rows selected before the menu opens.
        const bothSelected = async () => (await row(run8).getAttribute('class'))?.includes('selected') && (await row(run4).getAttribute('class'))?.includes('selected');
        for (let i = 0; i < 3 && !(await bothSelected()); i++) {
          await row(run8).click();
          await page.waitForTimeout(300);
          await row(run4).click({ modifiers: ['Control'] });
          await until('both runs selected in the Runs view', bothSelected, 3000).catch(() => undefined);
        }
        await row(run4).click({ button: 'right' });
        await page.waitForSelector('.monaco-menu .action-item', { state: 'visible', timeout: 10_000 });
        if (attempt === 1) await shot(page, '11a-runs-compare-menu');
        const clicked = await page.locator('.monaco-menu .action-item', { hasText: 'Compare Runs' }).first().click({ timeout: 5000 }).then(() => true, () => false);
        if (!clicked) continue;
        try {
          const frame = await dashboardFrame(page); // the panel is revealed (its frame made anew if it was hidden)
          f = frame;
          await clickTab(frame, 'costs', 10_000);
          columns = await until('two cost columns, one per compared run', () => twoColumns(frame), attempt === 3 ? 30_000 : 8000).catch(() => undefined);
        } catch {
          columns = undefined; // a frame replaced under us: the next try finds the new one
        }
      }
      if (!columns || !f) throw new Error(`no two cost columns, one per compared run, after three tries of Compare Runs; columns: ${JSON.stringify(cols)}`);
      // The Costs tab: each column headed by its run's short id, noting its own batch × sequence.
      for (const c of columns) {
        const t = [...expected.keys()].find((k) => c.head.includes(k))!;
        const want = `FLOPs per step of ${expected.get(t)} × 32 tokens.`;
        if (c.note.trim() !== want) throw new Error(`the column of ${c.head} says "${c.note}", not "${want}"`);
      }
      await page.waitForTimeout(300);
      await shot(page, '11-compare-costs');
      // The panel is narrow: the second column is below the first; its note in view for a second screenshot.
      await f.evaluate(`document.querySelector('.cost-column[data-report="1"]').scrollIntoView()`);
      await page.waitForTimeout(300);
      await shot(page, '11-compare-costs-second-column');

      // The Loss tab: both runs in the run list, checked, each with its own short id and its own colour.
      f = await dashboardFrame(page);
      await clickTab(f, 'loss');
      const entries = await Promise.all(
        [run8, run4].map((id) =>
          f.evaluate<{ checked: boolean; name: string; detail: string; colour: string } | null>(`(() => {
            const b = document.querySelector('.run-list vscode-checkbox[data-run-id=${JSON.stringify(id)}]');
            return b && { checked: !!b.checked, name: b.querySelector('.run-name')?.textContent ?? '', detail: b.querySelector('.run-detail')?.textContent ?? '', colour: b.querySelector('.swatch')?.style.backgroundColor ?? '' };
          })()`),
        ),
      );
      const [e8, e4] = entries;
      if (!e8 || !e4) throw new Error(`a compared run is missing from the Loss tab's run list (${run8}: ${String(!!e8)}, ${run4}: ${String(!!e4)})`);
      if (!e8.checked || !e4.checked) throw new Error('Compare Runs did not select both runs in the Loss tab');
      if (!e8.detail.includes(tag(run8)) || !e4.detail.includes(tag(run4))) throw new Error(`the entries do not show their short ids: "${e8.detail}" / "${e4.detail}"`);
      if (e8.name !== 'ui-apart' || e4.name !== 'ui-apart') throw new Error(`names: ${e8.name} / ${e4.name}`);
      if (e8.colour === e4.colour) throw new Error(`both runs are drawn in ${e8.colour}`);
      await page.waitForTimeout(300);
      await shot(page, '11b-compare-loss');
      return `${tries > 1 ? `(Compare Runs took ${tries} tries) ` : ''}${columns.map((c) => `${c.head}: ${c.note}`).join(' | ')}; Loss tab: "${e8.name} ${e8.detail}" vs "${e4.name} ${e4.detail}"`;
    });
    await check('issue #12: the Loss tab plots the trained run against training FLOPs: axis title, and the x range is the run\'s cumulative FLOPs', async () => {
      if (process.env.E2E_JOB === 'toy') return 'skipped: the toy job has no cost model';
      if (!trainingRun) throw new Error('no trained run from the Train check');
      const run = trainingRun;
      // The run's training FLOPs, summed here from its metrics.jsonl (each step: FLOPs per second × step time).
      const lines = readFileSync(path.join(WS as string, '.convbert', 'runs', run, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"metrics"'));
      const steps = lines.map((l) => JSON.parse(l) as { step: number; flopsPerSecond: number; stepMs: number });
      const first = (steps[0]!.flopsPerSecond * steps[0]!.stepMs) / 1000;
      const total = steps.reduce((sum, m) => sum + (m.flopsPerSecond * m.stepMs) / 1000, 0);
      if (!(first > 0)) throw new Error(`the run recorded no FLOPs: ${lines[0]?.slice(0, 200) ?? 'no metrics'}`);
      // The panel may be behind an editor after the checks above: Open Dashboard reveals it.
      await page.keyboard.press('Escape');
      await command(page, 'ConvBERT: Open Dashboard');
      const f = await dashboardFrame(page);
      await clickTab(f, 'loss');
      // Only the trained run: tick it, untick the others.
      const boxes = await f.evaluate<{ id: string; checked: boolean }[]>(`[...document.querySelectorAll('.run-list vscode-checkbox')].map((b) => ({ id: b.getAttribute('data-run-id'), checked: !!b.checked }))`);
      for (const b of boxes) {
        if (b.checked !== (b.id === run)) {
          await f.click(`.run-list vscode-checkbox[data-run-id="${b.id}"]`);
          await f.evaluate('window.__convbertDashboard.settled()');
        }
      }
      await f.click('.loss-view [data-control=loss-x] vscode-radio[value=flops]');
      const info = await until('the FLOPs axis', async () => {
        const all = await f.evaluate<Record<string, { scales: Record<string, { min: number; max: number; title: string }>; datasets: { runId?: string; role?: string; data: { x: number }[] }[] }>>('window.__convbertDashboard.settled().then(() => JSON.parse(JSON.stringify(window.__convbertDashboard.charts())))');
        const loss = all.loss;
        return loss && loss.scales.x?.title === 'training FLOPs (cost model)' && loss.datasets.every((d) => d.runId === run) ? loss : undefined;
      }, 15_000, 300);
      const x = info.scales.x!;
      const rel = (a: number, b: number) => Math.abs(a - b) / b;
      if (rel(x.max, total) > 0.01) throw new Error(`the x axis ends at ${x.max}, the run's cumulative FLOPs are ${total}`);
      if (rel(x.min, first) > 0.01) throw new Error(`the x axis starts at ${x.min}, the run's first step has ${first} FLOPs`);
      const raw = info.datasets.find((d) => d.role === 'train-raw')!;
      if (raw.data.length !== steps.length || rel(raw.data[raw.data.length - 1]!.x, total) > 0.01) throw new Error(`${raw.data.length} points, the last at ${raw.data.at(-1)?.x}; expected ${steps.length} up to ${total}`);
      await page.waitForTimeout(300);
      await shot(page, '12-loss-flops');
      return `x axis "${x.title}" from ${x.min.toPrecision(4)} to ${x.max.toPrecision(4)} FLOPs; metrics.jsonl sums to ${total.toPrecision(4)} over ${steps.length} steps`;
    });
    await check('issue #12: switching the Loss tab\'s x-axis to FLOPs and to time plots every point at the run\'s cumulative training FLOPs / training time (not its step)', async () => {
      if (process.env.E2E_JOB === 'toy') return 'skipped: the toy job has no cost model';
      if (!trainingRun) throw new Error('no trained run from the Train check');
      const run = trainingRun;
      const lines = readFileSync(path.join(WS as string, '.convbert', 'runs', run, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"metrics"'));
      const steps = lines.map((l) => JSON.parse(l) as { step: number; flopsPerSecond: number; stepMs: number });
      // Summed here from metrics.jsonl: training FLOPs (FLOPs per second × step time) and training time (step times), in seconds on the axis.
      let flops = 0;
      let ms = 0;
      const want = { flops: [] as number[], time: [] as number[], step: steps.map((m) => m.step) };
      for (const m of steps) {
        flops += (m.flopsPerSecond * m.stepMs) / 1000;
        ms += m.stepMs;
        want.flops.push(flops);
        want.time.push(ms / 1000);
      }
      const f = await dashboardFrame(page);
      await clickTab(f, 'loss');
      const seen: string[] = [];
      for (const axis of ['flops', 'time'] as const) {
        await f.click(`.loss-view [data-control=loss-x] vscode-radio[value=${axis}]`);
        const title = axis === 'flops' ? 'training FLOPs (cost model)' : 'training time (sum of step times: no evaluation, checkpoints or pauses)';
        const raw = await until(`the ${axis} axis`, async () => {
          const all = await charts(f);
          const loss = all.loss as (ChartData & { scales?: Record<string, { title: string }> }) | undefined;
          const d = loss?.datasets.find((x) => x.runId === run && x.role === 'train-raw');
          return loss && (loss as unknown as { scales: Record<string, { title: string }> }).scales.x?.title === title && d ? (d.data as { x: number; y: number }[]) : undefined;
        }, 15_000, 300);
        if (raw.length !== steps.length) throw new Error(`${axis}: ${raw.length} points, metrics.jsonl has ${steps.length} steps`);
        raw.forEach((p, i) => {
          const w = want[axis][i]!;
          if (Math.abs(p.x - w) > 1e-6 * w) throw new Error(`${axis}: point ${i} (step ${steps[i]!.step}) is at x = ${p.x}, the run's cumulative ${axis} there is ${w}`);
        });
        // Not the steps: the cumulative totals grow faster than 1 per step on both axes here.
        if (raw.every((p, i) => p.x === want.step[i])) throw new Error(`${axis}: the points are at their steps`);
        await page.waitForTimeout(300);
        await shot(page, `13-loss-${axis}`);
        seen.push(`${axis}: ${raw.length} points, last at ${raw.at(-1)!.x.toPrecision(4)} (metrics.jsonl: ${want[axis].at(-1)!.toPrecision(4)})`);
      }
      await f.click('.loss-view [data-control=loss-x] vscode-radio[value=step]');
      return seen.join('; ');
    });
    await check('Run Sweep on a 2-run *.sweep.json from the command palette: the CLI trains both runs and the Sweep tab plots them against training FLOPs', async () => {
      if (process.env.E2E_JOB === 'toy') return 'skipped: the toy job has no cost model';
      const ids = ['e2e-sweep--gb-s1', 'e2e-sweep--bert-s1'];
      copyFileSync(path.join(EXT as string, 'test', 'e2e', 'fixtures', 'sweep', 'tiny.sweep.json'), path.join(WS as string, 'tiny.sweep.json'));
      await page.keyboard.press('Escape');
      // Quick Open lists recent files first: wait for the sweep file's own row (the file was just written).
      await until('tiny.sweep.json in Quick Open', async () => {
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+P');
        await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
        await page.keyboard.type('tiny.sweep.json');
        const row = await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="tiny.sweep.json"]', { timeout: 3000 }).catch(() => null);
        if (!row) return false;
        await row.click();
        return true;
      }, 30_000, 500);
      await until('the sweep file in the editor', async () => (await page.$$eval('.tabs-container .tab.active', (tabs) => tabs.map((t) => t.getAttribute('aria-label') ?? ''))).some((l) => l.includes('tiny.sweep.json')), 15_000);
      await command(page, 'ConvBERT: Run Sweep');
      const runState = (id: string) => {
        try {
          return (JSON.parse(readFileSync(path.join(WS as string, '.convbert', 'runs', id, 'run.json'), 'utf8')) as { state?: string }).state;
        } catch {
          return undefined;
        }
      };
      await until('both sweep runs to complete', async () => ids.every((id) => runState(id) === 'completed'), 180_000, 1000);
      await page.waitForTimeout(1500);
      await shot(page, '14-sweep-task');
      const f = await dashboardFrame(page);
      await clickTab(f, 'sweep');
      const found = await until('the Sweep tab with both runs done', async () => {
        const chart = (await charts(f)).sweep;
        const status = await f.evaluate<string>(`document.querySelector('.sweep-view [data-role=sweep-status]')?.textContent ?? ''`);
        const byRun = ids.map((id) => chart?.datasets.find((d) => d.runId === id));
        return status === '2 of 2 runs done' && byRun.every((d) => d && d.data.length > 0) ? { status, byRun: byRun as ChartData['datasets'] } : undefined;
      }, 60_000, 500);
      // Each run's points are its evaluations at its cumulative training FLOPs (log-x: x > 0).
      for (const [i, id] of ids.entries()) {
        const evals = readFileSync(path.join(WS as string, '.convbert', 'runs', id, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"eval"')).map((l) => JSON.parse(l) as { step: number; loss: number });
        const ys = (found.byRun[i]!.data as { x: number; y: number }[]).map((p) => p.y);
        const wantYs = evals.filter((e) => e.step > 0).map((e) => e.loss);
        if (JSON.stringify(ys) !== JSON.stringify(wantYs)) throw new Error(`${id}: plotted ${JSON.stringify(ys)}, metrics.jsonl evaluations ${JSON.stringify(wantYs)}`);
      }
      const rows = await f.evaluate<number>(`document.querySelectorAll('.sweep-runs tbody tr').length`);
      // The crossing table follows the runs' last evaluations up to 2 s after them (the sweep service's debounce),
      // which can be after the status line says both are done: wait for it instead of sampling it once.
      const crossingRows = () => f.evaluate<string[]>(`[...document.querySelectorAll('.sweep-crossings tbody tr')].map((r) => r.textContent ?? '')`);
      const crossings = await until('the crossing table', async () => {
        const r = await crossingRows();
        return r.length > 0 ? r : undefined;
      }, 15_000, 500);
      if (rows !== 2) throw new Error(`the runs table has ${rows} rows`);
      if (crossings.length !== 1) throw new Error(`the crossing table has ${crossings.length} rows`);
      await page.waitForTimeout(300);
      await shot(page, '15-sweep-view');
      return `${found.status}; ${found.byRun.map((d) => `${d.runId}: ${d.data.length} evaluations`).join(', ')}; crossing: ${crossings[0]!.replace(/\s+/g, ' ').slice(0, 120)}`;
    });
  } finally {
    await context.close();
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`ui: ${passed} passed, ${results.length - passed} failed`);
  return passed === results.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    console.log(`ui: ${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    process.exit(2);
  },
);
