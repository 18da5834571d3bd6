import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';

function capture(cwd = process.cwd(), isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(isTTY), isTTY, cwd };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`);

test('cost prints the exact BERT-Base and GroupBERT-Base figures', async () => {
  for (const [file, params, flops] of [
    ['examples/bert-base.convbert.json', '110,106,428', '174,587,904'],
    ['examples/groupbert-base.convbert.json', '160,842,044', '275,742,720'],
  ] as const) {
    const c = capture();
    assert.equal(await runCli(['cost', file, '--seq', '128'], c.io), 0, c.stderr());
    assert.match(c.stdout(), new RegExp(`parameters\\s+${params}`));
    assert.match(c.stdout(), new RegExp(`encoder fwd matmul FLOPs\\s+${flops} per token`));
    assert.doesNotMatch(c.stdout(), ANSI, 'no colour codes in a pipe');
  }
});

test('cost shows one row per module and the FLOP convention', async () => {
  const c = capture();
  assert.equal(await runCli(['cost', 'examples/groupbert-base.convbert.json'], c.io), 0);
  const out = c.stdout();
  assert.equal(out.match(/\|\s+conv\s/g)?.length, 12);
  assert.equal(out.match(/\|\s+gffn\s/g)?.length, 24);
  assert.match(out, /layer 11/);
  assert.match(out, /multiply-add/i);
});

test('cost --json is machine-readable and agrees with the table', async () => {
  const c = capture();
  assert.equal(await runCli(['cost', 'examples/bert-base.convbert.json', '--json', '--seq', '128', '--batch', '2'], c.io), 0);
  const parsed = JSON.parse(c.stdout()) as { cost: { totals: { params: number }; batchSize: number; layers: unknown[] } };
  assert.equal(parsed.cost.totals.params, 110106428);
  assert.equal(parsed.cost.batchSize, 2);
  assert.equal(parsed.cost.layers.length, 12);
});

test('validate prints compiler-style diagnostics and exits 1 on errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbert-cli-'));
  writeFileSync(join(dir, 'bad.convbert.json'), '{\n  "version": 1,\n  "extends": "bert-base",\n  "model": { "hiddenSize": 770 }\n}\n');
  const c = capture(dir);
  assert.equal(await runCli(['validate', 'bad.convbert.json'], c.io), 1);
  assert.match(c.stdout(), /^bad\.convbert\.json:4:\d+: error: .*770/m);
  assert.match(c.stderr(), /1 error/);
});

test('validate exits 0 on the examples', async () => {
  const c = capture();
  const files = ['default', 'bert-base', 'groupbert-base', 'conv-lower-layers'].map((n) => `examples/${n}.convbert.json`);
  assert.equal(await runCli(['validate', ...files], c.io), 0, c.stdout());
  assert.match(c.stderr(), /4 specs: 0 errors, 0 warnings/, 'every example fits the wasm backend and its budget');
});

test('new writes a spec that validates, and refuses to overwrite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbert-cli-'));
  const c = capture(dir);
  assert.equal(await runCli(['new', 'groupbert-mini', 'mine.convbert.json'], c.io), 0);
  assert.match(readFileSync(join(dir, 'mine.convbert.json'), 'utf8'), /"extends": "groupbert-mini"/);
  const again = capture(dir);
  assert.equal(await runCli(['new', 'groupbert-mini', 'mine.convbert.json'], again.io), 1);
  assert.match(again.stderr(), /exists; pass --force/);
  const v = capture(dir);
  assert.equal(await runCli(['validate', 'mine.convbert.json'], v.io), 0);
});

test('bad input gives a one-line error, never a stack trace', async () => {
  const cases: [string[], RegExp, number][] = [
    [['cost', 'missing.convbert.json'], /missing\.convbert\.json: no such file/, 1],
    [['new', 'bert-huge'], /unknown preset "bert-huge"/, 1],
    [['cost', 'examples/bert-base.convbert.json', '--seq', 'abc'], /positive whole number/, 2],
    [['cost', 'examples/bert-base.convbert.json', '--seq', '4096'], /exceeds model\.maxPositions 512/, 1],
    [['frobnicate'], /unknown command/, 2],
  ];
  for (const [argv, message, code] of cases) {
    const c = capture();
    assert.equal(await runCli(argv, c.io), code, argv.join(' '));
    assert.match(c.stderr(), message);
    assert.doesNotMatch(c.stderr(), /\n\s+at /, 'no stack trace');
  }
});

test('presets lists every preset with its exact parameter count', async () => {
  const c = capture();
  assert.equal(await runCli(['presets'], c.io), 0);
  assert.match(c.stdout(), /bert-base\s+110,106,428 params/);
  assert.match(c.stdout(), /groupbert-base\s+160,842,044 params/);
  assert.equal(c.stdout().trim().split('\n').length, 11);
});
