/**
 * Quick fixes for the validator's diagnostics, where the fix is obvious. The candidates come from the message
 * itself (semantic.ts writes them as "…; use 768 or 776, or set numHeads to 8 or 16"), so the editor offers
 * exactly what the message says — a module property the preset sets ("set channelsPerGroup to 10") is written
 * into the file with the preset's module list. Pure: `(text, diagnostic) → fixes` with text edits;
 * `rankFixes` merges the fixes of the diagnostics at one place into one list without duplicates, ordered by the
 * errors each leaves (the text re-validated with the fix applied), and `providers.ts` turns them into
 * `vscode.CodeAction`s.
 */
import { modify, parse, parseTree, findNodeAtLocation, type Edit } from 'jsonc-parser';
import type { Diagnostic, JsonPath } from '../core/spec/diagnostics';
import { PRESETS, isPresetName, type ModuleSpec } from '../core/spec';

export interface QuickFix {
  title: string;
  edits: Edit[];
  /** The fix the editor offers first (Ctrl+. then Enter). */
  preferred?: boolean;
  /** The diagnostic code it fixes. */
  code: string;
  /** For a fix that sets one number: the distance from the value it replaces (ranks "the nearest value"). */
  distance?: number;
}

export const FIXABLE_CODES = new Set([
  'heads-divisibility',
  'conv-group-divisibility',
  'gffn-group-divisibility',
  'even-kernel-same-padding',
  'sequence-too-long',
  'nsp-needs-pooler',
  'unknown-property',
  'invalid-value',
  'unknown-module-type',
]);

const MODULE_KEYS = new Set(['heads', 'kernelSize', 'channelsPerGroup', 'groups', 'intermediateSize', 'padding', 'type']);
const MODEL_KEYS: Record<string, JsonPath> = {
  hiddenSize: ['model', 'hiddenSize'],
  numHeads: ['model', 'numHeads'],
  maxPositions: ['model', 'maxPositions'],
};

/** "768, 776 or 784" → [768, 776, 784]. */
export function parseNumberList(text: string): number[] {
  return text
    .split(/,\s*|\s+or\s+/)
    .map((s) => s.trim())
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** The candidates a divisibility message offers: for its own value, and for another property it names. */
export function parseCandidates(message: string): { values: number[]; other?: { name: string; values: number[] } } {
  const m = /; use ([\d, or]+?)(?:, or set (\w+) to ([\d, or]+?))?(?:, or set "padding": "causal")?$/.exec(message);
  if (!m) return { values: [] };
  const values = parseNumberList(m[1] as string);
  if (m[2] && m[3]) return { values, other: { name: m[2], values: parseNumberList(m[3]) } };
  return { values };
}

/** The module entry path if `path` is a property of a layer module (`…modules[i].key`). */
function modulePathOf(path: JsonPath): JsonPath | undefined {
  const n = path.length;
  return n >= 3 && path[n - 3] === 'modules' && typeof path[n - 2] === 'number' && typeof path[n - 1] === 'string' ? path.slice(0, -1) : undefined;
}

/** The path of `name` as the message means it, relative to the diagnostic's path. */
function pathOfName(name: string, diagPath: JsonPath): JsonPath | undefined {
  const last = diagPath[diagPath.length - 1];
  if (last === name) return diagPath;
  const mod = modulePathOf(diagPath);
  if (mod && MODULE_KEYS.has(name) && name !== 'intermediateSize') return [...mod, name];
  if (name === 'intermediateSize' && mod) return [...mod, name];
  return MODEL_KEYS[name];
}

function setValue(text: string, path: JsonPath, value: unknown): Edit[] {
  return modify(text, path, value, { formattingOptions: { insertSpaces: true, tabSize: 2, eol: text.includes('\r\n') ? '\r\n' : '\n' } });
}

/** The module type that has each module property a message can name outside the module's own path. */
const MODULE_TYPE_OF: Record<string, ModuleSpec['type']> = { channelsPerGroup: 'conv', kernelSize: 'conv', groups: 'gffn', heads: 'attention' };

/** One edit that turns `before` into `after` (the changed middle). */
function diffEdit(before: string, after: string): Edit[] {
  if (before === after) return [];
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  return [{ offset: start, length: before.length - start - end, content: after.slice(start, after.length - end) }];
}

/**
 * Sets `key` on every module of its type: on each module the file writes (layer template and overrides), and,
 * when the layer template is the preset's, by writing the preset's module list with the value changed (a list in
 * the file replaces the preset's). Empty when no module of that type is there.
 */
function setOnModules(text: string, key: string, value: number): Edit[] {
  const type = MODULE_TYPE_OF[key];
  const file = parse(text, [], { allowTrailingComma: true }) as { extends?: unknown; model?: { layer?: { modules?: unknown }; layerOverrides?: unknown } } | undefined;
  if (!type || !file || typeof file !== 'object') return [];
  let after = text;
  const setAll = (modules: unknown, base: JsonPath) => {
    if (!Array.isArray(modules)) return;
    modules.forEach((m, i) => {
      if (m && typeof m === 'object' && (m as { type?: unknown }).type === type) after = applyEdits(after, setValue(after, [...base, i, key], value));
    });
  };
  const own = file.model?.layer?.modules;
  if (own !== undefined) setAll(own, ['model', 'layer', 'modules']);
  else if (isPresetName(file.extends)) {
    const inherited = PRESETS[file.extends].model?.layer?.modules ?? [];
    if (inherited.some((m) => m.type === type)) {
      const modules = inherited.map((m) => (m.type === type ? { ...m, [key]: value } : m));
      after = applyEdits(after, setValue(after, ['model', 'layer', 'modules'], modules));
    }
  }
  const overrides = file.model?.layerOverrides;
  if (Array.isArray(overrides)) overrides.forEach((o, i) => setAll((o as { modules?: unknown } | null)?.modules, ['model', 'layerOverrides', i, 'modules']));
  return diffEdit(text, after);
}

/** The number at `path` in the text, if there is one. */
function numberAt(text: string, path: JsonPath): number | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const node = root ? findNodeAtLocation(root, path) : undefined;
  return node?.type === 'number' ? (node.value as number) : undefined;
}

