/**
 * An engine runs training jobs: the TF.js trainer process today (src/engines/tfjs/), a PyTorch process next. Each
 * engine is one folder with an `index.ts` that exports an `Engine`; src/engines/index.ts lists them.
 *
 * An engine is chosen before any process starts: `launch` says which program to start and how to talk to it, so
 * an engine may start something other than Node (e.g. `torchrun`, speaking JSON lines over stdio). The module
 * exporting an engine must not import TF.js (or any heavy runtime): the extension and the generators read it.
 */
import type { EvalMetrics } from '../core/train/job';

/** A compute backend of an engine, as the spec, settings, CLI and fit check see it. */
export interface EngineBackend {
  readonly name: string;
  /** Markdown, for the schema and the docs. */
  readonly description: string;
  /** One plain line, for the VS Code setting. */
  readonly summary: string;
  /** The most memory it can use for training (the fit check's hard limit). */
  readonly memory: { readonly limit: number | 'machine' | 'unknown'; readonly why: string };
  /** An optional package it needs (resolved, never loaded, to tell whether `auto` would pick it). */
  readonly requires?: { readonly package: string; readonly hint: string; readonly device?: boolean };
  /** Loads only where something is known only by trying (e.g. a native addon built at install): what. */
  readonly conditional?: string;
}

export interface Availability {
  ok: boolean;
  /** Why not (when `ok` is false), or a caveat. */
  reason?: string;
}

/** What the host knows when it starts a job. */
export interface LaunchJob {
  /** The process's working directory: the spec's folder for the extension, the shell's for the CLI. */
  cwd: string;
  /** The folder the spec's relative paths (corpus, vocabulary) resolve against. */
  specDir: string;
  /** The host's environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** ConvBERT Studio's installed folder when the host runs from a package (the extension): use its bundles only. */
  installedAt?: string;
  /** A runtime binary to use instead of this process's (`convbert.trainer.nodePath`). */
  runtimePath?: string;
  /** Folders searched first for optional packages (a workspace's node_modules). */
  modulePaths?: string[];
  /** This process is an Electron host: a child started on its runtime must be told to act as plain Node. */
  electronHost?: boolean;
  /** Scale-out and interpreter choices (the torch engine's; other engines refuse what they cannot do). */
  distributed?: DistributedOptions;
}

/** How many processes train one run, and where (torchrun's vocabulary), and the interpreter that runs them. */
export interface DistributedOptions {
  /** Processes on this machine (default 1). */
  nprocPerNode?: number;
  /** Machines (default 1); with more than one, `rdzvEndpoint` is required. */
  nnodes?: number;
  /** HOST:PORT of the rendezvous (the first node). */
  rdzvEndpoint?: string;
  /** This machine's index (0 on the first), when the launcher cannot find it by rendezvous. */
  nodeRank?: number;
  /** The Python interpreter (the editor's setting or the Python extension's environment). */
  python?: string;
}

interface LaunchPlanBase {
  /** The engine's id. */
  engine: string;
  /** Added to the host's environment. */
  env: Record<string, string>;
  cwd: string;
  /** Why this program (shown with --verbose). */
  why: string;
}

/** A Node script forked with an IPC channel (V8 serialization): the protocol's messages as objects. */
export interface IpcLaunchPlan extends LaunchPlanBase {
  transport: 'ipc';
  /** The Node binary; undefined: this process's runtime. */
  command: string | undefined;
  /** The script forked. */
  script: string;
  /** Node's own options (e.g. `--import tsx`). */
  execArgv: string[];
  /** The script's arguments. */
  args: string[];
}

/** Any program, the protocol's messages as JSON lines on stdin/stdout. */
export interface StdioLaunchPlan extends LaunchPlanBase {
  transport: 'stdio-jsonl';
  command: string;
  args: string[];
}

export type LaunchPlan = IpcLaunchPlan | StdioLaunchPlan;

/** `convbert eval`: evaluate a run's latest checkpoint on its validation split. */
export interface EvaluateRequest {
  /** The run directory. */
  runDir: string;
  /** The backend to evaluate on (default: the run's, else the spec's). */
  backend?: string;
  /** The folder the spec snapshot's relative paths resolve against. */
  specDir: string;
  /** Shown as the spec's file in messages. */
  specLabel?: string;
  log: (level: string, message: string) => void;
  warn: (message: string, hint?: string) => void;
}

export interface EvaluateResult {
  metrics: EvalMetrics;
  /** The checkpoint evaluated. */
  checkpoint: { step: number; name: string; skipped: { name: string; reason: string }[] };
  /** The backend it ran on. */
  backend: string;
}

export interface Engine {
  /** The name in specs, settings and `--engine`. */
  readonly id: string;
  readonly description: string;
  /** Its backends, in the order `auto` tries them. */
  readonly backends: readonly EngineBackend[];
  /** Whether it can run on this machine, and why not (`python`: the interpreter the user chose, for the torch engine). */
  availability(options?: { python?: string }): Availability;
  /** Whether `auto` should pick it: it runs here on a GPU (an engine that is the default answers false). */
  preferredByAuto?(options?: { python?: string }): boolean;
  /** How to start a job: the program, its arguments, environment and transport. */
  launch(job: LaunchJob): LaunchPlan;
  /** Evaluate a run's latest checkpoint (may run in this process). */
  evaluate(request: EvaluateRequest): Promise<EvaluateResult>;
}
