/**
 * `validateSpecText`: from the text of a `*.convbert.json` file to diagnostics with exact source ranges, and —
 * when there are no errors — the resolved spec.
 *
 * 1. Syntax: jsonc-parser (comments and trailing commas allowed); every syntax error becomes a diagnostic.
 * 2. Schema: ajv compiles `schemaJson()` once; its errors are collapsed (if/then, anyOf, the module
 *    discriminator) to one message per problem, worded from the schema's `errorMessage`/`patternErrorMessage`,
 *    with close-match suggestions, and placed on the key or value the user should edit.
 * 3. Semantics (`semantic.ts`), only when the schema passes: divisibility, conv padding, sequence length,
 *    vocabulary, heads, per-layer token mixing, override ranges, model size and training memory.
 *
 * It never throws: whatever the text, the worst outcome is an `internal-error` diagnostic.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { createScanner, getNodePath, parseTree, type Node, type ParseError } from 'jsonc-parser';
import { schemaJson } from '../spec/artifacts';
import {
  closestMatch,
  describeValue,
  formatDiagnostic,
  LineIndex,
  pathLabel,
  plural,
  quotedList,
  type Diagnostic,
  type JsonPath,
  type Range,
  type Severity,
} from '../spec/diagnostics';
import { resolveSpec, type ResolvedSpec } from '../spec/resolve';
import { MODULE_KINDS, type SpecFile } from '../spec/schema';
import { checkLayerOverrides, checkSemantics, type SemanticFinding } from './semantic';
import type { MachineFacts } from '../cost/fit';

export type { Diagnostic, JsonPath, Position, Range, Severity } from '../spec/diagnostics';
export { formatDiagnostic };

export interface ValidationResult {
  diagnostics: Diagnostic[];
  /** The parsed file, set when it passes the schema (no syntax or schema errors). */
  file?: SpecFile;
  /** The resolved spec, set when there are no errors at all (warnings and infos allowed). */
  spec?: ResolvedSpec;
}

export interface ValidateOptions {
  /** Overrides `training.memoryBudgetMiB`. */
  memoryBudgetMiB?: number;
  /** The machine's memory and `auto`'s pick, for the hard-limit check (`machineFacts()` in src/engines/machine.ts). */
  machine?: MachineFacts;
}

/** Validation reports at most this many diagnostics (the last one saying that it stopped). */
export const MAX_DIAGNOSTICS = 200;
/** Arrays and objects nested deeper than this are rejected before parsing (a spec needs 6 levels). */
export const MAX_DEPTH = 128;
/** ajv errors looked at, at most. */
const MAX_SCHEMA_ERRORS = 600;

// ---------------------------------------------------------------------------------------------------------
// The schema validator, compiled once

/**
 * A JSON-with-comments format the machinery below checks: the spec's, and others built on it (the sweep file,
 * core/sweep). `schema` is called once; `noun` names the whole file in messages ("the spec is missing …").
 */
export interface JsoncFormat {
  schema: () => Record<string, unknown>;
  noun: string;
  /** A minimal file, for the messages about an empty file or a root that is not an object. */
  example: string;
}

const SPEC_FORMAT: JsoncFormat = { schema: schemaJson, noun: 'spec', example: '{ "version": 1, "extends": "groupbert-base" }' };

const compiled = new Map<JsoncFormat['schema'], { validate: ValidateFunction; json: Record<string, unknown> }>();

function validator(format: JsoncFormat): ValidateFunction {
  return compiledFormat(format).validate;
}

function compiledFormat(format: JsoncFormat): { validate: ValidateFunction; json: Record<string, unknown> } {
  let entry = compiled.get(format.schema);
  if (!entry) {
    const ajv = new Ajv({ strict: false, allErrors: true, discriminator: true, verbose: true });
    const json = format.schema();
    entry = { validate: ajv.compile(json), json };
    compiled.set(format.schema, entry);
  }
  return entry;
}

/** Property names of every object in the schema, for "did you mean" and "it belongs in …" hints. */
interface Section {
  label: string;
  keys: string[];
}
const sectionsCache = new Map<JsoncFormat['schema'], Section[]>();

