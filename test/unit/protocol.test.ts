import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../fast-check-seed';
import {
  PROTOCOL_VERSION,
  TRAINER_MESSAGE_SCHEMAS,
  HOST_MESSAGE_SCHEMAS,
  hostMessage,
  parseHostMessage,
  parseTrainerMessage,
  trainerMessage,
  type HostMessage,
  type ParseResult,
  type TrainerMessage,
} from '../../src/protocol';

const backend = { requested: 'auto', name: 'wasm', skipped: [{ name: 'tfjs-node', reason: 'not installed' }], details: { threads: 2, simd: true } };

/** One valid example of every trainer message type. */
const TRAINER_SAMPLES: TrainerMessage[] = [
  trainerMessage({ type: 'hello', pid: 1234, versions: { protocol: PROTOCOL_VERSION, node: '20.19.0', tfjs: '4.22.0' } }),
  trainerMessage({ type: 'started', runId: '20250101-120000-000-abcdef', runDir: '/w/.convbert/runs/x', backend, seed: 42, step: 0, totalSteps: 100, resumed: false }),
  trainerMessage({ type: 'progress', step: 3, totalSteps: 100, tokensSeen: 6144, elapsedMs: 1234.5, etaMs: null }),
  trainerMessage({ type: 'progress', step: 4, totalSteps: 100, tokensSeen: 8192, elapsedMs: 1500, etaMs: 36000 }),
  trainerMessage({ type: 'metrics', step: 3, loss: 7.5, mlmLoss: 6.9, nspLoss: 0.6, learningRate: 1e-4, gradNorm: 2.5, tokensPerSecond: 5000, stepMs: 410, flopsPerSecond: 1.5e9, memoryBytes: 1 << 20 }),
  trainerMessage({ type: 'metrics', step: 4, loss: 7.4, mlmLoss: 7.4, learningRate: 0, gradNorm: 0, tokensPerSecond: 0, stepMs: 0, flopsPerSecond: 0, memoryBytes: 0 }),
  trainerMessage({ type: 'eval', step: 100, loss: 6.1, mlmAccuracy: 0.12, nspAccuracy: 0.6 }),
  trainerMessage({ type: 'probes', step: 100, path: 'probes/step-000000100.json', summary: { attentionEntropy: 2.1, layer: 'all', ok: true, missing: null } }),
  trainerMessage({ type: 'checkpoint', step: 200, path: 'checkpoints/ckpt-000000200-abcdef' }),
  trainerMessage({ type: 'state', state: 'paused', step: 17 }),
  trainerMessage({ type: 'log', level: 'info', message: 'hello' }),
  trainerMessage({ type: 'warning', message: 'flopBudget is ignored', hint: 'set steps' }),
  trainerMessage({ type: 'error', message: 'boom', fatal: true, hint: 'do this' }),
  trainerMessage({ type: 'done', reason: 'stopped', step: 17, summary: { steps: 17, loss: 3.2, checkpoint: 'checkpoints/x' } }),
];

const HOST_SAMPLES: HostMessage[] = [
  hostMessage({ type: 'start', runDir: '/w/.convbert/runs/x', specPath: '/w/a.convbert.json', options: { steps: 10, backend: 'cpu' } }),
  hostMessage({ type: 'start', runDir: '/w/.convbert/runs/x', spec: { version: 1, extends: 'bert-tiny' } }),
  hostMessage({ type: 'start', runDir: '/w/.convbert/runs/x', options: { resume: true } }),
  hostMessage({ type: 'stop' }),
  hostMessage({ type: 'pause' }),
  hostMessage({ type: 'resume' }),
];

