/**
 * Semantic checks: what the schema cannot say. They run on a schema-valid file and its resolved spec, and
 * each finding names the JSON path of the value the user should change: a value written in the file when one
 * is involved, else the `extends` value (the preset set it), else the top of the file.
 *
 * Pure functions over plain data; `validate.ts` turns paths into source ranges.
 */
import { computeCost } from '../cost';
import { formatLimit, hardLimitBytes, largestHardLimitBytes, trainingFit, type MachineFacts } from '../cost/fit';
import {
  formatIndexList,
  nearestDivisors,
  nearestMultiples,
  orList,
  pathLabel,
  type JsonPath,
  type Severity,
} from '../spec/diagnostics';
import { isPresetName, type PresetName } from '../spec/preset-names';
import { PRESETS } from '../spec/presets';
import type { ResolvedModule, ResolvedSpec } from '../spec/resolve';
import type { SpecFile } from '../spec/schema';
import { isRecord } from '../json';
import { count, mebibytes } from '../../format';

export interface SemanticFinding {
  severity: Severity;
  code: string;
  message: string;
  /** The value to point at: a path present in the file, `['extends']`, or `[]` (the file itself). */
  path: JsonPath;
}

export interface SemanticOptions {
  /** Overrides `training.memoryBudgetMiB` (e.g. from an editor setting or a CLI flag). */
  memoryBudgetMiB?: number;
  /** The machine's memory and `auto`'s pick (`machineFacts()` in src/engines/machine.ts): without them only wasm's hard limit is known. */
  machine?: MachineFacts;
}

/** Above this many parameters a model is flagged as absurd for this tool. */
export const MAX_SENSIBLE_PARAMS = 100e9;

type Where = 'file' | 'preset' | 'default';

/** A value the resolved spec uses, and where it came from. */
interface Val {
  /** The name used in messages, e.g. `hiddenSize` or `training.sequenceLength`. */
  name: string;
  value: unknown;
  where: Where;
  /** Where it is written in the file (only when `where` is `file`). */
  path?: JsonPath;
  /** Shown after the value instead of the provenance, e.g. `4·hiddenSize`. */
  note?: string;
  /** Shown between the value and its provenance: `groups 4 of the gffn module (from groupbert-base)`. */
  of?: string;
}

export function getIn(root: unknown, path: JsonPath): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

class Checker {
  readonly findings: SemanticFinding[] = [];
  readonly preset: PresetName | undefined;
  readonly presetFile: SpecFile | undefined;

  constructor(readonly file: SpecFile) {
    this.preset = isPresetName(file.extends) ? file.extends : undefined;
    this.presetFile = this.preset ? PRESETS[this.preset] : undefined;
  }

  /** A value at `path` of the file, else of the preset, else `resolved` as a default. */
  val(path: JsonPath, resolved: unknown, name = pathLabel(path)): Val {
    const inFile = getIn(this.file, path);
    if (inFile !== undefined) return { name, value: inFile, where: 'file', path };
    const inPreset = this.presetFile ? getIn(this.presetFile, path) : undefined;
    if (inPreset !== undefined) return { name, value: inPreset, where: 'preset' };
    return { name, value: resolved, where: 'default' };
  }

  /** The raw module spec behind `layer.modules[i]`, and its path in the file if it is written there. */
  rawModule(spec: ResolvedSpec, layer: number, i: number): { raw: Record<string, unknown>; source?: JsonPath } {
    const source = spec.model.layers[layer]?.sources[i];
    if (source) {
      const raw = getIn(this.file, source);
      return { raw: isRecord(raw) ? raw : {}, source };
    }
    const presetModule = this.presetFile ? getIn(this.presetFile, ['model', 'layer', 'modules', i]) : undefined;
    return { raw: isRecord(presetModule) ? presetModule : {} };
  }

  /** A module field: written in the module (file or preset), else `fallback`. */
  moduleVal(raw: Record<string, unknown>, source: JsonPath | undefined, key: string, fallback: Val, of?: string): Val {
    const v = raw[key];
    const ofPart = of === undefined ? {} : { of };
    if (v === undefined) return fallback.where === 'default' && fallback.name === key ? { ...fallback, ...ofPart } : fallback;
    return source ? { name: key, value: v, where: 'file', path: [...source, key], ...ofPart } : { name: key, value: v, where: 'preset', ...ofPart };
  }

