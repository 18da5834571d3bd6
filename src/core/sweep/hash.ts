/** A stable hash of JSON values: key order does not matter (what decides a sweep's runs, and each run). */
import { createHash } from 'node:crypto';
import { isRecord } from '../json';

/** JSON with object keys sorted at every level; `undefined` properties left out, as JSON.stringify does. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableStringify(v))).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** 16 hex digits of the SHA-256 of `stableStringify(value)`. */
export function hashJson(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}
