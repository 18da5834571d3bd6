/** Assembles the wasm SIMD kernels (src/engines/tfjs/backends/wasm/simd/kernels.wat) into kernels.generated.ts. `npm run generate:wasm`. */
import { writeFileSync } from 'node:fs';
import { GENERATED_PATH, renderGenerated } from './wasm-assemble';

void renderGenerated().then((text) => {
  writeFileSync(GENERATED_PATH, text);
  console.log(`wrote ${GENERATED_PATH} (${text.length} bytes)`);
});
