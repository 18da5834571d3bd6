/**
 * Starting one training run, shared by `convbert train` and `convbert sweep`: the engine chosen before any process
 * starts (`pickEngine`: the engine and backend asked for, with a backend of another engine giving way to `auto`),
 * then its launch plan and the forked trainer (`launchTrainer`). Never trains in the caller's process.
 */
import { chooseEngine, engineOfBackend, type Engine, type LaunchJob, type LaunchPlan } from '.';
import { TrainerClient, clientOptionsFromPlan } from './client';
import { LaunchError } from './trainer/entry';

/** A failure to pick or launch an engine; `usage`: the request was wrong (exit 2), not the machine. */
export class StartRunError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
  }
}

export interface EngineRequest {
  /** `--engine` (wins over the spec's). */
  engine?: string;
  /** `--backend` (wins over the spec's). */
  backend?: string;
  /** The spec's `training.engine` and `training.backend`. */
  specEngine?: string;
  specBackend?: string;
  /** The backend a resumed run trained on. */
  resumedBackend?: string;
  python?: string;
}

export interface PickedEngine {
  engine: Engine;
  /** The backend to send with `start` (`auto` when the asked one belongs to another engine), or undefined: the spec's. */
  startBackend: string | undefined;
}

/** The engine for a run; throws a usage `StartRunError` for an unknown engine or backend, or one that cannot run here. */
export function pickEngine(request: EngineRequest): PickedEngine {
  try {
    // A backend of another engine than the one asked for (a TF.js run resumed with --engine torch) gives way to auto.
    const asked = request.backend ?? request.specBackend ?? request.resumedBackend;
    const askedEngine = request.engine ?? request.specEngine;
    const backendEngine = asked !== undefined && asked !== 'auto' ? engineOfBackend(asked)?.id : undefined;
    const yields = request.backend === undefined && askedEngine !== undefined && askedEngine !== 'auto' && backendEngine !== undefined && backendEngine !== askedEngine;
    const engine = chooseEngine(askedEngine, yields ? 'auto' : asked, { ...(request.python ? { python: request.python } : {}) });
    return { engine, startBackend: yields ? 'auto' : request.backend };
  } catch (e) {
    throw new StartRunError((e as Error).message, true);
  }
}

export interface LaunchedTrainer {
  plan: LaunchPlan;
  client: TrainerClient;
}

/**
 * The engine's launch plan for `job`, and the trainer forked from it (`env`: added to the plan's environment).
 * Throws `StartRunError` (not usage) when the trainer is missing, usage for options the engine refuses.
 */
export function launchTrainer(engine: Engine, job: LaunchJob, options: { stopTimeoutMs: number; env?: Record<string, string> }): LaunchedTrainer {
  let plan: LaunchPlan;
  try {
    plan = engine.launch(job);
  } catch (e) {
    throw new StartRunError((e as Error).message, !(e instanceof LaunchError));
  }
  if (options.env) plan = { ...plan, env: { ...plan.env, ...options.env } };
  const client = TrainerClient.fork({ ...clientOptionsFromPlan(plan), stopTimeoutMs: options.stopTimeoutMs });
  return { plan, client };
}
