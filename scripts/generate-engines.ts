/**
 * Writes what is generated from the engine registry (src/engines/index.ts): core's list of backends and the
 * `convbert.trainer.backend` setting in package.json. `npm run generate:engines` (then `npm run generate:schema`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CORE_BACKENDS_PATH, MANIFEST_PATH, renderCoreBackends, renderManifest } from '../src/engines/artifacts';

for (const [path, text] of [
  [CORE_BACKENDS_PATH, renderCoreBackends()],
  [MANIFEST_PATH, renderManifest(readFileSync(MANIFEST_PATH, 'utf8'))],
] as const) {
  writeFileSync(path, text);
  console.log(`wrote ${path} (${text.length} bytes)`);
}