  /**
   * Records a finding pointed at the first of `candidates` written in the file (else at `extends`, else at the
   * file). `build` writes the message with `L(v)` rendering a value with its provenance; when the finding
   * points at `extends`, the message starts "<preset> sets …".
   */
  emit(
    severity: Severity,
    code: string,
    candidates: Val[],
    mentioned: Val[],
    build: (L: (v: Val) => string, target: Val | undefined) => string,
    forcePath?: JsonPath,
    /** Tried after `extends`: values to point at when the preset is not to blame. */
    after: Val[] = [],
  ): void {
    const preset = this.preset;
    const inFile = (list: Val[]) => list.find((c) => c.where === 'file' && c.path);
    const target = forcePath ? undefined : (inFile(candidates) ?? (preset === undefined ? inFile(after) : undefined));
    const atExtends = !forcePath && !target && preset !== undefined;
    const L = (v: Val): string => {
      const base = `${v.name} ${fmt(v.value)}${v.of ? ` of ${v.of}` : ''}`;
      if (v.note) return `${base} (${v.note})`;
      if (v.where === 'preset') return atExtends ? base : `${base} (from ${preset})`;
      if (v.where === 'default') return `${base} (default)`;
      return base;
    };
    let message = build(L, target);
    if (atExtends) {
      const set = mentioned.filter((v) => v.where === 'preset').map((v) => `${v.name} ${fmt(v.value)}`);
      if (set.length > 0) message = `${preset} sets ${orList(set).replace(/ or ([^,]*)$/, ' and $1')}: ${message}`;
    }
    this.findings.push({ severity, code, message, path: forcePath ?? target?.path ?? (atExtends ? ['extends'] : []) });
  }
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y > 0) [x, y] = [y, x % y];
  return x;
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

const MODULE_ARTICLE: Record<ResolvedModule['type'], string> = { attention: 'the attention', conv: 'the conv', gffn: 'the gffn', ffn: 'the ffn' };

function moduleWhere(type: ResolvedModule['type'], source: JsonPath | undefined): string {
  return source ? `${MODULE_ARTICLE[type]} module at ${pathLabel(source)}` : `${MODULE_ARTICLE[type]} module`;
}

// ---------------------------------------------------------------------------------------------------------
// Layer overrides (checked before resolving, which would otherwise expand absurd ranges)

interface LayerRange {
  from: number;
  to: number;
}

/** The ranges of a selection, without expanding them; `undefined` if malformed. Backwards ranges are kept. */
export function selectionRanges(selection: unknown): LayerRange[] | undefined {
  if (Array.isArray(selection)) {
    return selection.every((i) => Number.isInteger(i) && i >= 0) ? (selection as number[]).map((i) => ({ from: i, to: i })) : undefined;
  }
  if (typeof selection !== 'string') return undefined;
  const out: LayerRange[] = [];
  for (const part of selection.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    out.push({ from, to: m[2] === undefined ? from : Number(m[2]) });
  }
  return out;
}