test('every trainer and host message type has a sample, and each survives JSON and structured-clone round trips', () => {
  assert.deepEqual(new Set(TRAINER_SAMPLES.map((m) => m.type)), new Set(Object.keys(TRAINER_MESSAGE_SCHEMAS)));
  assert.deepEqual(new Set(HOST_SAMPLES.map((m) => m.type)), new Set(Object.keys(HOST_MESSAGE_SCHEMAS)));
  for (const m of TRAINER_SAMPLES) {
    for (const copy of [JSON.parse(JSON.stringify(m)) as unknown, structuredClone(m)]) {
      const r = parseTrainerMessage(copy);
      assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error}`);
      assert.deepEqual(r.message, m);
    }
  }
  for (const m of HOST_SAMPLES) {
    const r = parseHostMessage(JSON.parse(JSON.stringify(m)));
    assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.message, m);
  }
});

test('trainer messages are not host messages and the other way round', () => {
  for (const m of TRAINER_SAMPLES) assert.equal(parseHostMessage(m).ok, false, m.type);
  for (const m of HOST_SAMPLES) assert.equal(parseTrainerMessage(m).ok, false, m.type);
});

function rejected(raw: unknown, parse: (raw: unknown) => ParseResult<TrainerMessage | HostMessage> = parseTrainerMessage): string {
  const r = parse(raw);
  if (r.ok) assert.fail(`accepted ${String(r.message.type)}`);
  return r.ok ? '' : r.error;
}

const metrics = TRAINER_SAMPLES.find((m) => m.type === 'metrics')!;

test('a wrong or missing version is rejected with a message that says so', () => {
  assert.match(rejected({ ...metrics, v: 2 }), /version 2.*speaks 1/);
  assert.match(rejected({ ...metrics, v: '1' }), /version/);
  const { v: _v, ...noVersion } = metrics;
  assert.match(rejected(noVersion), /no protocol version/);
  assert.match(rejected({ ...HOST_SAMPLES[3]!, v: 0 }, parseHostMessage), /version 0/);
});

test('unknown types, missing or mistyped fields and extra fields are rejected with the field named', () => {
  assert.match(rejected({ v: 1, type: 'metricz' }), /unknown trainer message type "metricz"/);
  assert.match(rejected({ v: 1 }), /no string `type`/);
  assert.match(rejected({ v: 1, type: '__proto__' }), /unknown/);
  assert.match(rejected({ v: 1, type: 'toString' }), /unknown/);
  const { loss: _loss, ...noLoss } = metrics as Extract<TrainerMessage, { type: 'metrics' }>;
  assert.match(rejected(noLoss), /\/loss/);
  assert.match(rejected({ ...metrics, loss: '7.5' }), /\/loss/);
  assert.match(rejected({ ...metrics, step: 2.5 }), /\/step/);
  assert.match(rejected({ ...metrics, step: -1 }), /\/step/);
  assert.match(rejected({ ...metrics, gradNorm: -0.5 }), /\/gradNorm/);
  assert.match(rejected({ ...metrics, extra: 1 }), /extra|additional|Unexpected/i);
  assert.match(rejected({ ...TRAINER_SAMPLES.find((m) => m.type === 'eval')!, mlmAccuracy: 1.5 }), /mlmAccuracy/);
  assert.match(rejected({ ...TRAINER_SAMPLES.find((m) => m.type === 'done')!, reason: 'bored' }), /reason/);
  assert.match(rejected({ ...TRAINER_SAMPLES.find((m) => m.type === 'log')!, message: 'x'.repeat(70_000) }), /message/);
});

test('NaN and ±Infinity are rejected wherever they are, with the path', () => {
  assert.match(rejected({ ...metrics, loss: NaN }), /\/loss is NaN; numbers must be finite/);
  assert.match(rejected({ ...metrics, stepMs: Infinity }), /\/stepMs is Infinity/);
  assert.match(rejected({ ...TRAINER_SAMPLES.find((m) => m.type === 'probes')!, summary: { x: -Infinity } }), /\/summary\/x is -Infinity/);
  assert.match(rejected(hostMessage({ type: 'start', runDir: 'r', spec: { training: { steps: NaN } } }), parseHostMessage), /\/spec\/training\/steps is NaN/);
  // JSON turns NaN into null: still rejected (not a number).
  assert.equal(parseTrainerMessage(JSON.parse(JSON.stringify({ ...metrics, loss: NaN }))).ok, false);
});

test('start needs exactly one of spec and specPath, unless it resumes', () => {
  assert.match(rejected(hostMessage({ type: 'start', runDir: 'r' }), parseHostMessage), /give `spec` or `specPath`/);
  assert.match(rejected(hostMessage({ type: 'start', runDir: 'r', spec: {}, specPath: 'a' }), parseHostMessage), /not both/);
  assert.match(rejected(hostMessage({ type: 'start', runDir: 'r', specPath: 'a', options: { steps: 0 } }), parseHostMessage), /steps/);
  assert.match(rejected(hostMessage({ type: 'start', runDir: '', specPath: 'a' }), parseHostMessage), /runDir/);
  assert.equal(parseHostMessage(hostMessage({ type: 'start', runDir: 'r', options: { resume: true } })).ok, true);
});

test('exotic inputs are rejected, not thrown: throwing getters, cycles, deep nesting, typed arrays, primitives', () => {
  const throwing = { v: 1, get type(): string { throw new Error('gotcha'); } };
  assert.match(rejected(throwing), /could not be read: gotcha/);
  const cyclic: Record<string, unknown> = { ...metrics };
  cyclic.self = cyclic;
  assert.equal(parseTrainerMessage(cyclic).ok, false);
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = { d: deep };
  assert.match(rejected({ ...TRAINER_SAMPLES.find((m) => m.type === 'probes')!, summary: deep }), /nested/);
  for (const raw of [undefined, null, 0, 'metrics', [], [metrics], new Float32Array(4), () => 1, Symbol('x')]) rejected(raw);
});

test('property: arbitrary values never throw and are never accepted', () => {
  fc.assert(
    fc.property(fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true }), (raw) => {
      const a = parseTrainerMessage(raw);
      const b = parseHostMessage(raw);
      return !a.ok && !b.ok && a.error.length > 0 && b.error.length > 0;
    }),
    { numRuns: 2000 },
  );
});

test('property: valid messages with one field replaced by garbage never throw, and are rejected unless the garbage happens to fit', () => {
  const samples = [...TRAINER_SAMPLES];
  fc.assert(
    fc.property(fc.nat(samples.length - 1), fc.nat(), fc.anything({ withTypedArray: true, withBigInt: true }), (i, k, garbage) => {
      const sample = samples[i]!;
      const keys = Object.keys(sample);
      const key = keys[k % keys.length]!;
      const mutated = { ...sample, [key]: garbage };
      const r = parseTrainerMessage(mutated);
      if (!r.ok) return r.error.length > 0;
      // Accepted: then the replaced value must itself have been valid for that field, so the result validates again.
      return parseTrainerMessage(structuredClone(r.message)).ok;
    }),
    { numRuns: 2000 },
  );
});

test('property: a non-finite number in any numeric field of a valid message is rejected', () => {
  const numericFields = TRAINER_SAMPLES.flatMap((m) => Object.entries(m).filter(([, v]) => typeof v === 'number').map(([k]) => [m, k] as const));
  fc.assert(
    fc.property(fc.constantFrom(...numericFields), fc.constantFrom(NaN, Infinity, -Infinity), ([m, key], bad) => !parseTrainerMessage({ ...m, [key]: bad }).ok),
  );
});
