/** Issue #9, finding 10: a new spec's file ends in exactly one `.convbert.json`, and its `name` has no extension. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetSpecText } from '../../../src/core/spec/presets';
import { validateSpecText } from '../../../src/core/validate/validate';
import { specNameFor, specTargetPath } from '../../../src/extension/spec-naming';

const cases: [string, string, string][] = [
  // what the save dialog returned → the file written, the spec's name
  ['/ws/groupbert-mini.convbert.json.convbert.json', '/ws/groupbert-mini.convbert.json', 'groupbert-mini'],
  ['/ws/groupbert-mini.convbert.json', '/ws/groupbert-mini.convbert.json', 'groupbert-mini'],
  ['/ws/my-model', '/ws/my-model.convbert.json', 'my-model'],
  ['/ws/my-model.json', '/ws/my-model.convbert.json', 'my-model'],
  ['/ws/my-model.convbert', '/ws/my-model.convbert.json', 'my-model'],
  ['/ws/sub/v1.2.convbert.json.json', '/ws/sub/v1.2.convbert.json', 'v1.2'],
  ['/ws/My.Convbert.JSON', '/ws/My.convbert.json', 'My'],
  ['/ws/.convbert.json', '/ws/groupbert-mini.convbert.json', 'groupbert-mini'],
];

for (const [given, file, name] of cases) {
  test(`${given} → ${file}, name "${name}"`, () => {
    const target = specTargetPath(given, 'groupbert-mini');
    assert.equal(target, file);
    assert.equal(target.match(/\.convbert\.json/g)?.length, 1, 'exactly one .convbert.json');
    assert.equal(specNameFor(target, 'groupbert-mini'), name);
    assert.equal(specNameFor(given, 'groupbert-mini'), name, 'the same name from what the dialog returned');
    // The file the command writes is a valid spec with that name.
    const result = validateSpecText(presetSpecText('groupbert-mini', name));
    assert.equal(result.spec?.name, name);
    assert.doesNotMatch(name, /\.json$|\.convbert$/);
  });
}
