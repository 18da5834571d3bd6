/**
 * What every message crossing a process or webview boundary goes through, whichever protocol it belongs to:
 * an object with a version `v` and a `type`, a known type, no non-finite number anywhere, and the type's schema.
 * Parsing never throws; a rejected message comes back with a reason a person can read.
 *
 * TypeBox's interpreting `Check` is used, not its `TypeCompiler`: compiled checkers are built with
 * `new Function`, which a webview's Content-Security-Policy forbids, and these modules run there too.
 */
import type { TSchema } from '@sinclair/typebox';
import { Errors, type ValueError } from '@sinclair/typebox/errors';
import { Check } from '@sinclair/typebox/value';
import { isRecord } from '../core/json';

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

const MAX_DEPTH = 32;
const MAX_ERRORS_SHOWN = 3;

export { isRecord };

/** A short description of a value for an error message (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string "${value.slice(0, 40)}…"` : `the string "${value}"`;
    case 'number':
      return Number.isFinite(value) ? `the number ${value}` : String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

interface NonFinite {
  path: string;
  problem: string;
}

/**
 * The path of the first number that is NaN or ±Infinity (or `undefined`); refuses structures nested too deep.
 * `floats` returns the float32 view of a binary value whose elements must be checked too (typed arrays and
 * buffers are otherwise skipped).
 */
function findNonFinite(value: unknown, path: string, depth: number, floats?: (v: object) => Float32Array | undefined): NonFinite | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path, problem: `is ${String(value)}; numbers must be finite` };
  if (typeof value !== 'object' || value === null) return undefined;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || Object.prototype.toString.call(value) === '[object ArrayBuffer]') {
    const data = floats?.(value);
    if (data) {
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) return { path: `${path}[${i}]`, problem: `is ${String(data[i])}; numbers must be finite` };
      }
    }
    return undefined;
  }
  if (depth > MAX_DEPTH) return { path, problem: `is nested more than ${MAX_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFinite(value[i], `${path}/${i}`, depth + 1, floats);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = findNonFinite((value as Record<string, unknown>)[key], `${path}/${key}`, depth + 1, floats);
    if (found) return found;
  }
  return undefined;
}

function schemaErrors(schema: TSchema, value: unknown, explain?: (error: ValueError) => string | undefined): string {
  const lines: string[] = [];
  let more = 0;
  for (const error of Errors(schema, value)) {
    const text = explain?.(error) ?? error.message;
    if (lines.length < MAX_ERRORS_SHOWN) lines.push(`${error.path || '/'}: ${text}${error.value === undefined ? ' (missing)' : ''}`);
    else more++;
    if (more > 50) break;
  }
  if (more > 0) lines.push(`…and ${more} more`);
  return lines.length > 0 ? lines.join('; ') : 'does not match the message schema';
}

export interface EnvelopeRules {
  /** One schema per message `type`. */
  schemas: Record<string, TSchema>;
  version: number;
  /** Who sent it, for messages: "trainer", "host", "webview"… */
  direction: string;
  /** What a version mismatch means and what to do, after "this side speaks N: ". */
  mismatchAdvice: string;
  /** Name of the protocol in the mismatch message, e.g. "protocol" or "webview protocol". */
  protocolName?: string;
  floats?: (value: object) => Float32Array | undefined;
  explain?: (error: ValueError) => string | undefined;
}

export function parseEnvelope<T>(raw: unknown, rules: EnvelopeRules): ParseResult<T> {
  const { direction, version } = rules;
  try {
    if (!isRecord(raw)) return { ok: false, error: `${direction} message must be an object with \`v\` and \`type\`, got ${describeValue(raw)}` };
    const v = raw.v;
    if (v === undefined) return { ok: false, error: `${direction} message has no protocol version \`v\` (expected ${version})` };
    if (v !== version) {
      const seen = typeof v === 'number' ? String(v) : describeValue(v);
      return { ok: false, error: `${direction} message speaks ${rules.protocolName ?? 'protocol'} version ${seen}, this side speaks ${version}: ${rules.mismatchAdvice}` };
    }
    const type = raw.type;
    if (typeof type !== 'string') return { ok: false, error: `${direction} message has no string \`type\` (got ${describeValue(type)})` };
    const schema = Object.prototype.hasOwnProperty.call(rules.schemas, type) ? rules.schemas[type] : undefined;
    if (!schema) return { ok: false, error: `unknown ${direction} message type "${type.slice(0, 64)}" (expected one of ${Object.keys(rules.schemas).join(', ')})` };
    const nonFinite = findNonFinite(raw, '', 0, rules.floats);
    if (nonFinite) return { ok: false, error: `\`${type}\` message: ${nonFinite.path || '/'} ${nonFinite.problem}` };
    if (!Check(schema, raw)) return { ok: false, error: `\`${type}\` message: ${schemaErrors(schema, raw, rules.explain)}` };
    return { ok: true, message: raw as T };
  } catch (e) {
    // Getters that throw, proxies, exotic objects: rejected, never a crash.
    return { ok: false, error: `${direction} message could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}
