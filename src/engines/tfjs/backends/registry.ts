/**
 * The TF.js engine's backends, in the order `auto` tries them: the one list. The spec schema's
 * `training.backend`, `--backend`, the `convbert.trainer.backend` setting and the docs are generated from it
 * (`npm run generate:engines`). TF.js-free: each entry is a backend folder's declaration (its index.ts).
 *
 * Adding a backend: its folder (index.ts declaring it, load.ts loading it), one line here, one line in ./loaders.ts.
 */
import { blas } from './blas';
import { cpu } from './cpu';
import { tfjsNode } from './tfjs-node';
import { tfjsNodeGpu } from './tfjs-node-gpu';
import { wasm } from './wasm';
import { webgpu } from './webgpu';

export const TFJS_BACKENDS = [
  tfjsNodeGpu,
  webgpu,
  tfjsNode,
  blas,
  wasm,
  cpu,
] as const;

export type TfjsBackendName = (typeof TFJS_BACKENDS)[number]['name'];
export type TfjsBackendPreference = 'auto' | TfjsBackendName;
