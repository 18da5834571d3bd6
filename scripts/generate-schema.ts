/**
 * Writes the artifacts generated from the schema definitions. `npm run generate:schema`.
 * - the spec: schemas/convbert.schema.json and docs/spec-reference.md, from src/core/spec/schema.ts;
 * - the sweep file: schemas/sweep.schema.json, from src/core/sweep/schema.ts;
 * - the run format: schemas/run.schema.json, metrics-event, checkpoint and probe-header, from src/run-format/schema.ts
 *   (for engines written in other languages).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { REFERENCE_PATH, SCHEMA_PATH, renderReference, renderSchemaFile } from '../src/core/spec/artifacts';
import { RUN_FORMAT_SCHEMA_FILES, renderRunFormatSchema } from '../src/run-format/schema';
import { SWEEP_SCHEMA_PATH, renderSweepSchemaFile } from '../src/core/sweep/schema';

const runFormat = (Object.keys(RUN_FORMAT_SCHEMA_FILES) as (keyof typeof RUN_FORMAT_SCHEMA_FILES)[]).map((file) => [file, renderRunFormatSchema(file)] as const);

for (const [path, text] of [[SCHEMA_PATH, renderSchemaFile()], [REFERENCE_PATH, renderReference()], [SWEEP_SCHEMA_PATH, renderSweepSchemaFile()], ...runFormat] as const) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${path} (${text.length} bytes)`);
}
