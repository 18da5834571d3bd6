/**
 * The Node side of the fit check: the machine's memory and the backend `auto` would pick here, from the engine
 * registry's order (optional packages are resolved, never loaded: no TF.js is imported). The CLI and the extension
 * pass these facts to core's fit check.
 */
import { totalmem } from 'node:os';
import type { ConcreteBackend, MachineFacts } from '../core/cost/fit';
import { DEFAULT_ENGINE, findEngine } from '.';
import { createNodeResolver, type ModuleResolver } from './tfjs/backends/resolver';

export function machineFacts(resolver: ModuleResolver = createNodeResolver()): MachineFacts {
  const installed = (pkg: string): boolean => {
    try {
      return resolver.resolve(pkg) !== undefined;
    } catch {
      return false;
    }
  };
  const backends = findEngine(DEFAULT_ENGINE)?.backends ?? [];
  // A backend that loads only where something is known only by trying (a GPU adapter, a native addon built at
  // install) is not assumed: the fit check holds the estimate against the first backend that loads wherever its
  // package is installed.
  const autoBackend = backends.find((b) => !b.conditional && (!b.requires || (!b.requires.device && installed(b.requires.package))))?.name as ConcreteBackend | undefined;
  return { memoryBytes: totalmem(), ...(autoBackend ? { autoBackend } : {}) };
}
