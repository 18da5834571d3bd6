/**
 * The editor features on `*.convbert.json`: CodeLens (costs, ▶ Train, Show costs), hovers on size properties,
 * quick fixes, and the language status item with the totals. Thin adapters over the pure builders
 * (`lens-content.ts`, `hover-content.ts`, `quick-fixes.ts`) reading `SpecService`'s analysis.
 */
import * as vscode from 'vscode';
import { validateSpecText } from '../core/validate/validate';
import { totalForwardFlopsPerToken } from './analysis';
import { readSettings } from './config';
import { bytes, flopsPerTokenLabel, paramsLabel } from '../format';
import { modelKeyCompletions } from './completion-content';
import { buildHover } from './hover-content';
import { buildLenses } from './lens-content';
import { FIXABLE_CODES, rankFixes } from './quick-fixes';
import { COMMANDS } from './ids';
import { isSpecDocument, SPEC_SELECTOR, toVsRange, type SpecService } from './spec-service';


class LensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly specs: SpecService) {
    this.subscription = specs.onDidAnalyze(() => this.emitter.fire());
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isSpecDocument(doc)) return [];
    const analysis = this.specs.analysis(doc);
    return buildLenses(analysis).map((entry) => {
      const pos = doc.positionAt(entry.offset);
      const range = new vscode.Range(pos, pos);
      const args = entry.command === 'convbert.showCosts' ? [doc.uri, entry.layer] : entry.command === 'convbert.train' ? [doc.uri] : [];
      return new vscode.CodeLens(range, { title: entry.title, command: entry.command, arguments: args, ...(entry.tooltip ? { tooltip: entry.tooltip } : {}) });
    });
  }
}

class HoverProvider implements vscode.HoverProvider {
  constructor(private readonly specs: SpecService) {}

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    if (!isSpecDocument(doc)) return undefined;
    const content = buildHover(this.specs.analysis(doc), doc.offsetAt(position));
    if (!content) return undefined;
    const md = new vscode.MarkdownString(content.markdown);
    const range = new vscode.Range(doc.positionAt(content.offset), doc.positionAt(content.offset + content.length));
    return new vscode.Hover(md, range);
  }
}

class QuickFixProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  constructor(private readonly specs: SpecService) {}

  provideCodeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    if (!isSpecDocument(doc)) return [];
    const analysis = this.specs.analysis(doc);
    const text = analysis.text;
    // Every fixable diagnostic at the range, as one list: one action per resulting text, the fix that clears the
    // most errors first (each candidate is re-validated with the document's settings).
    const here = analysis.diagnostics.filter((d) => FIXABLE_CODES.has(d.code) && (toVsRange(d).intersection(range) || toVsRange(d).contains(range)));
    if (here.length === 0) return [];
    const budget = readSettings(vscode.workspace, doc.uri).memoryBudgetMiB;
    const countErrors = (t: string) => validateSpecText(t, budget !== undefined ? { memoryBudgetMiB: budget } : {}).diagnostics.filter((d) => d.severity === 'error').length;
    const out: vscode.CodeAction[] = [];
    for (const fix of rankFixes(text, here, countErrors)) {
      const ranges = fix.sources.map(toVsRange);
      // The editor's diagnostics this fixes: ours (same code), or the JSON language features' ones at the same place.
      const linked = context.diagnostics.filter((v) => ranges.some((r, i) => v.range.intersection(r) && (v.code === fix.sources[i]?.code || v.source !== 'convbert')));
      const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
      const edit = new vscode.WorkspaceEdit();
      for (const e of fix.edits) edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.content);
      action.edit = edit;
      action.diagnostics = linked;
      action.isPreferred = fix.preferred ?? false;
      out.push(action);
    }
    return out;
  }
}

/** Keys under `model` with the value the spec has now (see completion-content.ts). */
class ModelKeyCompletions implements vscode.CompletionItemProvider {
  provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
    if (!isSpecDocument(doc)) return [];
    return modelKeyCompletions(doc.getText(), doc.offsetAt(position)).map((c) => {
      const item = new vscode.CompletionItem({ label: c.key, description: `${c.value} (${c.origin})` }, vscode.CompletionItemKind.Property);
      item.insertText = c.insertText;
      item.filterText = JSON.stringify(c.key);
      item.range = new vscode.Range(doc.positionAt(c.offset), doc.positionAt(c.offset + c.length));
      item.detail = `${c.origin}: ${c.value}`;
      item.documentation = new vscode.MarkdownString(c.markdown);
      return item;
    });
  }
}

/** "110.1 M params · 22.4 GFLOPs/token" for the active spec, in the language status area. */
class TotalsStatus implements vscode.Disposable {
  private readonly item = vscode.languages.createLanguageStatusItem('convbert.totals', SPEC_SELECTOR);
  private readonly disposables: vscode.Disposable[] = [this.item];

  constructor(private readonly specs: SpecService) {
    this.item.name = 'ConvBERT costs';
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      specs.onDidAnalyze((doc) => {
        if (doc === vscode.window.activeTextEditor?.document) this.update();
      }),
    );
    this.update();
  }

  update(): void {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || !isSpecDocument(doc)) return;
    const a = this.specs.analysis(doc);
    const cost = a.cost;
    if (!cost) {
      this.item.text = a.errors > 0 ? `$(error) ConvBERT: ${a.errors} error${a.errors === 1 ? '' : 's'}` : 'ConvBERT';
      this.item.detail = 'no costs until the spec is valid';
      this.item.severity = vscode.LanguageStatusSeverity.Error;
      this.item.command = { title: 'Show problems', command: 'workbench.actions.view.problems' };
      return;
    }
    this.item.text = `${a.valid ? '' : '≈ '}${paramsLabel(cost.totals.params)} · ${flopsPerTokenLabel(totalForwardFlopsPerToken(cost))}`;
    this.item.detail = `training memory ≈ ${bytes(cost.memory.totalBytes)} at S=${cost.sequenceLength}, batch ${cost.batchSize}`;
    this.item.severity = a.errors > 0 ? vscode.LanguageStatusSeverity.Error : a.warnings > 0 ? vscode.LanguageStatusSeverity.Warning : vscode.LanguageStatusSeverity.Information;
    this.item.command = { title: 'Show costs', command: COMMANDS.showCosts, arguments: [doc.uri] };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export function registerProviders(specs: SpecService): vscode.Disposable[] {
  const lenses = new LensProvider(specs);
  return [
    lenses,
    vscode.languages.registerCodeLensProvider(SPEC_SELECTOR, lenses),
    vscode.languages.registerHoverProvider(SPEC_SELECTOR, new HoverProvider(specs)),
    vscode.languages.registerCompletionItemProvider(SPEC_SELECTOR, new ModelKeyCompletions(), '"'),
    vscode.languages.registerCodeActionsProvider(SPEC_SELECTOR, new QuickFixProvider(specs), { providedCodeActionKinds: QuickFixProvider.kinds }),
    new TotalsStatus(specs),
  ];
}
