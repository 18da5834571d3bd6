/**
 * The editor features on `*.convbert.json`: CodeLens (costs, ▶ Train, Show costs), hovers on size properties,
 * quick fixes, and the language status item with the totals. Thin adapters over the pure builders
 * (`lens-content.ts`, `hover-content.ts`, `quick-fixes.ts`) reading `SpecService`'s analysis.
 */
import * as vscode from 'vscode';
import { totalForwardFlopsPerToken } from './analysis';
import { bytes, flopsPerTokenLabel, paramsLabel } from './format';
import { buildHover } from './hover-content';
import { buildLenses } from './lens-content';
import { FIXABLE_CODES, quickFixes } from './quick-fixes';
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
    const out: vscode.CodeAction[] = [];
    for (const d of analysis.diagnostics) {
      if (!FIXABLE_CODES.has(d.code)) continue;
      const dRange = toVsRange(d);
      if (!dRange.intersection(range) && !dRange.contains(range)) continue;
      // The editor's diagnostic this fixes: ours (same code), or the JSON language features' one at the same place.
      const linked = context.diagnostics.filter((v) => v.range.intersection(dRange) && (v.code === d.code || v.source !== 'convbert'));
      for (const fix of quickFixes(text, d)) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        const edit = new vscode.WorkspaceEdit();
        for (const e of fix.edits) edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.content);
        action.edit = edit;
        action.diagnostics = linked;
        action.isPreferred = fix.preferred ?? false;
        out.push(action);
      }
    }
    return out;
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
    vscode.languages.registerCodeActionsProvider(SPEC_SELECTOR, new QuickFixProvider(specs), { providedCodeActionKinds: QuickFixProvider.kinds }),
    new TotalsStatus(specs),
  ];
}
