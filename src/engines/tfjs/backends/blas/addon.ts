/**
 * Finding and loading the native addon (build/convbert_blas.node, beside ConvBERT Studio's package.json) and saying
 * why not: the build's own status file (build/convbert_blas.json) names what was missing at install. Found and loaded
 * through a `ModuleResolver` like the optional packages, so the tests' stand-in resolvers decide whether it is there.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../../trainer/entry';
import { createNodeResolver, type ModuleResolver } from '../resolver';

export interface BlasAddon {
  sgemm(heap: Uint8Array, a: number, b: number, c: number, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean, strideA: number, strideB: number): void;
  config(): string;
  threads(n?: number): number;
}

export type AddonResult = { ok: true; addon: BlasAddon; file: string } | { ok: false; reason: string };

const cached = new Map<string, AddonResult>();

export async function loadBlasAddon(resolver: ModuleResolver = createNodeResolver(), root: string = packageRoot()): Promise<AddonResult> {
  const file = path.join(root, 'build', 'convbert_blas.node');
  const status = path.join(root, 'build', 'convbert_blas.json');
  let where: string | undefined;
  try {
    where = resolver.resolve(file);
  } catch {
    where = undefined;
  }
  if (!where) {
    let why = 'the native addon was not built (run `npm run build:native`)';
    try {
      const s = JSON.parse(readFileSync(status, 'utf8')) as { ok?: boolean; reason?: string };
      if (s.ok === false && s.reason) why = `the native addon was not built at install: ${s.reason}`;
    } catch {
      // no status file: the install did not try
    }
    return { ok: false, reason: why };
  }
  const known = cached.get(where);
  if (known) return known;
  return loadFrom(resolver, where);
}

async function loadFrom(resolver: ModuleResolver, file: string): Promise<AddonResult> {
  let addon: BlasAddon;
  try {
    addon = (await resolver.load(file)) as BlasAddon;
  } catch (err) {
    return { ok: false, reason: `the native addon does not load (rebuild it: npm run build:native): ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof addon?.sgemm !== 'function') return { ok: false, reason: `${file} is not ConvBERT Studio's BLAS addon` };
  const result: AddonResult = { ok: true, addon, file };
  cached.set(file, result);
  return result;
}
