/** JSON values and the one `isRecord` guard (the protocol, the run format, engines and the CLI use these too). */

/** A JSON value (what checkpoints store for optimizer, data and generator states). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