function sections(format: JsoncFormat): Section[] {
  const cached = sectionsCache.get(format.schema);
  if (cached) return cached;
  const out: Section[] = [];
  const walk = (node: unknown, label: string): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.properties && typeof n.properties === 'object') {
      const props = n.properties as Record<string, unknown>;
      out.push({ label, keys: Object.keys(props) });
      for (const [k, v] of Object.entries(props)) walk(v, label ? `${label}.${k}` : k);
    }
    if (n.items) walk(n.items, `${label}[]`);
    for (const alt of [...((n.oneOf as unknown[]) ?? []), ...((n.anyOf as unknown[]) ?? [])]) {
      const kind = ((alt as Record<string, Record<string, Record<string, unknown>>>)?.properties?.type?.const as string | undefined) ?? undefined;
      walk(alt, kind ? `${kind} modules` : label);
    }
  };
  walk(compiledFormat(format).json, '');
  const unique = out.filter((s, i) => out.findIndex((o) => o.label === s.label) === i);
  sectionsCache.set(format.schema, unique);
  return unique;
}

// ---------------------------------------------------------------------------------------------------------
// Text → tree → value

/** Offset of the first `[`/`{` nested deeper than `limit` (outside strings and comments), or -1. */
function tooDeepAt(text: string, limit: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34 || d === 10 || d === 13) break;
      }
    } else if (c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      while (i < n && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return i;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      if (depth > 0) depth--;
    }
  }
  return -1;
}

interface Doc {
  text: string;
  lines: LineIndex;
  root: Node | undefined;
}

function keyOf(property: Node): string | undefined {
  const k = property.children?.[0];
  return k && typeof k.value === 'string' ? k.value : undefined;
}

/** The plain value of a node. Later duplicate keys win (as in JSON.parse); duplicates are reported. */
interface Duplicate {
  earlier: Node;
  later: Node;
}

function toValue(node: Node, depth: number, duplicates: Duplicate[]): unknown {
  if (depth > MAX_DEPTH + 2) return null;
  switch (node.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, Node>();
      for (const prop of node.children ?? []) {
        const key = keyOf(prop);
        const valueNode = prop.children?.[1];
        if (key === undefined || !valueNode) continue;
        const earlier = seen.get(key);
        if (earlier) duplicates.push({ earlier, later: prop });
        seen.set(key, prop);
        const value = toValue(valueNode, depth + 1, duplicates);
        // defineProperty: a "__proto__" key stays an ordinary own property instead of setting the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        else out[key] = value;
      }
      return out;
    }
    case 'array':
      return (node.children ?? []).map((child) => toValue(child, depth + 1, duplicates));
    case 'string':
    case 'number':
    case 'boolean':
      return node.value as unknown;
    default:
      return null;
  }
}

/** The value node at `path` (the last of duplicate keys), or undefined. */
function nodeAt(root: Node | undefined, path: JsonPath): Node | undefined {
  let node = root;
  for (const seg of path) {
    if (!node) return undefined;
    if (node.type === 'object' && typeof seg === 'string') {
      node = propertyOf(node, seg)?.children?.[1];
    } else if (node.type === 'array' && typeof seg === 'number') {
      node = node.children?.[seg];
    } else {
      return undefined;
    }
  }
  return node;
}

/** Per object node, its properties by key (the last of duplicates), built on first use. */
const propertyMaps = new WeakMap<Node, Map<string, Node>>();

function propertyOf(object: Node, key: string): Node | undefined {
  let map = propertyMaps.get(object);
  if (!map) {
    map = new Map();
    for (const p of object.children ?? []) {
      const k = keyOf(p);
      if (k !== undefined) map.set(k, p);
    }
    propertyMaps.set(object, map);
  }
  return map.get(key);
}

/** The deepest node that exists along `path`. */
function nearestNode(root: Node | undefined, path: JsonPath): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(root, path.slice(0, n));
    if (node) return node;
  }
  return root;
}

// ---------------------------------------------------------------------------------------------------------
// Collecting diagnostics

class Collector {
  readonly list: Diagnostic[] = [];
  private readonly keys = new Set<string>();
  /** While set, diagnostics at or after this offset are dropped (schema problems past a syntax error). */
  cutoff: number | undefined;

  constructor(readonly doc: Doc) {}

  get full(): boolean {
    return this.list.length >= MAX_DIAGNOSTICS * 2;
  }

