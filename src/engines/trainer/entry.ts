/**
 * Where an engine's trainer process comes from: its bundle in dist/ (`dist/trainer.js` for TF.js; what the installed
 * CLI and the extension fork), else its TypeScript entry (`src/engines/tfjs/trainer/main.ts`) run through tsx (a
 * source checkout without a build). When the CLI itself runs
 * from its TypeScript source and the bundle is older than the sources, the bundle is stale and the source entry is
 * used, so a checkout never trains with yesterday's trainer. `CONVBERT_TRAINER_ENTRY` forces an entry.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EvaluateRequest, EvaluateResult, IpcLaunchPlan, LaunchJob } from '../engine';

export const TRAINER_ENTRY_ENV = 'CONVBERT_TRAINER_ENTRY';

/** The trainer cannot be started (no entry to fork): a one-line message for the user. */
export class LaunchError extends Error {
  override name = 'LaunchError';
}

export interface TrainerEntry {
  entry: string;
  execArgv: string[];
  kind: 'bundle' | 'source';
  /** Why this entry (shown with --verbose). */
  why: string;
}

/**
 * `--import tsx`, with tsx located from ConvBERT Studio's folder: a bare `tsx` would be looked up from the
 * trainer's working directory (the user's project), where it is not installed.
 */
function tsxArgs(root: string): string[] {
  try {
    return ['--import', pathToFileURL(createRequire(path.join(root, 'package.json')).resolve('tsx')).href];
  } catch {
    return ['--import', 'tsx'];
  }
}
/** `JOB_MODULE_ENV` of src/engines/tfjs/trainer/jobs.ts, not imported from there: that module loads the model and TF.js. */
const JOB_MODULE_ENV = 'CONVBERT_TRAINER_JOB_MODULE';

/** The folder with ConvBERT Studio's package.json, from this file's location (src/engines/trainer or dist). */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'convbert-studio') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(from, '..', '..');
    dir = parent;
  }
}

/** Newest modification time of the .ts files under `dir` (ms), 0 when none. */
function newestSource(dir: string): number {
  let newest = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** A job module given as TypeScript (the tests' toy job) needs tsx in the trainer, bundle or not. */
function jobNeedsTsx(env: NodeJS.ProcessEnv): boolean {
  return /\.[cm]?ts$/.test(env[JOB_MODULE_ENV] ?? '');
}

/** An engine's trainer: its bundle's file name in dist/ and its source entry relative to the package root. */
export interface TrainerEntryFiles {
  bundle: string;
  source: string;
}

export const TFJS_TRAINER: TrainerEntryFiles = { bundle: 'trainer.js', source: 'src/engines/tfjs/trainer/main.ts' };

export function resolveTrainerEntry(options: { root?: string; runningFromSource?: boolean; env?: NodeJS.ProcessEnv; files?: TrainerEntryFiles } = {}): TrainerEntry {
  const env = options.env ?? process.env;
  const root = options.root ?? packageRoot();
  const TSX = tsxArgs(root);
  const fromSource = options.runningFromSource ?? __filename.endsWith('.ts');
  const forced = env[TRAINER_ENTRY_ENV];
  if (forced) {
    const entry = path.resolve(forced);
    if (!existsSync(entry)) throw new LaunchError(`${TRAINER_ENTRY_ENV}=${forced}: no such file`);
    const ts = /\.[cm]?ts$/.test(entry);
    return { entry, execArgv: ts || jobNeedsTsx(env) ? TSX : [], kind: ts ? 'source' : 'bundle', why: `${TRAINER_ENTRY_ENV} is set` };
  }
  const files = options.files ?? TFJS_TRAINER;
  const bundle = path.join(root, 'dist', files.bundle);
  const source = path.join(root, ...files.source.split('/'));
  const haveBundle = existsSync(bundle);
  const haveSource = existsSync(source);
  if (haveBundle) {
    const stale = fromSource && haveSource && newestSource(path.join(root, 'src')) > statSync(bundle).mtimeMs;
    if (!stale) return { entry: bundle, execArgv: jobNeedsTsx(env) ? TSX : [], kind: 'bundle', why: 'the bundled trainer' };
    return { entry: source, execArgv: TSX, kind: 'source', why: `dist/${files.bundle} is older than src/ (run \`npm run build\`); using the TypeScript source` };
  }
  if (haveSource) return { entry: source, execArgv: TSX, kind: 'source', why: `no dist/${files.bundle} (run \`npm run build\`); using the TypeScript source` };
  throw new LaunchError(`the trainer is missing: neither ${bundle} nor ${source} exists; run \`npm run build\` in the ConvBERT Studio folder`);
}

/** `MlmJobOptions` of src/core/train/mlm-job.ts, read by the job from this variable (not imported: it loads TF.js). */
export const MLM_JOB_ENV = 'CONVBERT_MLM_JOB';

/**
 * The masked-LM job's options with `specDir` set (unless the variable already sets one): the folder relative corpus
 * paths and `vocabFile` in the spec are resolved against. The job only knows the spec's content, not its file.
 */
export function mlmJobEnv(specDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let options: Record<string, unknown> = {};
  try {
    const parsed: unknown = env[MLM_JOB_ENV] ? JSON.parse(env[MLM_JOB_ENV]) : {};
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) options = parsed as Record<string, unknown>;
  } catch {
    return {}; // the job reports the malformed variable itself
  }
  return { [MLM_JOB_ENV]: JSON.stringify({ specDir, ...options }) };
}

/**
 * The launch plan of an engine whose trainer is a Node process (every engine's: the torch engine's trainer drives
 * Python workers from Node): its bundle when ConvBERT Studio is installed, else `resolveTrainerEntry`'s choice, on
 * the configured runtime (plain Node when the host is Electron), with the engine's `env`.
 */
export function nodeTrainerPlan(engine: string, files: TrainerEntryFiles, job: LaunchJob, env: Record<string, string>): IpcLaunchPlan {
  const entry = job.installedAt
    ? { entry: path.join(job.installedAt, 'dist', files.bundle), execArgv: [], why: `the installed trainer (${files.bundle})` }
    : resolveTrainerEntry({ env: job.env ?? process.env, files });
  const plan: Record<string, string> = { ...env };
  if (!job.runtimePath && job.electronHost) plan.ELECTRON_RUN_AS_NODE = '1';
  return { engine, transport: 'ipc', command: job.runtimePath, script: entry.entry, execArgv: entry.execArgv, args: [], env: plan, cwd: job.cwd, why: entry.why };
}

/**
 * An engine's in-process evaluator (its evaluate.ts, or `bundled` beside the bundle), loaded by path only when used,
 * so that the bundles importing the engine's declaration (the extension's) do not take its runtime in with it.
 * `fromFile`: the declaring module's `__filename`.
 */
export function loadEvaluator(fromFile: string, bundled: string): { evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> } {
  const file = path.join(path.dirname(fromFile), fromFile.endsWith('.ts') ? 'evaluate.ts' : bundled);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as { evaluateRun(request: EvaluateRequest): Promise<EvaluateResult> };
}
