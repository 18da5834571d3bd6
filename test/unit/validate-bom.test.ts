/**
 * Issue #9, finding 9: a spec saved with a UTF-8 byte-order mark (as editors on Windows write it) is accepted, as
 * VS Code accepts it, and its diagnostics still point at the right line and column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createColors } from 'picocolors';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { validateSpecText } from '../../src/core/validate/validate';

const BOM = '\uFEFF';

test('a spec starting with a BOM validates clean', () => {
  const text = `${BOM}{\n  "version": 1,\n  "extends": "bert-tiny"\n}\n`;
  const r = validateSpecText(text);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.spec?.model.hiddenSize, 128);
});

test('diagnostics of a BOM spec point where they would without the BOM', () => {
  const body = '{\n  "version": 1,\n  "extends": "bert-tiny",\n  "model": { "numHeads": 3 }\n}\n';
  const plain = validateSpecText(body).diagnostics;
  const withBom = validateSpecText(BOM + body).diagnostics;
  assert.ok(plain.length > 0);
  assert.deepEqual(
    withBom.map((d) => [d.code, d.range.start.line, d.range.start.character, d.message]),
    plain.map((d) => [d.code, d.range.start.line, d.range.start.character, d.message]),
  );
  // The offsets are the BOM text's own (one code unit later), so an editor holding the BOM highlights the same "3".
  const heads = withBom.find((d) => d.code === 'heads-divisibility');
  assert.ok(heads);
  assert.equal(heads.range.start.line, 3);
  assert.equal((BOM + body).slice(heads.range.offset, heads.range.offset + heads.range.length), '3');
  // A syntax error after a BOM is the real one, not `unexpected "\uFEFF"`.
  const broken = validateSpecText(`${BOM}{\n  "version": 1\n  "extends": "bert-tiny"\n}`).diagnostics;
  assert.equal(broken.length, 1);
  assert.equal(broken[0]?.code, 'syntax');
  assert.equal(broken[0]?.range.start.line, 2);
  assert.doesNotMatch(broken[0]!.message, /FEFF|\uFEFF/i);
  // Only a leading BOM is special: one inside a string stays in the value.
  assert.match(validateSpecText(`{ "version": 1, "extends": "bert-tiny", "name": "${BOM}x" }`).diagnostics[0]?.code ?? '', /invalid-pattern/);
});

test('convbert validate accepts a BOM file (exit 0)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbert-bom-'));
  writeFileSync(join(dir, 'bom.convbert.json'), `${BOM}{ "version": 1, "extends": "groupbert-mini" }\n`);
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: createColors(false), isTTY: false, cwd: dir };
  assert.equal(await runCli(['validate', 'bom.convbert.json'], io), 0, out.join(''));
  assert.match(err.join(''), /1 spec: 0 errors/);
});
