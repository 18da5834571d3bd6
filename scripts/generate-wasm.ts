/** Assembles the wasm SIMD kernels (src/core/backend/simd/kernels.wat) into kernels.generated.ts. `npm run generate:wasm`. */
import { writeFileSync } from 'node:fs';
import { GENERATED_PATH, renderGenerated } from './wasm-assemble';

void renderGenerated().then((text) => {
  writeFileSync(GENERATED_PATH, text);
  console.log(`wrote ${GENERATED_PATH} (${text.length} bytes)`);
});