function rangesText(ranges: LayerRange[]): string {
  const parts = ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`));
  return parts.length > 6 ? `${parts.slice(0, 6).join(', ')}, …` : parts.join(', ');
}

/**
 * Checks `model.layerOverrides` of the file against the number of layers, and returns a copy of the file whose
 * overrides name only existing layers (as index lists), safe and cheap to resolve.
 */
export function checkLayerOverrides(file: SpecFile): { findings: SemanticFinding[]; file: SpecFile } {
  const checker = new Checker(file);
  const overrides = file.model?.layerOverrides;
  if (!overrides || overrides.length === 0) return { findings: [], file };
  const numLayers = checker.val(['model', 'numLayers'], 12, 'numLayers');
  const n = Number(numLayers.value);
  const sanitized = overrides.map((override, o) => {
    const path: JsonPath = ['model', 'layerOverrides', o, 'layers'];
    const ranges = selectionRanges(override.layers) ?? [];
    const backwards = ranges.filter((r) => r.to < r.from);
    if (backwards.length > 0) {
      const b = backwards[0] as LayerRange;
      checker.findings.push({
        severity: 'error',
        code: 'invalid-layer-range',
        message: `layerOverrides[${o}].layers: the range ${b.from}-${b.to} runs backwards; write "${b.to}-${b.from}"`,
        path,
      });
    }
    const forward = ranges.filter((r) => r.to >= r.from);
    const outside = forward.filter((r) => r.to >= n).map((r) => ({ from: Math.max(r.from, n), to: r.to }));
    if (outside.length > 0) {
      const last = n - 1;
      checker.emit(
        'error',
        'override-out-of-range',
        [],
        [numLayers],
        (L) => {
          const count = outside.reduce((s, r) => s + (r.to - r.from + 1), 0);
          return (
            `layerOverrides[${o}].layers names ${count === 1 ? 'layer' : 'layers'} ${rangesText(outside)}, but ${L(numLayers)} ` +
            `means ${last === 0 ? 'layer 0 only' : `layers 0–${last} only`} (they count from 0); name layers up to ${last}, or raise numLayers to ${Math.min(1024, outside.reduce((mx, r) => Math.max(mx, r.to), 0) + 1)}`
          );
        },
        path,
      );
    }
    const indices: number[] = [];
    for (const r of forward) for (let i = r.from; i <= Math.min(r.to, n - 1); i++) indices.push(i);
    return { ...override, layers: indices.length > 0 ? indices : [] };
  });
  const model = { ...file.model, layerOverrides: sanitized as typeof overrides };
  return { findings: checker.findings, file: { ...file, model } };
}

// ---------------------------------------------------------------------------------------------------------
// Checks on the resolved spec

function layersText(indices: number[], total: number): string {
  if (indices.length === total && total > 1) return `all ${total} layers`;
  return indices.length === 1 ? `layer ${indices[0]}` : `layers ${formatIndexList(indices)}`;
}

function modulesArrayPath(source: JsonPath | undefined): JsonPath | undefined {
  return source ? source.slice(0, -1) : undefined;
}

export function checkSemantics(file: SpecFile, spec: ResolvedSpec, options: SemanticOptions = {}): SemanticFinding[] {
  const c = new Checker(file);
  const m = spec.model;
  const hidden = c.val(['model', 'hiddenSize'], m.hiddenSize, 'hiddenSize');
  const numHeads = c.val(['model', 'numHeads'], m.numHeads, 'numHeads');
  const modelInter = c.val(['model', 'intermediateSize'], m.intermediateSize, 'intermediateSize');
  if (modelInter.where === 'default') modelInter.note = '4·hiddenSize';
  const H = m.hiddenSize;

  // Per-module checks. Modules repeat across layers; identical findings are merged by the caller.
  const seen = new Set<string>();
  m.layers.forEach((layer, l) => {
    layer.modules.forEach((mod, i) => {
      const { raw, source } = c.rawModule(spec, l, i);
      const key = `${source ? pathLabel(source) : `preset:${i}`}`;
      if (seen.has(key)) return;
      seen.add(key);
      const where = moduleWhere(mod.type, source);
      switch (mod.type) {
        case 'attention': {
          const heads = c.moduleVal(raw, source, 'heads', numHeads, where);
          if (H % mod.heads === 0) break;
          const mult = nearestMultiples(H, mod.heads, 1, 65536);
          const divs = nearestDivisors(H, mod.heads, 1, 256);
          const headSize = Number((H / mod.heads).toFixed(2));
          c.emit('error', 'heads-divisibility', [heads.path && heads !== numHeads ? heads : undefined, hidden, numHeads].filter((v): v is Val => !!v), [hidden, heads], (L, t) => {
            if (t === heads || (t === numHeads && heads === numHeads)) {
              return `${L(heads)} does not divide ${L(hidden)}: the head size would be ${headSize}; use ${orList(divs)}${mult.length ? `, or set hiddenSize to ${orList(mult)}` : ''}`;
            }
            return `${L(hidden)} is not divisible by ${L(heads)}: the head size would be ${headSize}; use ${orList(mult)}${divs.length ? `, or set ${heads.name} to ${orList(divs)}` : ''}`;
          });
          break;
        }
        case 'conv': {
          const cpg = c.moduleVal(raw, source, 'channelsPerGroup', { name: 'channelsPerGroup', value: 16, where: 'default' }, where);
          if (H % mod.channelsPerGroup !== 0) {
            const mult = nearestMultiples(H, mod.channelsPerGroup, 1, 65536);
            const divs = nearestDivisors(H, mod.channelsPerGroup, 1, 8192);
            c.emit('error', 'conv-group-divisibility', [cpg, hidden], [hidden, cpg], (L, t) => {
              if (t === cpg) {
                return `${L(cpg)} does not divide ${L(hidden)}: the channels must split into equal groups; use ${orList(divs)}${mult.length ? `, or set hiddenSize to ${orList(mult)}` : ''}`;
              }
              return `${L(hidden)} is not divisible by ${L(cpg)}: the channels must split into equal groups; use ${orList(mult)}${divs.length ? `, or set channelsPerGroup to ${orList(divs)}` : ''}`;
            });
          }
          const kernel = c.moduleVal(raw, source, 'kernelSize', { name: 'kernelSize', value: 7, where: 'default' }, where);
          const padding = c.moduleVal(raw, source, 'padding', { name: 'padding', value: 'same', where: 'default' });
          if (mod.padding === 'same' && mod.kernelSize % 2 === 0) {
            const odd = [mod.kernelSize - 1, mod.kernelSize + 1].filter((k) => k >= 1 && k <= 129);
            c.emit('error', 'even-kernel-same-padding', [kernel, padding], [kernel, padding], (L) => {
              return `${L(kernel)} is even, but ${L(padding)} centres the window on each token and needs an odd kernel; use ${orList(odd)}, or set "padding": "causal"`;
            });
          }
          break;
        }
        case 'gffn': {
          const groups = c.moduleVal(raw, source, 'groups', { name: 'groups', value: 4, where: 'default' }, where);
          const inter = c.moduleVal(raw, source, 'intermediateSize', modelInter);
          const G = mod.groups;
          const I = mod.intermediateSize;
          if (I % G !== 0 && H % G !== 0 && groups.where === 'file') {
            // Neither divides: one message, at the groups value, with divisors of both.
            const divs = nearestDivisors(gcd(I, H), G, 1, 64);
            c.emit('error', 'gffn-group-divisibility', [groups], [groups, inter, hidden], (L) => {
              return `${L(groups)} divides neither ${L(inter)} nor ${L(hidden)}: the down-projection splits the intermediate into equal groups, each giving hiddenSize/groups outputs; use ${orList(divs)}`;
            });
            break;
          }
          if (I % G !== 0) {
            // A module's own intermediateSize first (it was written for this module), then its groups.
            const candidates = [...(inter !== modelInter ? [inter] : []), groups, inter, ...(inter === modelInter && modelInter.where === 'default' ? [hidden] : [])];
            const mult = nearestMultiples(mod.intermediateSize, G, 1, 1_000_000);
            const divs = nearestDivisors(mod.intermediateSize, G, 1, 64);
            c.emit('error', 'gffn-group-divisibility', candidates, [inter, groups], (L, t) => {
              if (t === groups) {
                return `${L(groups)} does not divide ${L(inter)}: the down-projection splits the intermediate into equal groups; use ${orList(divs)}`;
              }
              return `${L(inter)} is not divisible by ${L(groups)}: the down-projection splits it into equal groups; use ${orList(mult)}${divs.length ? `, or set groups to ${orList(divs)}` : ''}`;
            });
          }
          if (H % G !== 0) {
            const mult = nearestMultiples(H, G, 1, 65536);
            const divs = nearestDivisors(H, G, 1, 64);
            c.emit('error', 'gffn-group-divisibility', [groups, hidden], [hidden, groups], (L, t) => {
              if (t === groups) return `${L(groups)} does not divide ${L(hidden)}: each group outputs hiddenSize/groups channels; use ${orList(divs)}`;
              return `${L(hidden)} is not divisible by ${L(groups)}: each group outputs hiddenSize/groups channels; use ${orList(mult)}${divs.length ? `, or set groups to ${orList(divs)}` : ''}`;
            });
          }
          break;
        }
        case 'ffn':
          break;
      }
    });
  });

  // Token mixing per layer, grouped by the module list the layers share.
  type Group = { path: JsonPath | undefined; layers: number[]; kernel: number };
  const noMixing = new Map<string, Group>();
  const convOnly = new Map<string, Group>();
  for (const layer of m.layers) {
    const hasAttention = layer.modules.some((x) => x.type === 'attention');
    const convs = layer.modules.filter((x): x is Extract<ResolvedModule, { type: 'conv' }> => x.type === 'conv');
    if (hasAttention) continue;
    const arrayPath = modulesArrayPath(layer.sources[0]);
    const key = arrayPath ? pathLabel(arrayPath) : 'preset';
    const map = convs.length === 0 ? noMixing : convOnly;
    const entry = map.get(key) ?? { path: arrayPath, layers: [], kernel: convs.reduce((s, x) => s + x.kernelSize - 1, 0) };
    entry.layers.push(layer.index);
    map.set(key, entry);
  }
  for (const { path, layers } of noMixing.values()) {
    c.findings.push({
      severity: 'error',
      code: 'no-token-mixing',
      message: `${layersText(layers, m.numLayers)} ${layers.length === 1 ? 'has' : 'have'} no token-mixing module (neither attention nor conv), so no token sees any other there; add { "type": "attention" } (global) or { "type": "conv" } (local) to ${path ? pathLabel(path) : 'the module list'}`,
      path: path ?? (c.preset ? ['extends'] : []),
    });
  }
  for (const { path, layers, kernel } of convOnly.values()) {
    c.findings.push({
      severity: 'info',
      code: 'conv-without-attention',
      message: `${layersText(layers, m.numLayers)} ${layers.length === 1 ? 'mixes' : 'mix'} tokens only by convolution (no attention): each such layer widens the context by ${kernel} tokens, with no global view; fine for an ablation, or add { "type": "attention" } to ${path ? pathLabel(path) : 'the module list'}`,
      path: path ?? (c.preset ? ['extends'] : []),
    });
  }

  // Sequence length and vocabulary.
  const t = spec.training;
  const seq = c.val(['training', 'sequenceLength'], t.sequenceLength, 'training.sequenceLength');
  const maxPos = c.val(['model', 'maxPositions'], m.maxPositions, 'model.maxPositions');
  if (t.sequenceLength > m.maxPositions) {
    c.emit('error', 'sequence-too-long', [seq, maxPos], [seq, maxPos], (L, target) => {
      if (target === maxPos) {
        return `${L(maxPos)} is below ${L(seq)}: positions past ${m.maxPositions - 1} have no embedding; raise maxPositions to ${t.sequenceLength} or set training.sequenceLength to at most ${m.maxPositions}`;
      }
      return `${L(seq)} exceeds ${L(maxPos)}: positions past ${m.maxPositions - 1} have no embedding; use at most ${m.maxPositions}, or raise model.maxPositions to ${t.sequenceLength}`;
    });
  }
  const tokVocab = c.val(['training', 'tokenizer', 'vocabSize'], t.tokenizer.vocabSize, 'training.tokenizer.vocabSize');
  const modelVocab = c.val(['model', 'vocabSize'], m.vocabSize, 'model.vocabSize');
  if (t.tokenizer.vocabSize > m.vocabSize) {
    c.emit('error', 'tokenizer-vocab-too-large', [tokVocab, modelVocab], [tokVocab, modelVocab], (L, target) => {
      if (target === modelVocab) {
        return `${L(modelVocab)} is below ${L(tokVocab)}: token ids past ${m.vocabSize - 1} would have no embedding; raise it to ${t.tokenizer.vocabSize} or lower the tokenizer's vocabSize`;
      }
      return `${L(tokVocab)} exceeds ${L(modelVocab)}: token ids past ${m.vocabSize - 1} would have no embedding; use at most ${m.vocabSize}, or raise model.vocabSize`;
    });
  }

  // Heads.
  if (m.heads.nsp && !m.heads.pooler) {
    const pooler = c.val(['model', 'heads', 'pooler'], false, 'model.heads.pooler');
    const nsp = c.val(['model', 'heads', 'nsp'], true, 'model.heads.nsp');
    c.emit('error', 'nsp-needs-pooler', [pooler, nsp], [pooler, nsp], (L) => {
      return `${L(nsp)} needs the pooler, but ${L(pooler)}: the next-sentence classifier reads the pooled [CLS] vector; set pooler to true, or nsp to false`;
    });
  }

  // Size and memory, from the cost model.
  let cost: ReturnType<typeof computeCost> | undefined;
  try {
    cost = computeCost(spec);
  } catch {
    cost = undefined;
  }
  if (cost) {
    const numLayers = c.val(['model', 'numLayers'], m.numLayers, 'numLayers');
    const params = cost.totals.params;
    const everyLimit = largestHardLimitBytes(options.machine);
    if (params > MAX_SENSIBLE_PARAMS) {
      // An error, not a warning: nothing could build it, so `convbert validate` must fail (it used to pass with exit 0).
      const vocab = c.val(['model', 'vocabSize'], m.vocabSize, 'vocabSize');
      c.emit('error', 'model-too-large', [hidden, numLayers, modelInter, vocab], [hidden, numLayers], (L) => {
        return `the model would have ${count(params)} parameters (${L(hidden)}, ${L(numLayers)}), far beyond what this tool can build or train (over 100 B); reduce hiddenSize (parameters grow with its square) or numLayers`;
      });
    } else if (everyLimit !== undefined && cost.memory.totalBytes > everyLimit) {
      // Over every backend's hard limit on this machine: no setting trains it, so it is an error at the value to change.
      const mem = cost.memory;
      const fixed = mem.weightsBytes + mem.gradientBytes + mem.optimizerBytes;
      const widest = (options.machine?.memoryBytes ?? 0) > (hardLimitBytes('wasm') ?? 0) ? 'cpu' : 'wasm';
      const fit = trainingFit(spec, widest, Math.floor(everyLimit / 2 ** 20), options.machine);
      const limits = `wasm's ${formatLimit(hardLimitBytes('wasm') ?? 0)} and the machine's ${mebibytes(options.machine?.memoryBytes ?? 0)} (the most cpu and tfjs-node can use)`;
      const batch = c.val(['training', 'batchSize'], t.batchSize, 'training.batchSize');
      const tooBig = fixed > everyLimit;
      c.emit(
        'error',
        'memory-over-every-backend',
        tooBig ? [hidden, numLayers] : [batch, seq],
        [hidden, numLayers, batch, seq],
        (L) => {
          const what = tooBig
            ? `the weights, gradients and optimizer state of ${count(params)} parameters alone take ${mebibytes(fixed)} (${L(hidden)}, ${L(numLayers)})`
            : `${mebibytes(fixed)} of weights, gradients and optimizer state plus ${mebibytes(mem.activationBytes)} of activations at ${L(batch)} × ${L(seq)}`;
          return `estimated training memory ${mebibytes(mem.totalBytes)} is over every backend's hard limit, ${limits}: ${what}; ${fit.suggestions.join('; ')}`;
        },
        undefined,
        [hidden, numLayers],
      );
    } else {
      const budgetMiB = options.memoryBudgetMiB ?? t.memoryBudgetMiB;
      const total = cost.memory.totalBytes;
      if (Number.isFinite(budgetMiB) && total > budgetMiB * 2 ** 20) {
        const mem = cost.memory;
        const fixed = mem.weightsBytes + mem.gradientBytes + mem.optimizerBytes;
        const budgetVal = c.val(['training', 'memoryBudgetMiB'], budgetMiB, 'training.memoryBudgetMiB');
        const budgetText =
          options.memoryBudgetMiB !== undefined
            ? `the ${budgetMiB} MiB budget set by the editor or command line`
            : budgetVal.where === 'default'
              ? `the default ${budgetMiB} MiB budget (wasm can use at most ${formatLimit(hardLimitBytes('wasm') ?? 0)})`
              : `the ${budgetMiB} MiB budget of training.memoryBudgetMiB${budgetVal.where === 'preset' ? ` (from ${c.preset})` : ''}`;
        const head = `estimated training memory ${mebibytes(total)} is over ${budgetText}`;
        if (fixed > budgetMiB * 2 ** 20) {
          c.emit('warning', 'memory-over-budget', [hidden, numLayers], [hidden, numLayers], (L) => {
            return `${head}: the weights, gradients and optimizer state of ${count(cost.totals.params)} parameters alone take ${mebibytes(fixed)} (${L(hidden)}, ${L(numLayers)}); choose a smaller model or raise training.memoryBudgetMiB`;
          });
        } else {
          const batch = c.val(['training', 'batchSize'], t.batchSize, 'training.batchSize');
          const budgetInFile = options.memoryBudgetMiB === undefined && budgetVal.where === 'file' ? [budgetVal] : [];
          c.emit(
            'warning',
            'memory-over-budget',
            [batch, seq, ...budgetInFile],
            [hidden, numLayers, batch, seq],
            (L) => {
              return `${head}: ${mebibytes(fixed)} of weights, gradients and optimizer state plus ${mebibytes(mem.activationBytes)} of activations at ${L(batch)} × ${L(seq)}; lower batchSize (raising gradientAccumulation keeps the effective batch) or sequenceLength, or raise training.memoryBudgetMiB`;
            },
            undefined,
            [hidden, numLayers],
          );
        }
      }
    }
  }
  return c.findings;
}
