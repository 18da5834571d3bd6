/** Loads the `tfjs-node` backend (./index.ts declares it). */
import type { BackendLoader } from '../backend';
import { loadNative } from '../native';
import { tfjsNode } from '.';

export const loadTfjsNode: BackendLoader = (ctx) => loadNative(tfjsNode, ctx);
