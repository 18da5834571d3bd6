/**
 * Diagnostics for every open `*.sweep.json`, from the sweep planner (`validateSweepText`, src/core/sweep), the way
 * specs get theirs (spec-service.ts): re-validated after a short pause while typing, at once on open and save, and
 * published with the planner's exact ranges and codes. Spec files the sweep names are read (from an open editor,
 * else from disk), so a run whose spec has errors is marked at its `spec` value. As for specs, syntax and schema
 * problems are left to VS Code's JSON language features (the sweep schema, `contributes.jsonValidation`).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { diagnosticCategory, type Diagnostic as CoreDiagnostic } from '../../core/spec/diagnostics';
import { validateSweepText } from '../../core/sweep/plan';
import { publishedHere, toVsDiagnostic, type SpecService } from '../spec-service';
import { SWEEP_FILE_SUFFIX } from './command-line';

const DEBOUNCE_MS = 300;

export function isSweepDocument(doc: vscode.TextDocument): boolean {
  return doc.uri.path.endsWith(SWEEP_FILE_SUFFIX) && (doc.languageId === 'jsonc' || doc.languageId === 'json');
}

/** The planner's own checks and the specs' semantic ones; not syntax or schema (the JSON language features say those). */
export function sweepPublishedHere(d: CoreDiagnostic): boolean {
  return diagnosticCategory(d.code) === undefined || publishedHere(d);
}

export class SweepDiagnostics implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('convbert-sweep');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subs: vscode.Disposable[];

  constructor(private readonly specs: SpecService) {
    this.subs = [
      this.diagnostics,
      vscode.workspace.onDidOpenTextDocument((doc) => this.refresh(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.schedule(e.document);
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.refresh(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        this.cancel(doc);
        this.diagnostics.delete(doc.uri);
      }),
      // A spec a sweep names changed: its runs may have become (in)valid.
      specs.onDidAnalyze(() => this.refreshAll()),
    ];
    const first = setTimeout(() => this.refreshAll(), 0);
    this.subs.push(new vscode.Disposable(() => clearTimeout(first)));
  }

  /** Validates now and publishes; returns what was published (undefined: not a sweep file). */
  refresh(doc: vscode.TextDocument): vscode.Diagnostic[] | undefined {
    if (!isSweepDocument(doc)) return undefined;
    this.cancel(doc);
    const sweepPath = doc.uri.scheme === 'file' ? doc.uri.fsPath : path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '', path.basename(doc.uri.path));
    const readSpec = (file: string): string | undefined => {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && path.resolve(d.uri.fsPath) === path.resolve(file));
      if (open) return open.getText();
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    };
    const found = validateSweepText(doc.getText(), { sweepPath, readSpec, validate: { machine: this.specs.machine } });
    const published = found.filter(sweepPublishedHere).map(toVsDiagnostic);
    this.diagnostics.set(doc.uri, published);
    return published;
  }

  refreshAll(): void {
    for (const doc of vscode.workspace.textDocuments) this.refresh(doc);
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!isSweepDocument(doc)) return;
    this.cancel(doc);
    this.timers.set(
      doc.uri.toString(),
      setTimeout(() => {
        this.timers.delete(doc.uri.toString());
        if (!doc.isClosed) this.refresh(doc);
      }, DEBOUNCE_MS),
    );
  }

  private cancel(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subs) s.dispose();
  }
}