/** The first word of a divisibility message after an optional "<preset> sets …: " prefix: the target's name. */
function targetName(message: string): string | undefined {
  const body = message.replace(/^[\w-]+ sets [^:]*: /, '');
  return /^(\w+)/.exec(body)?.[1];
}

function replaceRange(d: Diagnostic, content: string): Edit[] {
  return [{ offset: d.range.offset, length: d.range.length, content }];
}

export function quickFixes(text: string, d: Diagnostic): QuickFix[] {
  const out: QuickFix[] = [];
  const add = (title: string, edits: Edit[], preferred = false, distance?: number) => {
    if (edits.length > 0) out.push({ title, edits, code: d.code, ...(preferred ? { preferred: true } : {}), ...(distance !== undefined ? { distance } : {}) });
  };
  const distanceAt = (path: JsonPath, v: number): number | undefined => {
    const current = numberAt(text, path);
    return current === undefined ? undefined : Math.abs(v - current);
  };
  switch (d.code) {
    case 'heads-divisibility':
    case 'conv-group-divisibility':
    case 'gffn-group-divisibility':
    case 'even-kernel-same-padding': {
      const { values, other } = parseCandidates(d.message);
      const atExtends = d.path.length === 1 && d.path[0] === 'extends';
      let primaryName: string | undefined;
      let primaryPath: JsonPath | undefined;
      if (d.code === 'even-kernel-same-padding') {
        const mod = modulePathOf(d.path);
        primaryName = 'kernelSize';
        primaryPath = mod ? [...mod, 'kernelSize'] : undefined;
      } else if (atExtends || d.path.length === 0) {
        primaryName = targetName(d.message);
        primaryPath = primaryName ? MODEL_KEYS[primaryName] : undefined;
      } else {
        primaryName = String(d.path[d.path.length - 1]);
        primaryPath = d.path;
      }
      if (primaryPath && primaryName) {
        values.forEach((v, i) => add(`Set ${primaryName} to ${v}`, setValue(text, primaryPath as JsonPath, v), i === 0, distanceAt(primaryPath as JsonPath, v)));
      }
      if (other) {
        const path = pathOfName(other.name, atExtends ? [] : d.path);
        for (const v of other.values) {
          if (path) add(`Set ${other.name} to ${v}`, setValue(text, path, v), false, distanceAt(path, v));
          else add(`Set ${other.name} to ${v}`, setOnModules(text, other.name, v));
        }
      }
      if (d.code === 'even-kernel-same-padding') {
        const mod = modulePathOf(d.path);
        if (mod) add('Use "causal" padding', setValue(text, [...mod, 'padding'], 'causal'));
      }
      return out;
    }
    case 'sequence-too-long': {
      const m = /use at most (\d+)/.exec(d.message) ?? /set training\.sequenceLength to at most (\d+)/.exec(d.message);
      const raise = /raise (?:model\.)?maxPositions to (\d+)/.exec(d.message);
      if (m) add(`Set training.sequenceLength to ${m[1]}`, setValue(text, ['training', 'sequenceLength'], Number(m[1])), true);
      if (raise) add(`Set model.maxPositions to ${raise[1]}`, setValue(text, ['model', 'maxPositions'], Number(raise[1])));
      return out;
    }
    case 'nsp-needs-pooler':
      add('Turn the pooler on', setValue(text, ['model', 'heads', 'pooler'], true), true);
      add('Turn the NSP head off', setValue(text, ['model', 'heads', 'nsp'], false));
      return out;
    case 'unknown-property': {
      const guess = /did you mean "([^"]+)"\?/.exec(d.message)?.[1];
      if (guess) add(`Rename to "${guess}"`, replaceRange(d, JSON.stringify(guess)), true);
      return out;
    }
    case 'invalid-value':
    case 'unknown-module-type': {
      const guess = /[Dd]id you mean "([^"]+)"\?/.exec(d.message)?.[1];
      const root = parseTree(text, [], { allowTrailingComma: true });
      const node = root ? findNodeAtLocation(root, d.path) : undefined;
      if (guess && node?.type === 'string') add(`Change to "${guess}"`, [{ offset: node.offset, length: node.length, content: JSON.stringify(guess) }], true);
      return out;
    }
    default:
      return out;
  }
}

