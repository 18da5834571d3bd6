/**
 * Validation of incoming messages. Whatever arrives (from a child process, a webview, a line of
 * `metrics.jsonl`), `parseTrainerMessage`/`parseHostMessage` never throw: they return the typed message or a
 * readable reason it was rejected (wrong version, unknown type, a missing or malformed field, a non-finite
 * number).
 *
 * TypeBox's interpreting `Value.Check` is used, not its `TypeCompiler`: compiled checkers are built with
 * `new Function`, which a webview's Content-Security-Policy forbids, and this module runs there too.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  HOST_MESSAGE_SCHEMAS,
  PROTOCOL_VERSION,
  TRAINER_MESSAGE_SCHEMAS,
  type HostMessage,
  type HostMessageBody,
  type TrainerMessage,
  type TrainerMessageBody,
} from './messages';

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

const MAX_DEPTH = 32;
const MAX_ERRORS_SHOWN = 3;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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

/** The path of the first number that is NaN or ±Infinity (or `undefined`); refuses structures nested too deep. */
function findNonFinite(value: unknown, path: string, depth: number): { path: string; problem: string } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path, problem: `is ${String(value)}; numbers must be finite` };
  if (typeof value !== 'object' || value === null) return undefined;
  if (ArrayBuffer.isView(value)) return undefined;
  if (depth > MAX_DEPTH) return { path, problem: `is nested more than ${MAX_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFinite(value[i], `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = findNonFinite((value as Record<string, unknown>)[key], `${path}/${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function schemaErrors(schema: TSchema, value: unknown): string {
  const lines: string[] = [];
  let more = 0;
  for (const error of Value.Errors(schema, value)) {
    if (lines.length < MAX_ERRORS_SHOWN) lines.push(`${error.path || '/'}: ${error.message}${error.value === undefined ? ' (missing)' : ''}`);
    else more++;
    if (more > 50) break;
  }
  if (more > 0) lines.push(`…and ${more} more`);
  return lines.length > 0 ? lines.join('; ') : 'does not match the message schema';
}

function parseWith<T>(raw: unknown, schemas: Record<string, TSchema>, direction: string): ParseResult<T> {
  try {
    if (!isRecord(raw)) return { ok: false, error: `${direction} message must be an object with \`v\` and \`type\`, got ${describeValue(raw)}` };
    const v = raw.v;
    if (v === undefined) return { ok: false, error: `${direction} message has no protocol version \`v\` (expected ${PROTOCOL_VERSION})` };
    if (v !== PROTOCOL_VERSION) {
      return {
        ok: false,
        error: `${direction} message speaks protocol version ${typeof v === 'number' ? String(v) : describeValue(v)}, this side speaks ${PROTOCOL_VERSION}: the trainer and the host come from different ConvBERT Studio versions; reinstall or rebuild so they match`,
      };
    }
    const type = raw.type;
    if (typeof type !== 'string') return { ok: false, error: `${direction} message has no string \`type\` (got ${describeValue(type)})` };
    const schema = Object.prototype.hasOwnProperty.call(schemas, type) ? schemas[type] : undefined;
    if (!schema) return { ok: false, error: `unknown ${direction} message type "${type.slice(0, 64)}" (expected one of ${Object.keys(schemas).join(', ')})` };
    const nonFinite = findNonFinite(raw, '', 0);
    if (nonFinite) return { ok: false, error: `\`${type}\` message: ${nonFinite.path || '/'} ${nonFinite.problem}` };
    if (!Value.Check(schema, raw)) return { ok: false, error: `\`${type}\` message: ${schemaErrors(schema, raw)}` };
    return { ok: true, message: raw as T };
  } catch (e) {
    // Getters that throw, proxies, exotic objects: rejected, never a crash.
    return { ok: false, error: `${direction} message could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Validates a message from the trainer (IPC, in-process, or a line of `metrics.jsonl`). Never throws. */
export function parseTrainerMessage(raw: unknown): ParseResult<TrainerMessage> {
  return parseWith<TrainerMessage>(raw, TRAINER_MESSAGE_SCHEMAS, 'trainer');
}

/** Validates a message from the host. Never throws. */
export function parseHostMessage(raw: unknown): ParseResult<HostMessage> {
  const result = parseWith<HostMessage>(raw, HOST_MESSAGE_SCHEMAS, 'host');
  if (!result.ok || result.message.type !== 'start') return result;
  const start = result.message;
  if (start.spec !== undefined && start.specPath !== undefined) return { ok: false, error: '`start` message: give `spec` or `specPath`, not both' };
  if (start.spec === undefined && start.specPath === undefined && start.options?.resume !== true) {
    return { ok: false, error: '`start` message: give `spec` or `specPath` (both may be left out only with `options.resume`)' };
  }
  return result;
}

/** Adds the version (and the time) to a trainer message body. */
export function trainerMessage(body: TrainerMessageBody, time: number = Date.now()): TrainerMessage {
  return { ...body, v: PROTOCOL_VERSION, time } as TrainerMessage;
}

/** Adds the version to a host message body. */
export function hostMessage(body: HostMessageBody): HostMessage {
  return { ...body, v: PROTOCOL_VERSION } as HostMessage;
}
