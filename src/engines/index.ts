/**
 * The engines: the one list. The spec schema's `training.backend`, the CLI's `--backend`, the VS Code setting
 * `convbert.trainer.backend` and the docs are generated from it (`npm run generate:engines`; the drift test
 * test/unit/engines-registry.test.ts fails when they disagree). TF.js-free: the extension imports it.
 *
 * Adding an engine (e.g. `torch`): its folder src/engines/<id>/ with an index.ts exporting an `Engine`, and one line
 * in ENGINES below.
 */
import type { Engine, EngineBackend } from './engine';
import { tfjsEngine } from './tfjs';
import { torchEngine } from './torch';

export const ENGINES = [
  tfjsEngine,
  torchEngine,
] as const satisfies readonly Engine[];

export type EngineId = (typeof ENGINES)[number]['id'];
export type BackendName = (typeof ENGINES)[number]['backends'][number]['name'];

/** The engine `auto` takes when no engine prefers itself (`preferredByAuto`: the torch engine on a GPU). */
export const DEFAULT_ENGINE: EngineId = 'tfjs';

export function findEngine(id: string): Engine | undefined {
  return ENGINES.find((e) => e.id === id);
}

/** Every backend of every engine, each engine's in its `auto` order. */
export function allBackends(): readonly (EngineBackend & { engine: EngineId })[] {
  return ENGINES.flatMap((e) => e.backends.map((b) => ({ ...b, engine: e.id })));
}

/** The engine a backend belongs to (the first that has it). */
export function engineOfBackend(backend: string): Engine | undefined {
  return ENGINES.find((e) => e.backends.some((b) => b.name === backend));
}

/**
 * The engine for a job: the one asked for (`auto` or none: the engine of the backend asked for, else the first that
 * prefers itself here — PyTorch on a GPU — else the default). Throws (a plain Error, one line) for an unknown engine,
 * a backend the engine does not have, or an engine asked for by name that cannot run here.
 */
export function chooseEngine(engineId?: string, backend?: string, options: { python?: string } = {}): Engine {
  const named = backend !== undefined && backend !== 'auto' ? engineOfBackend(backend) : undefined;
  let engine: Engine | undefined;
  if (engineId !== undefined && engineId !== 'auto') {
    engine = findEngine(engineId);
    if (!engine) throw new Error(`unknown engine "${engineId}"; use one of auto, ${ENGINES.map((e) => e.id).join(', ')}`);
  } else {
    engine = named ?? (ENGINES as readonly Engine[]).find((e) => e.preferredByAuto?.(options)) ?? findEngine(DEFAULT_ENGINE)!;
  }
  if (backend !== undefined && backend !== 'auto' && !engine.backends.some((b) => b.name === backend)) {
    throw new Error(`the ${engine.id} engine has no backend "${backend}"; its backends: auto, ${engine.backends.map((b) => b.name).join(', ')}`);
  }
  if (engineId !== undefined && engineId !== 'auto') {
    const available = engine.availability(options);
    if (!available.ok) throw new Error(`the ${engine.id} engine cannot run here: ${available.reason ?? 'unavailable'}`);
  }
  return engine;
}

export type { Engine, EngineBackend, LaunchJob, LaunchPlan, EvaluateRequest, EvaluateResult } from './engine';
