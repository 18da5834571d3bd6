/**
 * The extension's settings (`convbert.*`), read fresh on each use, and the paths they imply. The path logic is
 * pure (tested without VS Code); `readSettings` is the one function that touches the `vscode` API.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { ENGINES, allBackends, type BackendName, type EngineId } from '../engines';
import { RUNS_DIR } from '../run-format/run-dir';

/** The `convbert.trainer.backend` values: 'spec', 'auto' and every engine's backends (package.json's enum is generated from the same registry). */
export type BackendSetting = 'spec' | 'auto' | BackendName;
export const BACKEND_SETTINGS: readonly BackendSetting[] = ['spec', 'auto', ...allBackends().map((b) => b.name as BackendName)];

/** The `convbert.trainer.engine` values: 'spec', 'auto' and every engine (package.json's enum is generated from the same registry). */
export type EngineSetting = 'spec' | 'auto' | EngineId;
export const ENGINE_SETTINGS: readonly EngineSetting[] = ['spec', 'auto', ...ENGINES.map((e) => e.id)];

export interface Settings {
  /** A Node.js binary for the trainer ('' = the extension host's own runtime). */
  nodePath: string;
  /** 'spec' = the spec's `training.engine`. */
  engine: EngineSetting;
  /** 'spec' = the spec's `training.backend`. */
  backend: BackendSetting;
  /** The torch engine's Python interpreter ('' = the Python extension's environment, else found on this machine). */
  torchPython: string;
  /** The torch engine's worker processes per run (≥ 1). */
  nprocPerNode: number;
  /** Relative to each workspace folder, or absolute. */
  runsFolder: string;
  /** Overrides `training.memoryBudgetMiB` in the editor's diagnostics and costs (undefined = the spec's). */
  memoryBudgetMiB?: number;
}

export const DEFAULT_SETTINGS: Settings = { nodePath: '', engine: 'spec', backend: 'spec', torchPython: '', nprocPerNode: 1, runsFolder: RUNS_DIR.split(path.sep).join('/') };

export function readSettings(workspace: typeof vscode.workspace, scope?: vscode.ConfigurationScope): Settings {
  const c = workspace.getConfiguration('convbert', scope);
  const engine = c.get<string>('trainer.engine', 'spec');
  const backend = c.get<string>('trainer.backend', 'spec');
  const budget = c.get<number | null>('memoryBudgetMiB', null);
  const nproc = c.get<number>('torch.nprocPerNode', 1);
  return {
    nodePath: (c.get<string>('trainer.nodePath', '') ?? '').trim(),
    engine: (ENGINE_SETTINGS as readonly string[]).includes(engine) ? (engine as EngineSetting) : 'spec',
    backend: (BACKEND_SETTINGS as readonly string[]).includes(backend) ? (backend as BackendSetting) : 'spec',
    torchPython: (c.get<string>('torch.python', '') ?? '').trim(),
    nprocPerNode: typeof nproc === 'number' && Number.isInteger(nproc) && nproc >= 1 ? nproc : 1,
    runsFolder: (c.get<string>('runsFolder', DEFAULT_SETTINGS.runsFolder) ?? '').trim() || DEFAULT_SETTINGS.runsFolder,
    ...(typeof budget === 'number' && Number.isFinite(budget) && budget > 0 ? { memoryBudgetMiB: budget } : {}),
  };
}

/** `~` and `${workspaceFolder}` expanded; relative paths resolved against the workspace folder. */
export function expandPath(p: string, workspaceFolder: string | undefined): string {
  let out = p.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? '');
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) out = path.join(os.homedir(), out.slice(1));
  if (path.isAbsolute(out)) return path.normalize(out);
  return path.resolve(workspaceFolder ?? process.cwd(), out);
}

/** The runs folder of a workspace folder (or of the spec's own folder when it is in none). */
export function runsRoot(settings: Settings, workspaceFolder: string | undefined): string {
  return expandPath(settings.runsFolder, workspaceFolder);
}
