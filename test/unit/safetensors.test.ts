import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/run-format/safetensors';
import type { HostTensorMap } from '../../src/core/train/tensors';

/** A file built by hand from the format's description: header length, JSON, raw little-endian data. */
function handMade(header: unknown, data: number[], pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

test('safetensors: host tensors round-trip bit for bit, with metadata, in key order', () => {
  const tensors: HostTensorMap = {
    'embeddings/word': { dtype: 'float32', shape: [2, 3], data: new Float32Array([1.5, -2, 3e-8, NaN, Infinity, -0]) },
    ids: { dtype: 'int32', shape: [4], data: new Int32Array([0, -1, 2147483647, 7]) },
    mask: { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) },
    empty: { dtype: 'float32', shape: [0, 5], data: new Float32Array(0) },
    scalar: { dtype: 'float32', shape: [], data: new Float32Array([4]) },
  };
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0, 'the header is padded to 8 bytes');
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.deepEqual(Object.keys(back.tensors), Object.keys(tensors));
  for (const [name, t] of Object.entries(tensors)) {
    const b = back.tensors[name]!;
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), name);
  }
});

test('safetensors: reads a hand-made file with F16, BF16, U16, U8 and I64 tensors (converted to float32 / int32)', () => {
  const header = {
    h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
    u: { dtype: 'U16', shape: [2], data_offsets: [10, 14] },
    c: { dtype: 'U8', shape: [2], data_offsets: [14, 16] },
    l: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
  };
  // F16 1.0 = 0x3c00, −2.0 = 0xc000, 2^-24 = 0x0001; BF16 1.0 = 0x3f80, −0.5 = 0xbf00; U16 65535, 3; U8 200, 1; I64 −5.
  const data = [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x80, 0x3f, 0x00, 0xbf, 0xff, 0xff, 3, 0, 200, 1, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const { tensors } = decodeSafetensors(handMade(header, data));
  assert.deepEqual([...tensors.h!.data], [1, -2, 2 ** -24]);
  assert.equal(tensors.h!.dtype, 'float32');
  assert.deepEqual([...tensors.b!.data], [1, -0.5]);
  assert.deepEqual([...tensors.u!.data], [65535, 3]);
  assert.equal(tensors.u!.dtype, 'int32');
  assert.deepEqual([...tensors.c!.data], [200, 1]);
  assert.deepEqual([...tensors.l!.data], [-5]);
  assert.equal(tensors.l!.dtype, 'int32');
});

test('safetensors: malformed files are one SafetensorsError each', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = [0, 0, 0, 0, 0, 0, 0, 0];
  const cases: [string, Uint8Array, RegExp][] = [
    ['short', new Uint8Array(5), /shorter than the 8-byte/],
    ['huge header', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /header of \d+ bytes \(at most/],
    ['header past end', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 100n, true); return b; })(), /runs past the end/],
    ['not JSON', handMade('x', []).map((v, i) => (i === 8 ? 0x7b : v)), /not JSON/],
    ['not an object', handMade([1, 2], []), /not a JSON object/],
    ['unknown dtype', handMade({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, eight), /unsupported dtype/],
    ['bad shape', handMade({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight), /shape must be/],
    ['out of range', handMade({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight), /outside the 8-byte data buffer/],
    ['size mismatch', handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), /8 bytes for F32 \[3\] \(12 expected\)/],
    ['overlap', handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /overlaps/],
    ['gap', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /leaves a gap/],
    ['unused bytes', handMade(ok, [...eight, 0]), /1 bytes no tensor uses/],
    ['extra field', handMade({ a: { ...ok.a, x: 1 } }, eight), /unknown field x/],
    ['bad metadata', handMade({ __metadata__: { k: 1 }, ...ok }, eight), /__metadata__ must map strings/],
    ['I64 too large', handMade({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0, 1, 0, 0, 0]), /does not fit int32/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(() => decodeSafetensors(bytes, 'f.safetensors'), (e: unknown) => e instanceof SafetensorsError && message.test(e.message), what);
  }
  assert.doesNotThrow(() => decodeSafetensors(handMade(ok, eight)));
  assert.doesNotThrow(() => decodeSafetensors(handMade(ok, eight, false)), 'an unpadded header is valid too');
});

test('safetensors: refuses to write what it cannot store', () => {
  assert.throws(() => encodeSafetensors({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }), /2 values for shape \[3\]/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'float32', shape: [1], data: new Float32Array(1) } }), /cannot be named __metadata__/);
});

test('safetensors: files are written atomically and read back; a damaged file names itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbert-safetensors-'));
  try {
    const file = join(dir, 'state.safetensors');
    await writeSafetensors(file, { w: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) } }, { step: '3' });
    assert.deepEqual(readdirSync(dir), ['state.safetensors'], 'no temporary file left behind');
    const back = await readSafetensors(file);
    assert.deepEqual([...back.tensors.w!.data], [1, 2]);
    assert.deepEqual(back.metadata, { step: '3' });
    writeFileSync(file, new Uint8Array(4));
    await assert.rejects(readSafetensors(file), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${file} is not a valid safetensors file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
