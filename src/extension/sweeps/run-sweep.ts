/**
 * "ConvBERT: Run Sweep": runs `convbert sweep <file>` (the bundled CLI, `dist/cli.js`) as a VS Code task in a
 * terminal of its own — a separate process, never the extension host, and the extension never imports the CLI.
 * The task's process runs on `convbert.trainer.nodePath`, else the editor's own runtime (`ELECTRON_RUN_AS_NODE=1`
 * in the desktop app), in the sweep file's workspace folder (where `.convbert/sweeps/` and `.convbert/runs/` go).
 * Killing the task is killing the CLI: its trainers stop with a checkpoint, and Run Sweep again continues.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { expandPath, readSettings } from '../config';
import type { Log } from '../log';
import { isSweepPath, SWEEP_FILE_SUFFIX, SWEEP_TASK_TYPE, sweepCommandLine } from './command-line';

export { isSweepPath, SWEEP_FILE_SUFFIX, SWEEP_TASK_TYPE, sweepCommandLine };

export interface SweepExecution {
  file: string;
  /** Resolves to the CLI's exit code when it ends (undefined: the task was ended without one). */
  done: Promise<number | undefined>;
}

export class SweepRunner implements vscode.Disposable {
  private readonly running = new Map<string, SweepExecution>();
  private readonly ends = new Map<vscode.TaskExecution, (code: number | undefined) => void>();
  private readonly subs: vscode.Disposable[];

  constructor(
    private readonly extensionPath: string,
    private readonly log: Log,
  ) {
    this.subs = [
      vscode.tasks.onDidEndTaskProcess((e) => {
        const end = this.ends.get(e.execution);
        if (!end) return;
        this.ends.delete(e.execution);
        end(e.exitCode);
      }),
      vscode.tasks.onDidEndTask((e) => {
        const end = this.ends.get(e.execution);
        if (!end) return;
        this.ends.delete(e.execution);
        end(undefined);
      }),
    ];
  }

  /** The sweep now running from this file, if any. */
  execution(file: string): SweepExecution | undefined {
    return this.running.get(path.resolve(file));
  }

  /** Starts `convbert sweep <file>` as a task; the same file twice at once is refused. */
  async run(uri: vscode.Uri, extraArgs: string[] = []): Promise<SweepExecution> {
    if (uri.scheme !== 'file') throw new Error(`Run Sweep needs a file on disk, not ${uri.scheme}:`);
    const file = uri.fsPath;
    if (!isSweepPath(file)) throw new Error(`${path.basename(file)} is not a sweep file (*${SWEEP_FILE_SUFFIX})`);
    const key = path.resolve(file);
    const already = this.running.get(key);
    if (already) throw new Error(`the sweep ${path.basename(file)} is already running (its terminal: "ConvBERT sweep")`);
    const cli = path.join(this.extensionPath, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`this build of the extension has no CLI bundle (${cli}): run \`npm run build\`, or run \`convbert sweep ${path.basename(file)}\` in a terminal`);
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const cwd = folder?.uri.fsPath ?? path.dirname(file);
    const settings = readSettings(vscode.workspace, uri);
    const line = sweepCommandLine({
      extensionPath: this.extensionPath,
      sweepFile: file,
      execPath: process.execPath,
      extraArgs,
      ...(settings.nodePath ? { nodePath: expandPath(settings.nodePath, folder?.uri.fsPath) } : {}),
    });
    const task = new vscode.Task(
      { type: SWEEP_TASK_TYPE, file },
      folder ?? vscode.TaskScope.Workspace,
      `sweep ${path.basename(file, SWEEP_FILE_SUFFIX)}`,
      'ConvBERT',
      new vscode.ProcessExecution(line.command, line.args, { cwd, env: line.env }),
      [],
    );
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true, showReuseMessage: false };
    let resolveDone!: (code: number | undefined) => void;
    const done = new Promise<number | undefined>((r) => (resolveDone = r));
    const execution: SweepExecution = { file, done };
    this.running.set(key, execution);
    this.log.info(`sweep: ${[line.command, ...line.args].join(' ')} (in ${cwd})`);
    try {
      const started = await vscode.tasks.executeTask(task);
      this.ends.set(started, (code) => {
        this.running.delete(key);
        this.log.info(`sweep: ${path.basename(file)} ended${code === undefined ? '' : ` with exit code ${code}`}`);
        resolveDone(code);
      });
    } catch (e) {
      this.running.delete(key);
      throw e;
    }
    return execution;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
