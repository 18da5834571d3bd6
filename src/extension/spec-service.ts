/**
 * Keeps every open `*.convbert.json` analysed (validation, resolved spec, costs) and its semantic diagnostics in
 * a DiagnosticCollection. Edits are re-analysed after a short pause (debounced per document); opening, saving and
 * setting changes re-analyse at once. CodeLens, hovers, quick fixes and the language status read the analysis
 * cached for the document's version (computed on demand when stale).
 *
 * Syntax and schema problems are left to VS Code's JSON language features, which report them from the same
 * schema (`contributes.jsonValidation`); this collection holds what the schema cannot say (divisibility, conv
 * padding, token mixing, memory…), with the validator's exact ranges and codes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MachineFacts } from '../core/cost/fit';
import { machineFacts } from '../engines/machine';
import { diagnosticCategory, type Diagnostic as CoreDiagnostic } from '../core/spec/diagnostics';
import { analyzeSpecText, type SpecAnalysis } from './analysis';
import { readSettings } from './config';
import type { Log } from './log';

export const SPEC_SELECTOR: vscode.DocumentSelector = [
  { language: 'jsonc', pattern: '**/*.convbert.json' },
  { language: 'json', pattern: '**/*.convbert.json' },
];

export const DIAGNOSTIC_SOURCE = 'convbert';
const DEBOUNCE_MS = 250;

export function isSpecDocument(doc: vscode.TextDocument): boolean {
  return doc.uri.path.endsWith('.convbert.json') && (doc.languageId === 'jsonc' || doc.languageId === 'json');
}

/** The categories this collection publishes (the JSON language features report syntax and schema problems). */
export function publishedHere(d: CoreDiagnostic): boolean {
  const c = diagnosticCategory(d.code);
  return c === 'semantic' || c === 'limit' || c === 'files';
}

const SEVERITY: Record<CoreDiagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

export function toVsRange(d: CoreDiagnostic): vscode.Range {
  return new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
}

export function toVsDiagnostic(d: CoreDiagnostic): vscode.Diagnostic {
  const v = new vscode.Diagnostic(toVsRange(d), d.message, SEVERITY[d.severity]);
  v.source = DIAGNOSTIC_SOURCE;
  v.code = d.code;
  return v;
}

export class SpecService implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection(DIAGNOSTIC_SOURCE);
  private readonly cache = new Map<string, { version: number; analysis: SpecAnalysis }>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly emitter = new vscode.EventEmitter<vscode.TextDocument>();
  /** A document was (re)analysed. */
  readonly onDidAnalyze = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  /** The machine's memory and `auto`'s pick, for the hard-limit check (looked up once: no TF.js is loaded). */
  readonly machine: MachineFacts = machineFacts();

  constructor(private readonly log: Log) {
    this.disposables.push(
      this.diagnostics,
      this.emitter,
      vscode.workspace.onDidOpenTextDocument((doc) => this.refresh(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.schedule(e.document);
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.refresh(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.forget(doc)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('convbert.memoryBudgetMiB')) this.refreshAll();
      }),
    );
    // Not during activation: the first validation compiles the schema validator, which is not free.
    const first = setTimeout(() => this.refreshAll(), 0);
    this.disposables.push(new vscode.Disposable(() => clearTimeout(first)));
  }

  /** The analysis of the document's current version. */
  analysis(doc: vscode.TextDocument): SpecAnalysis {
    const key = doc.uri.toString();
    const cached = this.cache.get(key);
    if (cached && cached.version === doc.version) return cached.analysis;
    const t0 = performance.now();
    const settings = readSettings(vscode.workspace, doc.uri);
    const analysis = analyzeSpecText(doc.getText(), { ...(settings.memoryBudgetMiB !== undefined ? { memoryBudgetMiB: settings.memoryBudgetMiB } : {}), machine: this.machine, ...(doc.uri.scheme === 'file' ? { specDir: path.dirname(doc.uri.fsPath) } : {}) });
    this.cache.set(key, { version: doc.version, analysis });
    this.log.trace(`analysed ${vscode.workspace.asRelativePath(doc.uri)} v${doc.version} in ${(performance.now() - t0).toFixed(1)} ms: ${analysis.errors} errors, ${analysis.warnings} warnings`);
    return analysis;
  }

  /** Analyses now and publishes the diagnostics. */
  refresh(doc: vscode.TextDocument): SpecAnalysis | undefined {
    if (!isSpecDocument(doc)) return undefined;
    const key = doc.uri.toString();
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    const analysis = this.analysis(doc);
    this.diagnostics.set(doc.uri, analysis.diagnostics.filter(publishedHere).map(toVsDiagnostic));
    this.emitter.fire(doc);
    return analysis;
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!isSpecDocument(doc)) return;
    const key = doc.uri.toString();
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) this.refresh(doc);
      }, DEBOUNCE_MS),
    );
  }

  private forget(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    this.cache.delete(key);
    this.diagnostics.delete(doc.uri);
  }

  refreshAll(): void {
    this.cache.clear();
    for (const doc of vscode.workspace.textDocuments) this.refresh(doc);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const d of this.disposables) d.dispose();
  }
}
