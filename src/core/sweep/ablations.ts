/**
 * Ablations (docs/sweeps.md): changes to a run's resolved spec that take one GroupBERT ingredient away, and the
 * family a spec belongs to. An ablated spec is written back as a spec file whose layers are spelt out module by
 * module (`layer.modules` + `layerOverrides`), so the run's own spec resolves to exactly the ablated layers.
 */
import type { ModuleSpec, SpecFile } from '../spec/schema';
import type { ResolvedLayer, ResolvedModule, ResolvedSpec } from '../spec/resolve';
import type { AblationName } from './schema';

export type Family = 'bert' | 'groupbert';

/** BERT-family when no layer has a conv or a GFFN module, else GroupBERT-family. */
export function specFamily(spec: ResolvedSpec): Family {
  return spec.model.layers.some((l) => l.modules.some((m) => m.type === 'conv' || m.type === 'gffn')) ? 'groupbert' : 'bert';
}

function mapModules(layer: ResolvedLayer, f: (modules: ResolvedModule[]) => ResolvedModule[]): ResolvedLayer {
  const modules = f(layer.modules);
  // Sources no longer line up with the modules once some are dropped; an ablated spec's layers are all written.
  return { index: layer.index, modules, sources: modules.map(() => undefined) };
}

const ABLATE: Record<AblationName, (modules: ResolvedModule[]) => ResolvedModule[]> = {
  'no-conv': (ms) => ms.filter((m) => m.type !== 'conv'),
  'dense-ffn': (ms) => ms.map((m) => (m.type === 'gffn' ? { ...m, groups: 1 } : m)),
  'depthwise-conv': (ms) => ms.map((m) => (m.type === 'conv' ? { ...m, channelsPerGroup: 1 } : m)),
  'kernel-3': (ms) => ms.map((m) => (m.type === 'conv' ? { ...m, kernelSize: 3 } : m)),
  'kernel-15': (ms) => ms.map((m) => (m.type === 'conv' ? { ...m, kernelSize: 15 } : m)),
  'one-gffn': (ms) => {
    const first = ms.findIndex((m) => m.type === 'gffn');
    return ms.filter((m, i) => m.type !== 'gffn' || i === first);
  },
};

/** The resolved spec with the ablation applied to every layer (the input is not changed). */
export function applyAblation(spec: ResolvedSpec, ablation: AblationName): ResolvedSpec {
  const f = ABLATE[ablation];
  return { ...spec, model: { ...spec.model, layers: spec.model.layers.map((l) => mapModules(l, f)) } };
}

function moduleSpec(m: ResolvedModule): ModuleSpec {
  return { ...m } as ModuleSpec;
}

function sameModules(a: readonly ResolvedModule[], b: readonly ResolvedModule[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * `file` with its layer structure replaced by `layers`, spelt out: the first layer's modules as `layer.modules`, and
 * one override per run of consecutive layers that differ from it. Resolving the result gives `layers` again.
 */
export function withLayers(file: SpecFile, layers: readonly ResolvedLayer[]): SpecFile {
  const first = layers[0]?.modules ?? [];
  const overrides: { layers: string; modules: ModuleSpec[] }[] = [];
  for (let i = 1; i < layers.length; ) {
    const modules = (layers[i] as ResolvedLayer).modules;
    if (sameModules(modules, first)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < layers.length && sameModules((layers[j + 1] as ResolvedLayer).modules, modules)) j++;
    overrides.push({ layers: j === i ? `${i}` : `${i}-${j}`, modules: modules.map(moduleSpec) });
    i = j + 1;
  }
  const { layerOverrides: _old, ...model } = file.model ?? {};
  return {
    ...file,
    model: { ...model, layer: { modules: first.map(moduleSpec) }, ...(overrides.length > 0 ? { layerOverrides: overrides } : {}) },
  };
}
