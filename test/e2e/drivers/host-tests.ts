/**
 * Runs the in-host mocha suite (out/e2e/suite/index.js) inside code-server's real Node extension host: the
 * workbench loads the extension under development and the tests through the URL payload, forwards the tests'
 * console through `window.codeAutomationLog`, and reports the exit code through `window.codeAutomationExit`.
 * A test that logs the line `e2e-screenshot: <name>` gets a screenshot of the workbench in $SHOTS/<name>.png
 * (taken as the line arrives: the test waits a moment before it changes what is shown).
 *
 *   BASE=http://127.0.0.1:PORT WS=<workspace> EXT=<repo> TESTS=<out/e2e/suite/index.js> [EXT_ENV=<json>] npx tsx test/e2e/drivers/host-tests.ts
 */
import * as path from 'node:path';
import * as util from 'node:util';
import { launch, NOISE } from './browser';

async function main(): Promise<number> {
  const { BASE, WS, EXT, TESTS, PROFILE_ROOT } = process.env;
  if (!BASE || !WS || !EXT || !TESTS || !PROFILE_ROOT) throw new Error('BASE, WS, EXT, TESTS and PROFILE_ROOT must be set');
  const env = process.env.EXT_ENV ? (JSON.parse(process.env.EXT_ENV) as Record<string, string>) : undefined;
  const { context, page, url } = await launch({ base: BASE, workspace: WS, extensionPath: EXT, testsPath: TESTS, profileRoot: PROFILE_ROOT, ...(env ? { env } : {}) });
  let done!: (code: number | string) => void;
  const exited = new Promise<number | string>((resolve) => (done = resolve));
  await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => {
    const line = util.format(...(args ?? []));
    if (!NOISE.test(line)) console.log(line);
    const shot = /^e2e-screenshot: ([\w.-]+)$/.exec(line.trim());
    if (shot && process.env.SHOTS) {
      const file = path.join(process.env.SHOTS, `${shot[1]}.png`);
      void page.screenshot({ path: file }).then(
        () => console.log(`screenshot: ${file}`),
        (e: unknown) => console.log(`screenshot ${file} failed: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => done(code));
  await page.goto(url);
  const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 600_000);
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  console.log(`extension host exit code: ${code}`);
  await context.close();
  return code === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