  add(severity: Severity, code: string, message: string, path: JsonPath, offset: number, length: number): void {
    if (this.full) return;
    if (this.cutoff !== undefined && offset >= this.cutoff) return;
    const range = this.doc.lines.range(offset, length);
    const key = `${code}\u0000${range.offset}\u0000${range.length}\u0000${message}`;
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.list.push({ severity, code, message, path, range });
  }

  /** At the value at `path` (or the nearest existing ancestor). The root object gets its first character. */
  atValue(severity: Severity, code: string, message: string, path: JsonPath): void {
    const node = nearestNode(this.doc.root, path);
    if (!node || node === this.doc.root) {
      this.add(severity, code, message, path, node?.offset ?? 0, node ? 1 : 0);
      return;
    }
    this.add(severity, code, message, path, node.offset, node.length);
  }

  /** At the key of the property at `path` (its value if it has no key, e.g. an array element). */
  atKey(severity: Severity, code: string, message: string, path: JsonPath): void {
    const node = nodeAt(this.doc.root, path);
    const key = node?.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
    if (key) this.add(severity, code, message, path, key.offset, key.length);
    else this.atValue(severity, code, message, path);
  }

  /** For an object missing something: its key, else the object itself, else (the root) its `{`. */
  atObject(severity: Severity, code: string, message: string, path: JsonPath): void {
    const node = nodeAt(this.doc.root, path);
    if (node && node !== this.doc.root && node.parent?.type !== 'property') {
      this.add(severity, code, message, path, node.offset, node.length);
      return;
    }
    this.atKey(severity, code, message, path);
  }

