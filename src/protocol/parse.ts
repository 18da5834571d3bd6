/**
 * Validation of incoming messages. Whatever arrives (from a child process, a webview, a line of
 * `metrics.jsonl`), `parseTrainerMessage`/`parseHostMessage` never throw: they return the typed message or a
 * readable reason it was rejected (wrong version, unknown type, a missing or malformed field, a non-finite
 * number).
 *
 * The envelope rules (version, type, finite numbers, schema) are shared with the webview protocol (`envelope.ts`).
 */
import { parseEnvelope, type ParseResult } from './envelope';
import {
  HOST_MESSAGE_SCHEMAS,
  PROTOCOL_VERSION,
  TRAINER_MESSAGE_SCHEMAS,
  type HostMessage,
  type HostMessageBody,
  type TrainerMessage,
  type TrainerMessageBody,
} from './messages';

export type { ParseResult } from './envelope';
export { describeValue } from './envelope';

const advice = 'the trainer and the host come from different ConvBERT Studio versions; reinstall or rebuild so they match';

/** Validates a message from the trainer (IPC, in-process, or a line of `metrics.jsonl`). Never throws. */
export function parseTrainerMessage(raw: unknown): ParseResult<TrainerMessage> {
  return parseEnvelope<TrainerMessage>(raw, { schemas: TRAINER_MESSAGE_SCHEMAS, version: PROTOCOL_VERSION, direction: 'trainer', mismatchAdvice: advice });
}

/** Validates a message from the host. Never throws. */
export function parseHostMessage(raw: unknown): ParseResult<HostMessage> {
  const result = parseEnvelope<HostMessage>(raw, { schemas: HOST_MESSAGE_SCHEMAS, version: PROTOCOL_VERSION, direction: 'host', mismatchAdvice: advice });
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
