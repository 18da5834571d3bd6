/**
 * How the host starts a trainer process: the engine's launch plan (src/engines/tfjs/index.ts `launch`) for this
 * host, as fork options. Pure (tested without VS Code). The extension never trains in its own process and never
 * loads TF.js: it forks the installed `dist/trainer.js`.
 *
 * - With `convbert.trainer.nodePath` empty, the trainer runs on the extension host's own runtime
 *   (`process.execPath`); in the desktop app that is Electron, so `ELECTRON_RUN_AS_NODE=1` makes it a plain Node.
 * - With a path, that Node runs the trainer: e.g. a system Node that can load `@tensorflow/tfjs-node-gpu`.
 * - `NODE_PATH` starts with the workspace folder's `node_modules`, so optional backends installed in the
 *   workspace (`npm i @tensorflow/tfjs-node-gpu`) are found by the trainer's backend chooser.
 * - The masked-LM job learns the spec's folder (relative corpus paths and `vocabFile` resolve there) through
 *   `CONVBERT_MLM_JOB`, as the CLI tells it.
 * - The engine: the spec's `training.engine` and `training.backend`, each overridden by its setting
 *   (`convbert.trainer.engine`, `convbert.trainer.backend`); the torch engine gets the Python interpreter (the
 *   `convbert.torch.python` setting, else the Python extension's environment when it has PyTorch, else found on
 *   this machine) and `convbert.torch.nprocPerNode` worker processes.
 */
import * as path from 'node:path';
import { chooseEngine, DEFAULT_ENGINE, engineOfBackend, type Engine } from '../../engines';
import type { DistributedOptions } from '../../engines/engine';
import type { StartOptions } from '../../protocol';
import { clientOptionsFromPlan, type TrainerClientOptions } from '../../engines/client';
import { expandPath, type Settings } from '../config';

/** What a spec asks for (its resolved `training.engine` and `training.backend`, or a run's recorded backend). */
export interface SpecEngine {
  engine?: string;
  backend?: string;
}

/** The engine and backend to ask `chooseEngine` for, and what the trainer must be told. */
export interface EngineRequest {
  /** `auto` or an engine id. */
  engine: string;
  /** `auto` or a backend name. */
  backend: string;
  /** The backend for the trainer's start options, when it is not the spec's (undefined: the spec's). */
  startBackend?: string;
  /** Where each came from, for the log. */
  engineFrom: 'setting' | 'spec';
  backendFrom: 'setting' | 'spec';
  /** A setting that overrode part of the spec, said as a sentence for the log. */
  note?: string;
}

/**
 * The spec's engine and backend, each overridden by its setting. When a setting and the spec disagree (the
 * setting's engine has no backend the spec names, or the setting's backend belongs to another engine than the
 * spec's), the setting wins and the spec's half becomes `auto`; when the disagreement is within one source,
 * `chooseEngine` names it.
 */
export function engineRequest(spec: SpecEngine | undefined, settings: Pick<Settings, 'engine' | 'backend'>): EngineRequest {
  const engineFrom = settings.engine !== 'spec' ? 'setting' : 'spec';
  const backendFrom = settings.backend !== 'spec' ? 'setting' : 'spec';
  let engine: string = settings.engine !== 'spec' ? settings.engine : (spec?.engine ?? 'auto');
  let backend: string = settings.backend !== 'spec' ? settings.backend : (spec?.backend ?? 'auto');
  let startBackend = settings.backend !== 'spec' ? settings.backend : undefined;
  let note: string | undefined;
  const owner = backend !== 'auto' ? engineOfBackend(backend)?.id : undefined;
  if (engine !== 'auto' && owner !== undefined && owner !== engine && engineFrom !== backendFrom) {
    if (engineFrom === 'setting') {
      note = `the convbert.trainer.engine setting (${engine}) replaces the spec's backend ${backend} (the ${owner} engine's) with auto`;
      backend = 'auto';
      startBackend = 'auto';
    } else {
      note = `the convbert.trainer.backend setting (${backend}, the ${owner} engine's) replaces the spec's engine ${engine} with auto`;
      engine = 'auto';
    }
  }
  return { engine, backend, ...(startBackend !== undefined ? { startBackend } : {}), engineFrom, backendFrom, ...(note ? { note } : {}) };
}

/** Whether the request may end up with an engine other than the default (so the Python probe is worth running first). */
export function mayNeedPython(request: EngineRequest): boolean {
  if (request.engine !== 'auto') return request.engine !== DEFAULT_ENGINE;
  return request.backend === 'auto' || engineOfBackend(request.backend)?.id !== DEFAULT_ENGINE;
}

/**
 * The engine for a request, or a one-line Error: `chooseEngine`'s (an unknown engine, a backend of another engine,
 * an engine asked for by name that cannot run here), and the same for an engine that a backend asked for by name
 * implies. With everything `auto`, an engine that cannot run here is passed over silently.
 */
export function engineForRequest(request: EngineRequest, python: string | undefined): Engine {
  const options = python ? { python } : {};
  const engine = chooseEngine(request.engine, request.backend, options);
  if (request.engine === 'auto' && request.backend !== 'auto') {
    const available = engine.availability(options);
    if (!available.ok) throw new Error(`the ${engine.id} engine cannot run here: ${available.reason ?? 'unavailable'}`);
  }
  return engine;
}