  finish(): Diagnostic[] {
    const sorted = this.list.map((d, i) => ({ d, i })).sort((a, b) => a.d.range.offset - b.d.range.offset || a.i - b.i).map((x) => x.d);
    if (sorted.length <= MAX_DIAGNOSTICS) return sorted;
    const kept = sorted.slice(0, MAX_DIAGNOSTICS - 1);
    const last = kept[kept.length - 1] as Diagnostic;
    kept.push({
      severity: 'info',
      code: 'too-many-diagnostics',
      message: `stopped after ${MAX_DIAGNOSTICS - 1} problems; fix these and validate again`,
      path: [],
      range: this.doc.lines.range(last.range.offset, 0),
    });
    return kept;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Syntax errors

const SYNTAX_MESSAGES: Record<number, string> = {
  1: 'unexpected text',
  2: 'invalid number',
  3: 'expected a property name in double quotes',
  4: 'expected a value',
  5: 'expected ":" after the property name',
  6: 'expected a comma before this',
  7: 'expected "}" to close the object',
  8: 'expected "]" to close the list',
  9: 'expected the end of the file after the spec object',
  10: 'invalid comment',
  11: 'unterminated /* comment; close it with */',
  12: 'unterminated string; close it with " on the same line',
  13: 'incomplete number',
  14: 'invalid \\u escape: it needs four hex digits',
  15: 'invalid escape; write \\\\ for a backslash',
  16: 'control character in a string; escape it (\\n, \\t)',
};

function syntaxMessage(doc: Doc, e: ParseError): string {
  const token = doc.text.slice(e.offset, e.offset + Math.min(e.length, 60));
  if (e.error === 1) {
    const after = doc.text.slice(e.offset + e.length).trimStart();
    if (/^'.*'$/.test(token)) return `use double quotes: "${token.slice(1, -1)}" instead of ${token}`;
    if (/^[A-Za-z_$][\w$]*$/.test(token) && after.startsWith(':')) return `property names need double quotes: "${token}"`;
    if (/^[+-]?(NaN|Infinity)$/.test(token)) return `${token} is not a JSON number; write a finite number`;
    if (token === 'undefined') return 'undefined is not a JSON value; remove the property or write null';
    return `unexpected ${JSON.stringify(token)}`;
  }
  if (e.error === 2) return `invalid number ${JSON.stringify(token)}`;
  return SYNTAX_MESSAGES[e.error] ?? 'syntax error';
}

function reportSyntax(c: Collector, errors: ParseError[]): void {
  const doc = c.doc;
  const lines = new Set<number>();
  for (const e of errors) {
    if (c.full) return;
    // One syntax error per line: the rest are usually echoes of the first.
    const line = doc.lines.position(e.offset).line;
    if (lines.has(line)) continue;
    lines.add(line);
    c.add('error', 'syntax', syntaxMessage(doc, e), [], e.offset, e.length);
  }
}

function isBlank(text: string): boolean {
  const scanner = createScanner(text, true);
  return scanner.scan() === 17 /* EOF */;
}

// ---------------------------------------------------------------------------------------------------------
// Schema errors → diagnostics

type Schemaish = Record<string, unknown>;

interface Pending {
  err: ErrorObject;
  /** Schema of an enclosing anyOf, whose messages win for errors at the union's own value… */
  union?: Schemaish;
  /** …which is at this instance path. */
  unionPath?: string;
}

function decodePointer(pointer: string, data: unknown): JsonPath {
  if (pointer === '') return [];
  const out: JsonPath = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      const i = Number(seg);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'an object',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function isModulePath(path: JsonPath): boolean {
  return path.length >= 2 && typeof path[path.length - 1] === 'number' && path[path.length - 2] === 'modules';
}

function moduleKind(value: unknown): string | undefined {
  const t = value && typeof value === 'object' ? (value as Record<string, unknown>).type : undefined;
  return typeof t === 'string' && (MODULE_KINDS as readonly string[]).includes(t) ? t : undefined;
}

/** "in model", "at the top level", "in the conv module at model.layer.modules[0]". */
function whereText(path: JsonPath, value: unknown): string {
  if (path.length === 0) return 'at the top level';
  if (isModulePath(path)) {
    const kind = moduleKind(value);
    return kind ? `in the ${kind} module at ${pathLabel(path)}` : `in the module at ${pathLabel(path)}`;
  }
  return `in ${pathLabel(path)}`;
}

function subject(path: JsonPath, noun = 'spec'): string {
  return path.length === 0 ? `the ${noun}` : pathLabel(path);
}

/** Guess a module kind from the properties a module without "type" has. */
function guessKind(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const keys = Object.keys(value);
  const has = (...ks: string[]) => ks.some((k) => keys.includes(k));
  if (has('kernelSize', 'channelsPerGroup', 'padding', 'glu', 'norm', 'bias')) return 'conv';
  if (has('heads', 'qkvBias', 'projectionBias')) return 'attention';
  if (has('groups', 'mixer')) return 'gffn';
  if (has('intermediateSize')) return 'ffn';
  return undefined;
}

/** Keywords about a value itself, best first: only the best one at each value is reported. */
const VALUE_KEYWORD_RANK: Record<string, number> = {
  type: 0,
  anyOf: 1,
  const: 2,
  enum: 2,
  minLength: 3,
  maxLength: 3,
  minimum: 3,
  maximum: 3,
  exclusiveMinimum: 3,
  exclusiveMaximum: 3,
  minItems: 3,
  maxItems: 3,
  pattern: 4,
};

class SchemaReporter {
  constructor(
    private readonly c: Collector,
    private readonly data: unknown,
    /** With syntax errors, "missing" problems are mostly echoes of the broken text, so they are left out. */
    private readonly syntaxBroken: boolean,
    private readonly format: JsoncFormat = SPEC_FORMAT,
  ) {}

  private shown(path: JsonPath, value: unknown): string {
    const node = nodeAt(this.c.doc.root, path);
    const text = node && (node.type === 'number' || node.type === 'boolean') ? this.c.doc.text.slice(node.offset, node.offset + node.length) : undefined;
    return describeValue(value, text);
  }

  report(errors: ErrorObject[]): void {
    const all = errors.slice(0, MAX_SCHEMA_ERRORS).filter((e) => e.keyword !== 'if' && !(this.syntaxBroken && e.keyword === 'required'));
    const pending = this.onePerValue(this.collapseUnions(all));
    const discriminated = new Set(pending.filter((p) => p.err.keyword === 'discriminator').map((p) => p.err.instancePath));
    const required = new Map<string, { err: ErrorObject; props: string[] }>();
    for (const p of pending) {
      if (this.c.full) return;
      const e = p.err;
      if (e.keyword === 'required') {
        const prop = String((e.params as { missingProperty?: unknown }).missingProperty);
        if (prop === 'type' && discriminated.has(e.instancePath)) continue;
        const fromThen = e.schemaPath.startsWith('#/then/');
        const key = `${fromThen ? 'then' : ''}${e.instancePath}`;
        const entry = required.get(key) ?? { err: e, props: [] };
        if (!entry.props.includes(prop)) entry.props.push(prop);
        required.set(key, entry);
        continue;
      }
      this.one(p);
    }
    for (const { err, props } of required.values()) this.missing(err, props);
  }

  /** Keeps one error about each value (its type before its range, its length before its pattern). */
  private onePerValue(pending: Pending[]): Pending[] {
    const best = new Map<string, Pending>();
    const out: Pending[] = [];
    for (const p of pending) {
      const rank = VALUE_KEYWORD_RANK[p.err.keyword];
      if (rank === undefined) {
        out.push(p);
        continue;
      }
      const current = best.get(p.err.instancePath);
      if (!current || rank < (VALUE_KEYWORD_RANK[current.err.keyword] as number)) best.set(p.err.instancePath, p);
    }
    return [...out, ...best.values()];
  }

  /** Replaces each failed anyOf and its branches' errors with the errors of the branch the value's type picks. */
  private collapseUnions(errors: ErrorObject[]): Pending[] {
    const unions = errors.filter((e) => e.keyword === 'anyOf');
    if (unions.length === 0) return errors.map((err) => ({ err }));
    const consumed = new Set<ErrorObject>();
    const out: Pending[] = [];
    for (const u of unions) {
      consumed.add(u);
      const prefix = `${u.schemaPath}/`;
      const branches = new Map<string, ErrorObject[]>();
      const at = u.instancePath;
      for (const e of errors) {
        if (e === u || !e.schemaPath.startsWith(prefix)) continue;
        if (e.instancePath !== at && !e.instancePath.startsWith(`${at}/`)) continue;
        consumed.add(e);
        const branch = e.schemaPath.slice(prefix.length).split('/')[0] as string;
        const list = branches.get(branch) ?? [];
        list.push(e);
        branches.set(branch, list);
      }
      const union = (u.parentSchema ?? {}) as Schemaish;
      const fits = [...branches.values()].filter((list) => !list.some((e) => e.keyword === 'type' && e.instancePath === u.instancePath));
      if (fits.length > 0) for (const e of fits[0] as ErrorObject[]) out.push({ err: e, union, unionPath: u.instancePath });
      else out.push({ err: u, union, unionPath: u.instancePath });
    }
    for (const e of errors) if (!consumed.has(e)) out.push({ err: e });
    return out;
  }

  private one({ err: e, union, unionPath }: Pending): void {
    const path = decodePointer(e.instancePath, this.data);
    const parent = (e.parentSchema ?? {}) as Schemaish;
    const atUnion = union !== undefined && e.instancePath === unionPath;
    const own = (k: string): string | undefined => (typeof parent[k] === 'string' ? (parent[k] as string) : undefined);
    const fromUnion = (k: string): string | undefined => (atUnion && typeof union?.[k] === 'string' ? (union[k] as string) : undefined);
    const value = e.data;
    const what = `${subject(path, this.format.noun)} is ${this.shown(path, value)}`;

    switch (e.keyword) {
      case 'additionalProperties': {
        const prop = String((e.params as { additionalProperty?: unknown }).additionalProperty);
        const allowed = Object.keys((parent.properties ?? {}) as object);
        this.c.atKey('error', 'unknown-property', this.unknownProperty(prop, path, value, allowed), [...path, prop]);
        return;
      }
      case 'discriminator': {
        const params = e.params as { error?: string; tag?: string; tagValue?: unknown };
        const kinds = quotedList(MODULE_KINDS);
        const hasTag = value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, 'type');
        if (params.error === 'mapping' && typeof params.tagValue === 'string') {
          const guess = closestMatch(params.tagValue, MODULE_KINDS);
          const msg = `unknown module type ${describeValue(params.tagValue)}${guess ? `; did you mean "${guess}"?` : '.'} Module types are ${kinds}.`;
          this.c.atValue('error', 'unknown-module-type', msg, [...path, 'type']);
        } else if (hasTag) {
          this.c.atValue('error', 'wrong-type', `"type" of the module at ${pathLabel(path)} is ${this.shown([...path, 'type'], params.tagValue)}; expected a module type: ${kinds}`, [...path, 'type']);
        } else if (!this.syntaxBroken) {
          const guess = guessKind(value);
          const msg = `the module at ${pathLabel(path)} has no "type"; add "type" with one of ${kinds}${guess ? ` (its properties suggest "${guess}")` : ''}`;
          this.c.atObject('error', 'missing-module-type', msg, path);
        }
        return;
      }
      case 'type': {
        if (path.length === 0) {
          this.c.atValue('error', 'wrong-type', `a ${this.format.noun} file is a JSON object, like ${this.format.example}; this one is ${describeValue(value)}`, path);
          return;
        }
        const expected = TYPE_NAMES[String((e.params as { type?: unknown }).type)] ?? String((e.params as { type?: unknown }).type);
        const msg = fromUnion('errorMessage') ?? own('errorMessage') ?? `Expected ${expected}.`;
        const hint = isModulePath(path) && typeof value === 'string' && (MODULE_KINDS as readonly string[]).includes(value) ? ` Write { "type": ${JSON.stringify(value)} }.` : '';
        this.c.atValue('error', 'wrong-type', `${what}. ${msg}${hint}`, path);
        return;
      }
      case 'anyOf': {
        const msg = fromUnion('errorMessage') ?? 'It does not have any of the allowed forms.';
        this.c.atValue('error', 'wrong-type', `${what}. ${msg}`, path);
        return;
      }
      case 'enum':
      case 'const': {
        const allowed = e.keyword === 'enum' ? ((e.params as { allowedValues?: unknown[] }).allowedValues ?? []) : [(e.params as { allowedValue?: unknown }).allowedValue];
        const msg = fromUnion('errorMessage') ?? own('errorMessage') ?? `Expected ${quotedList(allowed)}.`;
        const strings = allowed.filter((v): v is string => typeof v === 'string');
        const guess = typeof value === 'string' ? closestMatch(value, strings) : undefined;
        this.c.atValue('error', 'invalid-value', `${what}. ${msg}${guess ? ` Did you mean "${guess}"?` : ''}`, path);
        return;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const p = e.params as { comparison?: string; limit?: unknown };
        const words: Record<string, string> = { '>=': 'at least', '<=': 'at most', '>': 'above', '<': 'below' };
        const msg = own('errorMessage') ?? `It must be ${words[p.comparison ?? ''] ?? p.comparison ?? ''} ${String(p.limit)}.`;
        this.c.atValue('error', 'out-of-range', `${what}. ${msg}`, path);
        return;
      }
      case 'pattern': {
        const msg = fromUnion('patternErrorMessage') ?? own('patternErrorMessage') ?? fromUnion('errorMessage') ?? own('errorMessage') ?? 'It does not have the required form.';
        this.c.atValue('error', 'invalid-pattern', `${what}. ${msg}`, path);
        return;
      }
      case 'minLength':
      case 'maxLength': {
        const limit = Number((e.params as { limit?: unknown }).limit);
        const len = typeof value === 'string' ? value.length : 0;
        const msg =
          e.keyword === 'minLength'
            ? limit === 1
              ? `${subject(path, this.format.noun)} is empty; write something or remove it`
              : `${subject(path, this.format.noun)} is ${len} characters long; it needs at least ${limit}`
            : `${subject(path, this.format.noun)} is ${len} characters long; at most ${limit} are allowed`;
        this.c.atValue('error', 'invalid-length', msg, path);
        return;
      }
      case 'minItems': {
        const limit = Number((e.params as { limit?: unknown }).limit);
        const isModules = path[path.length - 1] === 'modules';
        const hint = isModules ? '; a layer needs at least one module, e.g. [{ "type": "attention" }, { "type": "ffn" }]' : `; it needs at least ${plural(limit, 'entry', 'entries')}`;
        this.c.atValue('error', 'too-few-items', `${subject(path, this.format.noun)} is ${Array.isArray(value) && value.length === 0 ? 'empty' : `${Array.isArray(value) ? value.length : 0} long`}${hint}`, path);
        return;
      }
      case 'maxItems': {
        const limit = Number((e.params as { limit?: unknown }).limit);
        this.c.atValue('error', 'too-many-items', `${subject(path, this.format.noun)} has ${Array.isArray(value) ? value.length : '?'} entries; at most ${limit} are allowed`, path);
        return;
      }
      default:
        this.c.atValue('error', 'schema', `${what}: ${e.message ?? 'not allowed here'}`, path);
    }
  }

  private unknownProperty(prop: string, path: JsonPath, value: unknown, allowed: string[]): string {
    const base = `unknown property ${JSON.stringify(prop.length > 60 ? `${prop.slice(0, 57)}…` : prop)} ${whereText(path, value)}`;
    const guess = closestMatch(prop, allowed);
    if (guess) return `${base}; did you mean "${guess}"?`;
    const lower = prop.toLowerCase();
    const own = isModulePath(path) ? `${moduleKind(value) ?? ''} modules` : pathLabel(path);
    const inModule = isModulePath(path);
    const others = sections(this.format).filter((s) => s.label !== own && s.keys.some((k) => k.toLowerCase() === lower));
    const elsewhere = others.find((s) => s.label.endsWith(' modules') === inModule) ?? others[0];
    if (elsewhere) {
      const target = elsewhere.label === '' ? 'at the top level' : elsewhere.label.endsWith(' modules') ? `to ${elsewhere.label}` : `in ${elsewhere.label.replace(/\[\]/g, '[…]')}`;
      return `${base}; it belongs ${target}`;
    }
    return allowed.length > 0 && allowed.length <= 8 ? `${base}; allowed: ${allowed.join(', ')}` : base;
  }

  private missing(e: ErrorObject, props: string[]): void {
    const path = decodePointer(e.instancePath, this.data);
    const list = quotedList(props, 'and');
    if (e.schemaPath.startsWith('#/then/')) {
      const fields = path.length === 0 ? 'model.hiddenSize, model.numLayers and model.numHeads' : props.map((p) => `${pathLabel(path)}.${p}`).join(', ').replace(/, ([^,]*)$/, ' and $1');
      const msg =
        path.length === 0
          ? `without "extends", the spec must set ${fields}; add a "model" section with them, or start from a preset, e.g. "extends": "bert-base"`
          : `without "extends", ${fields} must be set; add ${list}, or start from a preset, e.g. "extends": "bert-base"`;
      this.c.atObject('error', 'missing-property', msg, path);
      return;
    }
    if (path.length === 0 && props.includes('version')) {
      const others = props.filter((p) => p !== 'version');
      this.c.atObject('error', 'missing-property', `missing "version"; add "version": 1${others.length ? ` and ${quotedList(others, 'and')}` : ''}`, path);
      return;
    }
    this.c.atObject('error', 'missing-property', `${subject(path, this.format.noun)} is missing ${list}`, path);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The entry point

function semanticToDiagnostics(c: Collector, findings: SemanticFinding[]): void {
  for (const f of findings) c.atValue(f.severity, f.code, f.message, f.path);
}

/** A UTF-8 byte-order mark, as editors on Windows write it. */
const BOM = '\uFEFF';

interface Checked {
  c: Collector;
  /** The parsed value, when the text parsed at all. */
  data?: unknown;
  /** No syntax or schema error. */
  ok: boolean;
}

/** Syntax, duplicate keys and the schema of `format`: the part every JSONC format shares. */
function check(original: string, format: JsoncFormat): Checked {
  // A leading BOM is accepted, as VS Code does: read as a space, so every offset, line and column stays the same.
  const text = original.startsWith(BOM) ? ` ${original.slice(1)}` : original;
  const doc: Doc = { text, lines: new LineIndex(text), root: undefined };
  const c = new Collector(doc);

  if (isBlank(text)) {
    c.add('error', 'empty-file', `the file is empty; a ${format.noun} starts like ${format.example}`, [], text.length, 0);
    return { c, ok: false };
  }
  const deep = tooDeepAt(text, MAX_DEPTH);
  if (deep >= 0) {
    c.add('error', 'too-deep', `values nested more than ${MAX_DEPTH} levels deep; a ${format.noun} needs only a few levels`, [], deep, 1);
    return { c, ok: false };
  }

  const syntaxErrors: ParseError[] = [];
  try {
    doc.root = parseTree(text, syntaxErrors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  } catch {
    c.add('error', 'too-deep', 'the file could not be parsed (nested too deeply?)', [], 0, 0);
    return { c, ok: false };
  }
  reportSyntax(c, syntaxErrors);
  if (!doc.root) return { c, ok: false };

  const duplicates: Duplicate[] = [];
  const data = toValue(doc.root, 0, duplicates);
  for (const { earlier: prop, later } of duplicates) {
    const key = prop.children?.[0];
    const name = keyOf(prop) ?? '';
    if (!key) continue;
    const line = doc.lines.position(later.offset).line + 1;
    let path: JsonPath = [];
    try {
      path = getNodePath(key);
    } catch {
      path = [];
    }
    c.add('warning', 'duplicate-key', `${JSON.stringify(name)} is written again on line ${line}, which wins; this one is ignored, so remove one of them`, path, key.offset, key.length);
  }

  const validate = validator(format);
  const schemaOk = validate(data) === true;
  if (!schemaOk) {
    // Past a syntax error the tree is a guess: schema problems from the line of the first one on are left out.
    const first = syntaxErrors.reduce((min, e) => Math.min(min, e.offset), Infinity);
    c.cutoff = Number.isFinite(first) ? doc.lines.offsetAt({ line: doc.lines.position(first).line, character: 0 }) : undefined;
    new SchemaReporter(c, data, syntaxErrors.length > 0, format).report(validate.errors ?? []);
    c.cutoff = undefined;
  }
  return { c, data, ok: schemaOk && syntaxErrors.length === 0 };
}

/** Where a diagnostic about a JSON path goes: on its value, on its key, or (for something missing) on its object. */
export type DiagnosticAnchor = 'value' | 'key' | 'object';

/**
 * A JSONC file checked against a format (syntax, duplicate keys, schema), for formats built on the spec's machinery:
 * their own checks add diagnostics at JSON paths, placed exactly as the spec validator places its own.
 */
export interface CheckedJsonc {
  /** The text as checked (a leading BOM read as a space). */
  text: string;
  lines: LineIndex;
  /** The parsed value, when the text parsed at all (it matches the schema only when `ok`). */
  data?: unknown;
  /** No syntax or schema error. */
  ok: boolean;
  /** The source range of the value at `path` (or its nearest existing ancestor). */
  rangeAt(path: JsonPath): { offset: number; length: number };
  add(severity: Severity, code: string, message: string, path: JsonPath, anchor?: DiagnosticAnchor): void;
  /** At an exact offset and length (clamped to the text). */
  addAt(severity: Severity, code: string, message: string, path: JsonPath, offset: number, length: number): void;
  /** Every diagnostic so far, sorted by position, at most `MAX_DIAGNOSTICS`. */
  finish(): Diagnostic[];
}

export function checkJsoncText(text: string, format: JsoncFormat): CheckedJsonc {
  const { c, data, ok } = check(typeof text === 'string' ? text : String(text), format);
  return {
    text: c.doc.text,
    lines: c.doc.lines,
    ...(data !== undefined ? { data } : {}),
    ok,
    rangeAt(path) {
      const node = nearestNode(c.doc.root, path);
      return node ? { offset: node.offset, length: node.length } : { offset: 0, length: 0 };
    },
    add(severity, code, message, path, anchor = 'value') {
      if (anchor === 'key') c.atKey(severity, code, message, path);
      else if (anchor === 'object') c.atObject(severity, code, message, path);
      else c.atValue(severity, code, message, path);
    },
    addAt(severity, code, message, path, offset, length) {
      c.add(severity, code, message, path, offset, length);
    },
    finish: () => c.finish(),
  };
}

function run(original: string, options: ValidateOptions): ValidationResult {
  const { c, data, ok } = check(original, SPEC_FORMAT);
  if (!ok) return { diagnostics: c.finish() };

  const file = data as SpecFile;
  const overrides = checkLayerOverrides(file);
  semanticToDiagnostics(c, overrides.findings);
  let spec: ResolvedSpec | undefined;
  try {
    spec = resolveSpec(overrides.findings.length > 0 ? overrides.file : file);
  } catch (e) {
    c.add('error', 'internal-error', `could not resolve the spec: ${e instanceof Error ? e.message : String(e)}`, [], 0, 0);
  }
  if (spec) semanticToDiagnostics(c, checkSemantics(file, spec, options));
  const diagnostics = c.finish();
  const hasErrors = diagnostics.some((d) => d.severity === 'error');
  return { diagnostics, file, ...(spec && !hasErrors ? { spec } : {}) };
}

/** Validates the text of a spec file. Never throws. */
export function validateSpecText(text: string, options: ValidateOptions = {}): ValidationResult {
  try {
    return run(typeof text === 'string' ? text : String(text), options ?? {});
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const zero: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 }, offset: 0, length: 0 };
    return { diagnostics: [{ severity: 'error', code: 'internal-error', message: `the validator failed: ${message.slice(0, 200)}`, path: [], range: zero }] };
  }
}
