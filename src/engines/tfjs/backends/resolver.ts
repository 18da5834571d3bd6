/**
 * How optional packages (the native TensorFlow bindings) are found and loaded. `loadBackend` only ever touches
 * them through a `ModuleResolver`, so tests can inject one that simulates "installed", "not installed" and
 * "installed but fails to load" without the packages being present.
 */

export interface ModuleResolver {
  /** The resolved entry file of `specifier`, or `undefined` when the package is not installed. */
  resolve(specifier: string): string | undefined;
  /** Load (require) the package. May throw: the package is present but does not load. */
  load(specifier: string): Promise<unknown>;
}

/** Node's `require`: this code always runs as CommonJS (tsx in development, esbuild CJS bundles in builds). */
export function nodeRequire(): NodeJS.Require {
  return require;
}

function isModuleNotFound(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  // A MODULE_NOT_FOUND for a *dependency* of the package means it is present but broken, not absent.
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${specifier}'`);
}

/** The resolver used outside tests: Node's own resolution from this file's location. */
export function createNodeResolver(req: NodeJS.Require = nodeRequire()): ModuleResolver {
  return {
    resolve(specifier) {
      try {
        return req.resolve(specifier);
      } catch (err) {
        if (isModuleNotFound(err, specifier)) return undefined;
        throw err;
      }
    },
    async load(specifier) {
      // Native bindings are CommonJS; a plain require keeps them on the same @tensorflow/tfjs-core instance.
      return req(specifier) as unknown;
    },
  };
}
