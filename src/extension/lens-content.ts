/**
 * The CodeLens above a spec's `model` (totals, ▶ Train, Show costs), its layer template, each layer override and
 * each module entry (parameters · forward GFLOPs per token). Pure: from a text and its analysis to lens entries
 * with source offsets; `codelens.ts` turns them into `vscode.CodeLens`es.
 */
import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';
import type { CostReport, LayerCost, ModuleCost } from '../core/cost';
import { formatIndexList, type JsonPath } from '../core/spec/diagnostics';
import type { ResolvedSpec } from '../core/spec/resolve';
import { forwardFlopsPerToken, totalForwardFlopsPerToken, type SpecAnalysis } from './analysis';
import { exact, flopsPerTokenLabel, paramsLabel } from '../format';

export type LensCommand = 'convbert.train' | 'convbert.showCosts' | '';

export interface LensEntry {
  /** Offset of the key (or value) the lens sits above. */
  offset: number;
  title: string;
  tooltip?: string;
  command: LensCommand;
  /** For `convbert.showCosts`: the layer to focus. */
  layer?: number;
}

/** Where a property's key starts (its value's offset when it has no key). */
function keyOffset(node: Node): number {
  const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
  return (key ?? node).offset;
}

function pathStartsWith(path: JsonPath | undefined, prefix: JsonPath): boolean {
  return !!path && prefix.length <= path.length && prefix.every((seg, i) => path[i] === seg);
}

/** Indices of the layers whose modules come from the module list at `modulesPath` of the file. */
export function layersFrom(spec: ResolvedSpec, modulesPath: JsonPath): number[] {
  return spec.model.layers.filter((l) => pathStartsWith(l.sources[0], modulesPath)).map((l) => l.index);
}

function costText(params: number, flopsPerToken: number, approx: boolean): string {
  return `${approx ? '≈ ' : ''}${paramsLabel(params)} · ${flopsPerTokenLabel(flopsPerToken)}`;
}

function layersWord(indices: number[]): string {
  return indices.length === 1 ? `layer ${indices[0]}` : `layers ${formatIndexList(indices)}`;
}

/** The title of the totals lens; the e2e test compares it with the cost model through this function. */
export function totalsTitle(report: CostReport, approx = false): string {
  return costText(report.totals.params, totalForwardFlopsPerToken(report), approx);
}

export function totalsTooltip(report: CostReport, approx: boolean): string {
  const t = report.totals;
  return [
    `${exact(t.params)} parameters (encoder ${exact(t.encoderParams)})`,
    `${exact(totalForwardFlopsPerToken(report))} forward FLOPs per token at S=${report.sequenceLength} (training: ${exact(t.trainingFlopsPerToken)} per token)`,
    report.convention,
    ...(approx ? ['The spec has errors: these figures use real-valued formulas and will change once it is fixed.'] : []),
  ].join('\n');
}

function layerTitle(layer: LayerCost, report: CostReport, approx: boolean): string {
  return costText(layer.params, forwardFlopsPerToken(layer, report), approx);
}

function moduleTitle(m: ModuleCost, report: CostReport, approx: boolean): string {
  return `${m.kind}: ${costText(m.params, forwardFlopsPerToken(m, report), approx)}`;
}

export function buildLenses(analysis: SpecAnalysis): LensEntry[] {
  const { text, spec, cost } = analysis;
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (!root || root.type !== 'object') return [];
  const approx = !analysis.valid;
  const out: LensEntry[] = [];

  // The totals, Train and Show costs: above `model`, else `extends`, else the opening brace.
  const modelNode = findNodeAtLocation(root, ['model']);
  const anchor = modelNode ?? findNodeAtLocation(root, ['extends']);
  const top = anchor ? keyOffset(anchor) : root.offset;
  if (cost) {
    out.push({ offset: top, title: totalsTitle(cost, approx), tooltip: totalsTooltip(cost, approx), command: 'convbert.showCosts' });
  } else {
    out.push({ offset: top, title: analysis.errors > 0 ? `$(error) ${analysis.errors} error${analysis.errors === 1 ? '' : 's'}: no costs yet` : 'no costs', command: '' });
  }
  out.push({ offset: top, title: '▶ Train', tooltip: 'Train this spec in a background trainer process', command: 'convbert.train' });
  out.push({ offset: top, title: 'Show costs', tooltip: 'Open the dashboard on the Costs tab', command: 'convbert.showCosts' });
  if (!spec || !cost) return out;

  const moduleLenses = (modulesPath: JsonPath, layers: number[]) => {
    const first = layers[0];
    const list = findNodeAtLocation(root, modulesPath);
    if (first === undefined || !list || list.type !== 'array') return;
    const layer = cost.layers[first];
    (list.children ?? []).forEach((entry, i) => {
      const m = layer?.modules[i];
      if (!m || entry.type !== 'object') return;
      out.push({ offset: entry.offset, title: moduleTitle(m, cost, approx), tooltip: `${exact(m.params)} parameters per layer, in ${layersWord(layers)}`, command: 'convbert.showCosts', layer: first });
    });
  };

  // The layer template.
  const templatePath: JsonPath = ['model', 'layer', 'modules'];
  const layerNode = findNodeAtLocation(root, ['model', 'layer']);
  const templateLayers = layersFrom(spec, templatePath);
  if (layerNode && templateLayers.length > 0) {
    const l = cost.layers[templateLayers[0] as number] as LayerCost;
    out.push({
      offset: keyOffset(layerNode),
      title: `per layer: ${layerTitle(l, cost, approx)} · × ${templateLayers.length}`,
      tooltip: `${exact(l.params)} parameters per layer; the template makes ${layersWord(templateLayers)}`,
      command: 'convbert.showCosts',
      layer: templateLayers[0] as number,
    });
    moduleLenses(templatePath, templateLayers);
  }

  // Each override.
  const overrides = findNodeAtLocation(root, ['model', 'layerOverrides']);
  (overrides?.type === 'array' ? (overrides.children ?? []) : []).forEach((entry, o) => {
    const modulesPath: JsonPath = ['model', 'layerOverrides', o, 'modules'];
    const layers = layersFrom(spec, modulesPath);
    if (layers.length === 0) {
      out.push({ offset: entry.offset, title: 'no layer uses this override', tooltip: 'a later override or the layer range replaces every layer it names', command: '' });
      return;
    }
    const l = cost.layers[layers[0] as number] as LayerCost;
    out.push({ offset: entry.offset, title: `${layersWord(layers)}: ${layerTitle(l, cost, approx)} each`, tooltip: `${exact(l.params)} parameters per layer`, command: 'convbert.showCosts', layer: layers[0] as number });
    moduleLenses(modulesPath, layers);
  });
  return out;
}