/** A fix for the diagnostics at one place, with the diagnostics it came from and the errors it leaves. */
export interface RankedFix extends QuickFix {
  /** The diagnostics that offered it (one fix can answer several). */
  sources: Diagnostic[];
  /** Errors in the text with the fix applied. */
  errorsLeft: number;
}

/**
 * The fixes of several diagnostics at one place as one list: duplicates (the same resulting text) merged, then
 * ordered by the errors each leaves (`countErrors` re-validates the fixed text), the fixes of the diagnostic's own
 * value before those of another property, and the nearest value first. The first is preferred when it leaves
 * fewer errors than there are now.
 */
export function rankFixes(text: string, diagnostics: Diagnostic[], countErrors: (text: string) => number): RankedFix[] {
  const byResult = new Map<string, RankedFix & { order: number; primary: boolean }>();
  for (const d of diagnostics) {
    quickFixes(text, d).forEach((fix, i) => {
      const after = applyEdits(text, fix.edits);
      const seen = byResult.get(after);
      if (seen) {
        if (!seen.sources.includes(d)) seen.sources.push(d);
        return;
      }
      const { preferred: _, ...rest } = fix;
      void _;
      const primary = fix.distance !== undefined && new RegExp(`^Set ${String(d.path[d.path.length - 1])} to `).test(fix.title);
      byResult.set(after, { ...rest, sources: [d], errorsLeft: countErrors(after), order: byResult.size * 1000 + i, primary });
    });
  }
  const now = countErrors(text);
  const ranked = [...byResult.values()].sort(
    (a, b) => a.errorsLeft - b.errorsLeft || Number(b.primary) - Number(a.primary) || (a.distance ?? Infinity) - (b.distance ?? Infinity) || a.order - b.order,
  );
  return ranked.map(({ order: _o, primary: _p, ...fix }, i) => ({ ...fix, ...(i === 0 && fix.errorsLeft < now ? { preferred: true } : {}) }));
}

/** Applies edits to a text (for tests and previews). Edits must not overlap. */
export function applyEdits(text: string, edits: Edit[]): string {
  return [...edits].sort((a, b) => b.offset - a.offset).reduce((t, e) => t.slice(0, e.offset) + e.content + t.slice(e.offset + e.length), text);
}
