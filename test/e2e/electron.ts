/**
 * The same in-host suite under @vscode/test-electron, for machines that can download VS Code (it cannot run on
 * the offline CI machines: use `npm run test:e2e`, which runs the suite in code-server). Builds the extension and
 * the test bundles, copies the fixture workspace, and runs the suite against the minimum engine version and
 * stable (`CONVBERT_VSCODE_VERSIONS=stable` for one).
 *
 *   npm run test:electron
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

const ROOT = path.resolve(__dirname, '../..');

/** As in run.sh: the trainer's own masked-LM job once it is wired in, else the job module (CONVBERT_E2E_JOB overrides). */
function jobEnv(): Record<string, string> {
  const wired = !readFileSync(path.join(ROOT, 'src/engines/tfjs/trainer/jobs.ts'), 'utf8').includes('const maskedLmJob: JobFactory | undefined = undefined');
  const job = process.env.CONVBERT_E2E_JOB ?? (wired ? 'mlm' : 'mlm-module');
  if (job === 'toy') return { CONVBERT_TRAINER_JOB_MODULE: path.join(ROOT, 'out/e2e/toy-job.js'), CONVBERT_TOY_JOB: '{"stepDelayMs":40}' };
  if (job === 'mlm-module') return { CONVBERT_TRAINER_JOB_MODULE: path.join(ROOT, 'out/e2e/mlm-job.js') };
  return {};
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit', cwd: ROOT });
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/e2e/build.ts')], { stdio: 'inherit', cwd: ROOT });
  const engine = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { vscode: string } }).engines.vscode.replace(/^\^/, '');
  const versions = (process.env.CONVBERT_VSCODE_VERSIONS ?? `${engine},stable`).split(',');
  let failed = 0;
  for (const version of versions) {
    const workspace = path.join(mkdtempSync(path.join(os.tmpdir(), 'convbert-electron-')), 'workspace');
    cpSync(path.join(ROOT, 'test/e2e/fixtures/workspace'), workspace, { recursive: true });
    const reference = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/e2e/make-reference-run.ts'), workspace], { cwd: ROOT, encoding: 'utf8' }).trim();
    console.log(`VS Code ${version}:`);
    try {
      await runTests({
        version,
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: path.join(ROOT, 'out/e2e/suite/index.js'),
        launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
        extensionTestsEnv: {
          CONVBERT_E2E_REFERENCE_RUN: reference,
          ...jobEnv(),
        },
      });
    } catch (e) {
      failed++;
      console.error(`VS Code ${version}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log(`electron: ${versions.length - failed} passed, ${failed} failed (VS Code versions)`);
  if (failed > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