/** The setting to open from an engine error: the interpreter when the engine cannot run here, else the engine. */
export function settingForEngineError(message: string): string {
  return / engine cannot run here: /.test(message) ? 'convbert.torch.python' : 'convbert.trainer.engine';
}

/** Where the interpreter came from. */
export interface PythonChoice {
  python?: string;
  source: 'setting' | 'python-extension' | 'auto';
  /** Said in the log: e.g. the Python extension's environment has no PyTorch. */
  note?: string;
}

/**
 * The torch engine's interpreter: the `convbert.torch.python` setting (a path, `~` and `${workspaceFolder}`
 * expanded; a bare command stays a command), else the Python extension's selected environment when it has
 * PyTorch (`hasTorch`), else none (the engine looks on this machine). Never throws: a failing Python extension
 * means "none".
 */
export async function choosePython(
  setting: string,
  workspaceFolder: string | undefined,
  pythonExtensionEnv: () => Promise<string | undefined>,
  hasTorch: (python: string) => Promise<boolean>,
): Promise<PythonChoice> {
  const configured = setting.trim();
  if (configured) {
    const isPath = /[\\/]/.test(configured) || configured.startsWith('~') || configured.includes('${workspaceFolder}');
    return { python: isPath ? expandPath(configured, workspaceFolder) : configured, source: 'setting' };
  }
  let env: string | undefined;
  try {
    env = (await pythonExtensionEnv())?.trim() || undefined;
  } catch {
    env = undefined;
  }
  if (!env) return { source: 'auto' };
  if (await hasTorch(env).catch(() => false)) return { python: env, source: 'python-extension' };
  return { source: 'auto', note: `the Python extension's environment ${env} has no PyTorch; looking for one on this machine` };
}

/**
 * The backend the fit check assumes: the one asked for; with `auto`, the default engine's `auto` (the machine's
 * facts decide), or for another engine its first backend whose device is here (`devices`, from the Python probe),
 * else its last (the CPU).
 */
export function fitBackend(request: EngineRequest, engine: Engine, devices?: { cuda: boolean; mps: boolean }): string {
  if (request.backend !== 'auto') return request.backend;
  if (engine.id === DEFAULT_ENGINE) return 'auto';
  const present = engine.backends.find((b) => (b.name === 'cuda' ? !!devices?.cuda : b.name === 'mps' ? !!devices?.mps : true));
  return present?.name ?? engine.backends[engine.backends.length - 1]?.name ?? 'auto';
}

/** The torch engine's processes and interpreter, from the settings (undefined for an engine that takes none). */
export function distributedOptions(engine: Engine, settings: Pick<Settings, 'nprocPerNode'>, python: string | undefined): DistributedOptions | undefined {
  if (engine.id === DEFAULT_ENGINE) return undefined;
  return { ...(settings.nprocPerNode > 1 ? { nprocPerNode: settings.nprocPerNode } : {}), ...(python ? { python } : {}) };
}

export interface LaunchContext {
  extensionPath: string;
  settings: Settings;
  /** The workspace folder the spec is in (or its own folder). */
  workspaceFolder: string | undefined;
  /** The trainer's working directory and the masked-LM job's `specDir` (the spec's folder: relative corpus paths resolve there). */
  cwd: string;
  /** The host's environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The engine chosen (`engineForRequest`); default: the backend setting's engine. */
  engine?: Engine;
  /** The torch engine's processes and interpreter (`distributedOptions`). */
  distributed?: DistributedOptions;
}

/** The engine's launch plan for this host (the installed bundles, the configured Node, the workspace's packages). */
export function launchOptions(ctx: LaunchContext): TrainerClientOptions {
  // Chosen before the process starts (the controller passes the engine for the spec and the settings).
  const engine = ctx.engine ?? chooseEngine(undefined, ctx.settings.backend === 'spec' ? undefined : ctx.settings.backend);
  const plan = engine.launch({
    cwd: ctx.cwd,
    specDir: ctx.cwd,
    env: ctx.env ?? process.env,
    installedAt: ctx.extensionPath,
    ...(ctx.settings.nodePath ? { runtimePath: expandPath(ctx.settings.nodePath, ctx.workspaceFolder) } : {}),
    modulePaths: ctx.workspaceFolder ? [path.join(ctx.workspaceFolder, 'node_modules')] : [],
    electronHost: true,
    ...(ctx.distributed ? { distributed: ctx.distributed } : {}),
  });
  return { ...clientOptionsFromPlan(plan), helloTimeoutMs: 60_000, stopTimeoutMs: 30_000 };
}

/** The `start` options for a fresh run or a resume, from the backend setting (or the request's replacement of the spec's). */
export function startOptions(settings: Pick<Settings, 'backend'>, resume: boolean, steps?: number, request?: EngineRequest): StartOptions {
  const backend = request ? request.startBackend : settings.backend !== 'spec' ? settings.backend : undefined;
  return {
    ...(backend !== undefined ? { backend } : {}),
    ...(resume ? { resume: true } : {}),
    ...(steps !== undefined ? { steps } : {}),
  };
}
