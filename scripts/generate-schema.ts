/** Writes the artifacts generated from the schema definition. `npm run generate:schema`. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { REFERENCE_PATH, SCHEMA_PATH, renderReference, renderSchemaFile } from '../src/core/spec/artifacts';

for (const [path, text] of [
  [SCHEMA_PATH, renderSchemaFile()],
  [REFERENCE_PATH, renderReference()],
] as const) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${path} (${text.length} bytes)`);
}
