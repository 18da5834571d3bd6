/**
 * The Node side of the fit check: the machine's memory and the backend `auto` would pick here (the native
 * packages are looked up, never loaded: no TF.js is imported).
 */
import { totalmem } from 'node:os';
import { createNodeResolver, type ModuleResolver } from '../../engines/tfjs/backends/resolver';
import type { MachineFacts } from './fit';

export function machineFacts(resolver: ModuleResolver = createNodeResolver()): MachineFacts {
  const installed = (pkg: string): boolean => {
    try {
      return resolver.resolve(pkg) !== undefined;
    } catch {
      return false;
    }
  };
  const autoBackend = installed('@tensorflow/tfjs-node-gpu') ? 'tfjs-node-gpu' : installed('@tensorflow/tfjs-node') ? 'tfjs-node' : 'wasm';
  return { memoryBytes: totalmem(), autoBackend };
}
