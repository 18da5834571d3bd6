import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveCorpus } from '../../src/core/data/corpus';
import { expandGlob, hasGlobMagic, matchGlob } from '../../src/core/data/glob';

describe('data: glob matching', () => {
  it('matches *, ? and ** like a shell', () => {
    assert.ok(matchGlob('*.txt', 'a.txt'));
    assert.ok(!matchGlob('*.txt', 'dir/a.txt'), '* stays within a segment');
    assert.ok(!matchGlob('*.txt', 'a.txt.bak'));
    assert.ok(matchGlob('data/?.txt', 'data/a.txt'));
    assert.ok(!matchGlob('data/?.txt', 'data/ab.txt'));
    assert.ok(matchGlob('**/*.txt', 'a.txt'), '** matches zero directories');
    assert.ok(matchGlob('**/*.txt', 'x/y/z/a.txt'));
    assert.ok(matchGlob('data/**', 'data/x/y.md'));
    assert.ok(!matchGlob('data/**', 'other/x.md'));
    assert.ok(matchGlob('a/**/b/*.txt', 'a/b/c.txt'));
    assert.ok(matchGlob('a/**/b/*.txt', 'a/x/y/b/c.txt'));
    assert.ok(!matchGlob('a/**/b/*.txt', 'a/x/y/c/c.txt'));
    assert.ok(!matchGlob('*.txt', '.hidden.txt'), 'no leading dot');
    assert.ok(matchGlob('.*.txt', '.hidden.txt'));
    assert.ok(!matchGlob('**/*.txt', '.git/a.txt'), '** skips dot directories');
    assert.ok(matchGlob('a+b(1)/[x].txt', 'a+b(1)/[x].txt'), 'regex characters are literal');
    assert.ok(matchGlob('dir\\*.txt', 'dir/a.txt'), 'backslash is a separator');
    assert.ok(hasGlobMagic('a/*.txt') && !hasGlobMagic('a/b.txt'));
  });

  describe('expandGlob and resolveCorpus on a folder tree', () => {
    let root = '';
    before(() => {
      root = mkdtempSync(join(tmpdir(), 'convbert-glob-'));
      for (const f of ['a.txt', 'b.txt', 'c.md', 'sub/d.txt', 'sub/deep/e.txt', 'sub/deep/f.md', '.hidden/g.txt', 'sub/.h.txt']) {
        mkdirSync(join(root, f, '..'), { recursive: true });
        writeFileSync(join(root, f), `${f}\n`);
      }
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    const rel = (paths: string[]): string[] => paths.map((p) => p.slice(root.length + 1).replace(/\\/g, '/'));

    it('expands patterns to sorted files', () => {
      assert.deepEqual(rel(expandGlob('*.txt', root)), ['a.txt', 'b.txt']);
      assert.deepEqual(rel(expandGlob('**/*.txt', root)), ['a.txt', 'b.txt', 'sub/d.txt', 'sub/deep/e.txt']);
      assert.deepEqual(rel(expandGlob('sub/**/*.md', root)), ['sub/deep/f.md']);
      assert.deepEqual(rel(expandGlob('sub/*/?.txt', root)), ['sub/deep/e.txt']);
      assert.deepEqual(rel(expandGlob('sub/**', root)), ['sub/d.txt', 'sub/deep/e.txt', 'sub/deep/f.md']);
      assert.deepEqual(rel(expandGlob('.hidden/*.txt', root)), ['.hidden/g.txt']);
      assert.deepEqual(rel(expandGlob(join(root, 'sub', '*.txt'), '/elsewhere')), ['sub/d.txt'], 'absolute patterns');
      assert.deepEqual(expandGlob('nope/*.txt', root), []);
    });

    it('resolves a corpus list, de-duplicating files and keeping order', () => {
      const src = resolveCorpus(['b.txt', '*.txt', 'sub/**/*.txt'], { baseDir: root });
      assert.equal(src.kind, 'files');
      assert.deepEqual(rel([...src.files]), ['b.txt', 'a.txt', 'sub/d.txt', 'sub/deep/e.txt']);
    });

    it('names the path when a file is missing, a glob matches nothing or a path is a folder', () => {
      assert.throws(() => resolveCorpus(['missing.txt'], { baseDir: root }), (e: Error) => e.message.includes('Corpus file not found') && e.message.includes(join(root, 'missing.txt')));
      assert.throws(() => resolveCorpus(['*.csv'], { baseDir: root }), (e: Error) => e.message.includes('"*.csv" matched no files') && e.message.includes(root));
      assert.throws(() => resolveCorpus(['sub'], { baseDir: root }), (e: Error) => e.message.includes('is a directory') && e.message.includes(join(root, 'sub')));
      assert.throws(() => resolveCorpus([], { baseDir: root }), /empty/);
    });
  });
});
