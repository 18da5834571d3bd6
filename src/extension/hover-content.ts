/**
 * Hovers on a spec's size properties: the shapes they produce and what they cost, from the resolved spec and the
 * cost report. Pure: `(analysis, offset) → markdown | undefined`; `hover.ts` wraps it. VS Code's JSON features
 * add the schema's description to the same hover, so this part says only what the numbers imply.
 */
import { getLocation, parseTree, findNodeAtLocation } from 'jsonc-parser';
import type { CostReport, ModuleCost } from '../core/cost';
import { formatIndexList, pathLabel, type JsonPath } from '../core/spec/diagnostics';
import type { ResolvedModule, ResolvedSpec } from '../core/spec/resolve';
import { forwardFlopsPerToken, totalForwardFlopsPerToken, type SpecAnalysis } from './analysis';
import { presetModelValue } from './completion-content';
import { bytes, exact, flopsPerTokenLabel } from '../format';

export interface HoverContent {
  markdown: string;
  /** The hovered key or value, to highlight. */
  offset: number;
  length: number;
}

const MODEL_SIZE_KEYS = new Set(['hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'vocabSize', 'maxPositions', 'tokenTypes']);
const MODULE_SIZE_KEYS = new Set(['heads', 'kernelSize', 'channelsPerGroup', 'groups', 'intermediateSize', 'type']);
const TRAINING_SIZE_KEYS = new Set(['sequenceLength', 'batchSize', 'gradientAccumulation', 'memoryBudgetMiB']);

const code = (s: string | number) => `\`${s}\``;
const shape = (...dims: (string | number)[]) => code(`[${dims.join(', ')}]`);

function costLine(what: string, params: number, flopsPerToken: number): string {
  return `**${what}**: ${exact(params)} parameters · ${flopsPerTokenLabel(flopsPerToken)} forward`;
}

function moduleShapes(m: ResolvedModule, spec: ResolvedSpec, report: CostReport): string[] {
  const H = spec.model.hiddenSize;
  const B = report.batchSize;
  const S = report.sequenceLength;
  switch (m.type) {
    case 'attention': {
      const head = H / m.heads;
      return [
        `Q, K, V: ${shape(B, S, H)} → ${m.heads} heads of ${Number.isInteger(head) ? head : head.toFixed(2)}: ${shape(B, m.heads, S, Number.isInteger(head) ? head : head.toFixed(2))}`,
        `scores QKᵀ and probabilities: ${shape(B, m.heads, S, S)} (${bytes(4 * B * m.heads * S * S)} per step)`,
        `projections Wq, Wk, Wv, Wo: ${shape(H, H)} each`,
      ];
    }
    case 'conv': {
      const groups = H / m.channelsPerGroup;
      return [
        ...(m.glu ? [`GLU: ${shape(B, S, H)} → ${shape(B, S, 2 * H)} → ${shape(B, S, H)} (W ${shape(H, 2 * H)})`] : []),
        `grouped conv: ${Number.isInteger(groups) ? groups : groups.toFixed(2)} groups of ${m.channelsPerGroup} channels, kernel ${m.kernelSize} (${m.padding} padding): weight ${shape(m.kernelSize, m.channelsPerGroup, H)}`,
        `receptive field: ${m.kernelSize} tokens per conv module`,
        `output projection: ${shape(H, H)}`,
      ];
    }
    case 'gffn': {
      const perGroupIn = m.intermediateSize / m.groups;
      const perGroupOut = H / m.groups;
      const f = (x: number) => (Number.isInteger(x) ? x : x.toFixed(2));
      return [
        `up-projection: ${shape(B, S, H)} → ${shape(B, S, m.intermediateSize)} (W ${shape(H, m.intermediateSize)})`,
        `grouped down-projection: ${m.groups} groups of ${shape(f(perGroupIn), f(perGroupOut))} → ${shape(B, S, H)}`,
        ...(m.mixer && m.groups > 1 ? [`mixer: ${shape(H, H)}`] : []),
      ];
    }
    case 'ffn':
      return [`${shape(B, S, H)} → ${shape(B, S, m.intermediateSize)} → ${shape(B, S, H)} (W₁ ${shape(H, m.intermediateSize)}, W₂ ${shape(m.intermediateSize, H)})`];
  }
}

function pathEquals(a: JsonPath | undefined, b: JsonPath): boolean {
  return !!a && a.length === b.length && a.every((s, i) => s === b[i]);
}

/** The module entry at `modulePath` of the file: its resolved form, its cost and the layers that use it. */
function moduleAt(spec: ResolvedSpec, report: CostReport, modulePath: JsonPath): { m: ResolvedModule; cost: ModuleCost; layers: number[] } | undefined {
  const layers: number[] = [];
  let found: { m: ResolvedModule; cost: ModuleCost } | undefined;
  for (const layer of spec.model.layers) {
    const i = layer.sources.findIndex((s) => pathEquals(s, modulePath));
    if (i < 0) continue;
    layers.push(layer.index);
    const cost = report.layers[layer.index]?.modules[i];
    const m = layer.modules[i];
    if (!found && cost && m) found = { m, cost };
  }
  return found ? { ...found, layers } : undefined;
}

function layersText(layers: number[]): string {
  return layers.length === 1 ? `layer ${layers[0]}` : `layers ${formatIndexList(layers)}`;
}

function modelHover(key: string, spec: ResolvedSpec, report: CostReport): string[] {
  const m = spec.model;
  const H = m.hiddenSize;
  const B = report.batchSize;
  const S = report.sequenceLength;
  const t = report.totals;
  const total = costLine('model', t.params, totalForwardFlopsPerToken(report));
  switch (key) {
    case 'hiddenSize': {
      const heads = [...new Set(m.layers.flatMap((l) => l.modules.filter((x) => x.type === 'attention').map((x) => (x as { heads: number }).heads)))];
      return [
        `hidden states: ${shape(B, S, H)} per layer`,
        ...heads.map((h) => `attention with ${h} heads: head size ${Number.isInteger(H / h) ? H / h : (H / h).toFixed(2)}`),
        `word embedding: ${shape(m.vocabSize, H)} (${exact(m.vocabSize * H)} parameters)`,
        total,
        `training memory (estimate): ${bytes(report.memory.totalBytes)}`,
      ];
    }
    case 'numLayers':
      return [`${m.numLayers} layers, ${exact(t.encoderParams)} parameters in the encoder (${exact(Math.round(t.encoderParams / Math.max(1, m.numLayers)))} per layer on average)`, total];
    case 'numHeads': {
      const head = H / m.numHeads;
      return [
        `head size ${Number.isInteger(head) ? head : head.toFixed(2)}; scores ${shape(B, m.numHeads, S, S)} per attention module`,
        `attention probabilities kept for backward: ${bytes(4 * B * m.numHeads * S * S)} per module per step`,
        total,
      ];
    }
    case 'intermediateSize':
      return [`FFN / GFFN width ${m.intermediateSize} (${(m.intermediateSize / H).toFixed(2)}·hidden): ${shape(B, S, H)} → ${shape(B, S, m.intermediateSize)} → ${shape(B, S, H)}`, total];
    case 'vocabSize':
      return [
        `word embedding ${shape(m.vocabSize, H)}: ${exact(m.vocabSize * H)} parameters (${((100 * m.vocabSize * H) / t.params).toFixed(1)}% of the model)`,
        ...(m.heads.mlm ? [`MLM decoder tied to it; logits ${shape(B, report.maskedPerSequence, m.vocabSize)} at the masked positions`] : []),
      ];
    case 'maxPositions':
      return [`position embedding ${shape(m.maxPositions, H)}: ${exact(m.maxPositions * H)} parameters; sequences up to ${m.maxPositions} tokens`];
    case 'tokenTypes':
      return [`token-type embedding ${shape(m.tokenTypes, H)}: ${exact(m.tokenTypes * H)} parameters`];
    default:
      return [];
  }
}

function trainingHover(key: string, spec: ResolvedSpec, report: CostReport): string[] {
  const t = spec.training;
  const mem = report.memory;
  const lines = [
    `${report.tokensPerStep} tokens per micro-batch (${report.batchSize} × ${report.sequenceLength})${t.gradientAccumulation > 1 ? `, ${report.tokensPerStep * t.gradientAccumulation} per optimizer step` : ''}`,
    `training: ${flopsPerTokenLabel(report.totals.trainingFlopsPerToken).replace('/token', ' per token')} (forward + backward), ${(report.totals.trainingFlopsPerStep / 1e9).toPrecision(3)} GFLOPs per micro-batch`,
    `memory (estimate): ${bytes(mem.totalBytes)} = weights ${bytes(mem.weightsBytes)} + gradients ${bytes(mem.gradientBytes)} + optimizer ${bytes(mem.optimizerBytes)} + activations ${bytes(mem.activationBytes)}`,
  ];
  if (key === 'memoryBudgetMiB') lines.push(`budget: ${t.memoryBudgetMiB} MiB (${mem.totalBytes > t.memoryBudgetMiB * 2 ** 20 ? 'over' : 'within'})`);
  return lines;
}

/** The hover at `offset` of the analysed text, or `undefined` when it is not on a size property. */
export function buildHover(analysis: SpecAnalysis, offset: number): HoverContent | undefined {
  const { text, spec, cost } = analysis;
  if (!spec || !cost) return undefined;
  const location = getLocation(text, offset);
  const node = location.previousNode;
  if (!node) return undefined;
  const path = location.path;
  const key = path[path.length - 1];
  if (typeof key !== 'string') return undefined;
  let lines: string[] = [];
  let title = pathLabel(path);
  if (path.length === 2 && path[0] === 'model' && MODEL_SIZE_KEYS.has(key)) {
    lines = modelHover(key, spec, cost);
    // What the line changes: the preset's value it overrides.
    const inherited = presetModelValue(analysis.result.file, key);
    if (inherited && lines.length > 0) lines.push(inherited.value === (spec.model as unknown as Record<string, unknown>)[key] ? `the same as ${inherited.preset}'s: ${String(inherited.value)}` : `overrides ${inherited.preset}'s ${String(inherited.value)}`);
  } else if (path.length === 2 && path[0] === 'training' && TRAINING_SIZE_KEYS.has(key)) {
    lines = trainingHover(key, spec, cost);
  } else if (MODULE_SIZE_KEYS.has(key) && path.length >= 4 && path[path.length - 3] === 'modules') {
    const modulePath = path.slice(0, -1);
    const found = moduleAt(spec, cost, modulePath);
    if (!found) return undefined;
    title = `${found.m.type} module at ${pathLabel(modulePath)}`;
    lines = [...moduleShapes(found.m, spec, cost), costLine(`${found.m.type} (per layer, ${layersText(found.layers)})`, found.cost.params, forwardFlopsPerToken(found.cost, cost)), `activations kept for backward: ${bytes(found.cost.activationBytes)} per layer per step`];
  } else {
    return undefined;
  }
  if (lines.length === 0) return undefined;
  // Highlight the key, or the value when hovering it.
  const root = parseTree(text, [], { allowTrailingComma: true });
  const valueNode = root ? findNodeAtLocation(root, path) : undefined;
  const keyNode = valueNode?.parent?.type === 'property' ? valueNode.parent.children?.[0] : undefined;
  const target = location.isAtPropertyKey ? (keyNode ?? node) : (valueNode ?? node);
  const header = `**ConvBERT** · ${code(title)} · S=${cost.sequenceLength}, batch ${cost.batchSize}${analysis.valid ? '' : ' · ⚠ spec has errors: approximate'}`;
  return { markdown: [header, '', ...lines.map((l) => `- ${l}`)].join('\n'), offset: target.offset, length: target.length };
}
