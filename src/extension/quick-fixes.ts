/**
 * Quick fixes for the validator's diagnostics, where the fix is obvious. The candidates come from the message
 * itself (semantic.ts writes them as "…; use 768 or 776, or set numHeads to 8 or 16"), so the editor offers
 * exactly what the message says. Pure: `(text, diagnostic) → fixes` with text edits; `code-actions.ts` turns
 * them into `vscode.CodeAction`s.
 */
import { modify, parseTree, findNodeAtLocation, type Edit } from 'jsonc-parser';
import type { Diagnostic, JsonPath } from '../core/spec/diagnostics';

export interface QuickFix {
  title: string;
  edits: Edit[];
  /** The fix the editor offers first (Ctrl+. then Enter). */
  preferred?: boolean;
  /** The diagnostic code it fixes. */
  code: string;
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
  const add = (title: string, edits: Edit[], preferred = false) => {
    if (edits.length > 0) out.push({ title, edits, code: d.code, ...(preferred ? { preferred: true } : {}) });
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
        values.forEach((v, i) => add(`Set ${primaryName} to ${v}`, setValue(text, primaryPath as JsonPath, v), i === 0));
      }
      if (other) {
        const path = pathOfName(other.name, atExtends ? [] : d.path);
        if (path) for (const v of other.values) add(`Set ${other.name} to ${v}`, setValue(text, path, v));
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

/** Applies edits to a text (for tests and previews). Edits must not overlap. */
export function applyEdits(text: string, edits: Edit[]): string {
  return [...edits].sort((a, b) => b.offset - a.offset).reduce((t, e) => t.slice(0, e.offset) + e.content + t.slice(e.offset + e.length), text);
}
