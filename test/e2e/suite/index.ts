/**
 * The in-host test entry (`extensionTestsPath`): VS Code's extension host `require`s the bundle of this file and
 * calls `run()`; a rejection means failure. Runner-agnostic: the same entry runs inside code-server (through the
 * URL payload, test/e2e/drivers/host-tests.ts) and under @vscode/test-electron (test/e2e/electron.ts).
 * Ends with the plain line "N passed, M failed".
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/** Every suite file beside this one, in name order. */
const FILES = readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort();

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, slow: 5_000, reporter: 'spec' });
  const only = process.env.CONVBERT_E2E_GREP;
  if (only) mocha.grep(only);
  for (const f of FILES) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    let passed = 0;
    let failed = 0;
    const runner = mocha.run((failures) => {
      console.log(`in-host: ${passed} passed, ${failed} failed`);
      if (failures > 0) reject(new Error(`${failures} in-host test${failures === 1 ? '' : 's'} failed`));
      else resolve();
    });
    runner.on('pass', () => passed++);
    runner.on('fail', () => failed++);
  });
}
