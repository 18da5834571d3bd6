/**
 * Opening the code-server workbench in headless Chromium (playwright-core + Debian's chromium), with the
 * extension under development loaded through the URL payload (the server runs with
 * `--vscode-option enable-smoke-test-driver`, without which the workbench ignores the payload's development
 * keys; see shared/research/vscode-e2e.md) — or, without `extensionPath`, with no payload at all: the workbench
 * runs the extensions installed in the server's extensions folder (the .vsix test).
 */
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export interface WorkbenchOptions {
  /** http://127.0.0.1:PORT */
  base: string;
  workspace: string;
  /** The extension under development; none: no payload, only installed extensions run. */
  extensionPath?: string;
  /** Run these in-host tests (extensionTestsPath). */
  testsPath?: string;
  /** Environment of the extension host. */
  env?: Record<string, string>;
  /** Where Chromium keeps its profile. */
  profileRoot: string;
  viewport?: { width: number; height: number };
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launch(o: WorkbenchOptions): Promise<{ context: BrowserContext; page: Page; url: string }> {
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(o.profileRoot, 'chrome-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: o.viewport ?? { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const host = new URL(o.base).host;
  const payload: [string, string][] = [];
  if (o.extensionPath) payload.push(['extensionDevelopmentPath', `vscode-remote://${host}${o.extensionPath}`]);
  if (o.testsPath) payload.push(['extensionTestsPath', `vscode-remote://${host}${o.testsPath}`]);
  if (o.env) payload.push(['extensionEnvironment', JSON.stringify(o.env)]);
  const url = `${o.base}/?folder=${encodeURIComponent(o.workspace)}${payload.length ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : ''}`;
  return { context, page, url };
}

/** Log lines from the workbench that are noise offline (gallery, telemetry, auth providers, stack frames). */
export const NOISE = /open-vsx|github' to register|AccountPolicyGate|Canceled|ENOTFOUND|ERR_NAME_NOT_RESOLVED|vsda|^\s+at /;
