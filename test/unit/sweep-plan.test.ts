/** planSweep (docs/sweeps.md "Planning"): runs, steps at the budget, warmup, shared settings, grid, ablations, hashes, diagnostics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainingFlopsPerStep } from '../../src/core/cost/budget';
import { resolveSpec } from '../../src/core/spec/resolve';
import { learningRateAt } from '../../src/core/train/schedule';
import { planSweep, validateSweepText, type PlanOptions } from '../../src/core/sweep';
import { validateSpecText } from '../../src/core/validate';
import type { Diagnostic } from '../../src/core/spec/diagnostics';
import { naivePosition } from './text-positions';

const SWEEP = join('/work', 'ws', 'cmp.sweep.json');
const noFiles: PlanOptions['readSpec'] = (p) => assert.fail(`no spec file should be read (${p})`);

function plan(text: string, readSpec: PlanOptions['readSpec'] = noFiles) {
  return planSweep(text, { sweepPath: SWEEP, readSpec });
}

/** The text a diagnostic's range covers. */
function at(text: string, d: { range: { offset: number; length: number } }): string {
  return text.slice(d.range.offset, d.range.offset + d.range.length);
}

const errors = (r: { diagnostics: Diagnostic[] }): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');

const SHARED = { corpus: 'bundled', sequenceLength: 32, batchSize: 2, learningRate: { peak: 1e-3, final: 1e-6, decay: 'linear' } };
/** The shared settings applied to a preset, as the planner does, to know its FLOPs per step by the cost model. */
const flops = (preset: string) => trainingFlopsPerStep(resolveSpec({ version: 1, extends: preset as 'bert-tiny', training: SHARED as never }));

function sweep(extra: Record<string, unknown>, runs: unknown[] = [{ name: 'bert', spec: { extends: 'bert-tiny' } }]): string {
  return JSON.stringify({ version: 1, name: 'cmp', flopBudget: 10.5 * flops('bert-tiny'), shared: SHARED, runs, ...extra }, null, 2);
}

test('a budget of 10.5 steps trains 11; warmupFraction 0.1 warms up round(1.1) = 1 step, 0.25 round(2.75) = 3', () => {
  const r = plan(sweep({ warmupFraction: 0.1 }));
  assert.deepEqual(errors(r), []);
  const run = r.plan?.runs[0];
  assert.ok(run);
  assert.equal(run.flopsPerStep, flops('bert-tiny'));
  assert.equal(run.steps, 11);
  assert.equal(run.specFile.training?.steps, 11);
  assert.equal(run.specFile.training?.flopBudget, 10.5 * flops('bert-tiny'));
  assert.equal(run.resolved.training.learningRate.warmupSteps, 1);
  assert.equal(plan(sweep({ warmupFraction: 0.25 })).plan?.runs[0]?.resolved.training.learningRate.warmupSteps, 3);
  // Without warmupFraction the spec's own warmup stays (bert-tiny: 100 steps), with a warning: it never decays.
  const own = plan(sweep({}));
  assert.equal(own.plan?.runs[0]?.resolved.training.learningRate.warmupSteps, 100);
  assert.deepEqual(own.diagnostics.map((d) => d.code), ['warmup-past-steps']);
});

test('the fitted schedule decays to exactly the budget\'s steps: the last update (t = steps − 1) is at the decay\'s final rate', () => {
  for (const decay of ['linear', 'cosine', 'polynomial'] as const) {
    const text = sweep({ warmupFraction: 0.1, shared: { ...SHARED, learningRate: { ...SHARED.learningRate, decay } } });
    const run = plan(text).plan?.runs[0];
    assert.ok(run, decay);
    const lr = run.resolved.training.learningRate;
    const steps = run.steps;
    assert.equal(lr.final, 1e-6);
    assert.equal(learningRateAt(lr.warmupSteps, lr, steps), 1e-3, `${decay}: peak at the end of warmup`);
    assert.ok(learningRateAt(steps - 2, lr, steps) > 1e-6 * 1.5, `${decay}: still decaying one update before the end`);
    if (decay !== 'polynomial') assert.equal(learningRateAt(steps - 1, lr, steps), 1e-6, `${decay}: the final rate at the last update`);
    assert.equal(learningRateAt(steps, lr, steps), 1e-6, `${decay}: the final rate at step = steps`);
  }
});

test('runs × seeds: ids, seeds, family, shared over the spec\'s training, and the planned spec is what resolves', () => {
  const text = sweep({ seeds: [3], warmupFraction: 0.1 }, [
    { name: 'bert', spec: { extends: 'bert-tiny', training: { batchSize: 16, weightDecay: 0.5 } }, seeds: [1, 2] },
    { name: 'gb', spec: { extends: 'groupbert-tiny' } },
  ]);
  const r = plan(text);
  assert.deepEqual(errors(r), []);
  const runs = r.plan?.runs ?? [];
  assert.deepEqual(runs.map((x) => x.id), ['cmp--bert-s1', 'cmp--bert-s2', 'cmp--gb-s3']);
  assert.deepEqual(runs.map((x) => x.seed), [1, 2, 3]);
  assert.deepEqual(runs.map((x) => x.family), ['bert', 'bert', 'groupbert']);
  const bert = runs[0]!;
  assert.equal(bert.resolved.training.batchSize, 2, 'shared wins over the spec');
  assert.equal(bert.resolved.training.weightDecay, 0.5, 'what shared does not set stays');
  assert.equal(bert.resolved.training.seed, 1);
  assert.equal(bert.resolved.name, 'bert');
  assert.deepEqual(bert.resolved, resolveSpec(bert.specFile));
  assert.equal(r.plan?.name, 'cmp');
  assert.equal(r.plan?.parallel, 'auto');
  // The GroupBERT run costs more per step, so it trains fewer steps at the same budget.
  const gb = runs[2]!;
  assert.equal(gb.steps, Math.ceil((10.5 * flops('bert-tiny')) / flops('groupbert-tiny')));
  assert.ok(gb.steps < bert.steps);
});

test('hashes: stable under formatting and key order; a run\'s hash changes only with its own inputs', () => {
  const runs = [{ name: 'bert', spec: { extends: 'bert-tiny' } }];
  const a = plan(sweep({ warmupFraction: 0.1 }, runs)).plan!;
  const reordered = JSON.stringify({ runs, warmupFraction: 0.1, shared: SHARED, flopBudget: 10.5 * flops('bert-tiny'), name: 'cmp', version: 1 });
  assert.equal(plan(reordered).plan?.hash, a.hash);
  const more = plan(sweep({ warmupFraction: 0.1 }, [...runs, { name: 'gb', spec: { extends: 'groupbert-tiny' } }])).plan!;
  assert.notEqual(more.hash, a.hash);
  assert.equal(more.runs[0]?.hash, a.runs[0]?.hash, 'adding a run leaves the others alone');
  const seeds = plan(sweep({ warmupFraction: 0.1, parallel: 2 }, runs)).plan!;
  assert.equal(seeds.hash, a.hash, '`parallel` does not decide the runs');
  assert.equal(seeds.parallel, 2);
  const budget = plan(sweep({ warmupFraction: 0.1, flopBudget: 20 * flops('bert-tiny') }, runs)).plan!;
  assert.notEqual(budget.runs[0]?.hash, a.runs[0]?.hash);
  assert.equal(budget.runs[0]?.steps, 20);
});

test('a spec file is read from the sweep file\'s folder; its relative corpus paths are rebased to the sweep\'s folder', () => {
  const read: string[] = [];
  const text = sweep({ warmupFraction: 0.1, shared: { ...SHARED, corpus: undefined } }, [{ name: 'bert', spec: 'specs/b.convbert.json' }]);
  const r = plan(text, (p) => {
    read.push(p);
    return '{ "version": 1, "extends": "bert-tiny", "training": { "corpus": ["../data/*.txt", "/abs/x.txt"] } }';
  });
  assert.deepEqual(errors(r), []);
  assert.deepEqual(read, [join('/work', 'ws', 'specs', 'b.convbert.json')]);
  assert.deepEqual(r.plan?.runs[0]?.specFile.training?.corpus, ['data/*.txt', '/abs/x.txt']);
});

test('a spec file that is invalid, missing or unreadable is an error at that run\'s "spec", with the spec\'s own message', () => {
  const text = sweep({ warmupFraction: 0.1 }, [{ name: 'bert', spec: 'specs/b.convbert.json' }]);
  const bad = plan(text, () => '{ "version": 1, "extends": "bert-tiny", "model": { "numHeads": 3 } }');
  assert.equal(bad.plan, undefined);
  const own = validateSpecText('{ "version": 1, "extends": "bert-tiny", "model": { "numHeads": 3 } }').diagnostics.find((d) => d.severity === 'error')!;
  const e = errors(bad);
  assert.ok(e.length >= 1);
  assert.equal(e[0]?.code, 'run-spec');
  assert.equal(at(text, e[0]!), '"specs/b.convbert.json"');
  assert.ok(e[0]?.message.startsWith(`run "bert": specs/b.convbert.json:1:`), e[0]?.message);
  assert.ok(e[0]?.message.includes(own.message), e[0]?.message);
  const missing = errors(plan(text, () => undefined));
  assert.deepEqual(missing.map((d) => d.code), ['spec-file']);
  const thrown = errors(plan(text, () => { throw new Error('EACCES: permission denied'); }));
  assert.match(thrown[0]?.message ?? '', /^run "bert": cannot read the spec file specs\/b\.convbert\.json: EACCES: permission denied$/);
  // The editor's check without a reader leaves spec files alone.
  assert.deepEqual(validateSweepText(text, { sweepPath: SWEEP }).filter((d) => d.severity === 'error'), []);
});

test('an inline spec\'s semantic error lands on the exact range in the sweep file, as the spec validator places it', () => {
  const specText = '{ "extends": "bert-tiny", "model": { "numHeads": 3 } }';
  const text = `// a sweep\n{\n  "version": 1, "name": "cmp", "flopBudget": 1e12, "warmupFraction": 0.1,\n  "runs": [\n    { "name": "bad", "spec": ${specText} }\n  ]\n}\n`;
  const r = plan(text);
  assert.equal(r.plan, undefined);
  const alone = `{ "version": 1, ${specText.slice(2)}`;
  const own = validateSpecText(alone).diagnostics.filter((d) => d.severity === 'error');
  const e = errors(r);
  assert.equal(e.length, own.length);
  assert.equal(e[0]?.code, 'heads-divisibility');
  assert.equal(e[0]?.message, own[0]?.message);
  assert.equal(at(text, e[0]!), at(alone, own[0]!));
  assert.deepEqual(e[0]?.path.slice(0, 3), ['runs', 0, 'spec']);
  assert.deepEqual(e[0]?.range.start, naivePosition(text, e[0]!.range.offset));
  assert.equal(e[0]?.range.start.line, 4);
  // The same with Windows line ends and a byte-order mark: offsets and positions still land on the value.
  const crlf = `\uFEFF${text.replace(/\n/g, '\r\n')}`;
  const w = errors(plan(crlf));
  assert.equal(w.length, 1);
  assert.equal(at(crlf, w[0]!), at(alone, own[0]!));
  assert.deepEqual(w[0]?.range.start, { line: 4, character: e[0]!.range.start.character });
});

test('schema problems are reported like the spec\'s: unknown keys with suggestions, shared may not set steps, missing version', () => {
  const text = '{\n  "version": 1, "name": "cmp", "flopBuget": 1e12,\n  "shared": { "steps": 10 },\n  "runs": [{ "name": "a", "spec": { "extends": "bert-tinyy" } }]\n}';
  const r = plan(text);
  const byCode = (code: string) => r.diagnostics.filter((d) => d.code === code);
  const unknown = byCode('unknown-property');
  assert.ok(unknown.some((d) => at(text, d) === '"flopBuget"' && /did you mean "flopBudget"/.test(d.message)), JSON.stringify(unknown));
  assert.ok(unknown.some((d) => at(text, d) === '"steps"'), JSON.stringify(unknown));
  assert.ok(r.diagnostics.some((d) => d.code === 'invalid-value' && at(text, d) === '"bert-tinyy"' && /did you mean "bert-tiny"/i.test(d.message)));
  assert.ok(byCode('missing-property').some((d) => /flopBudget/.test(d.message)));
  assert.match(plan('').diagnostics[0]?.message ?? '', /a sweep starts like/);
  assert.match(plan('[1]').diagnostics[0]?.message ?? '', /^a sweep file is a JSON object/);
  assert.ok(plan('{ "name": "cmp", "flopBudget": 1, "runs": [] }').diagnostics.some((d) => d.code === 'missing-property' && /"version"/.test(d.message)));
  assert.ok(plan('{ "version": 1, "name": "Bad Name", "flopBudget": 1e12 }').diagnostics.some((d) => d.code === 'invalid-pattern'));
});

test('a setting a run does not share is an error at that run only (the value most runs have is the sweep\'s); "shared" fixes it', () => {
  const runs = [
    { name: 'a', spec: { extends: 'bert-tiny' } },
    { name: 'b', spec: { extends: 'bert-tiny', training: { maskRate: 0.2, gradientAccumulation: 2 } } },
    { name: 'c', spec: { extends: 'groupbert-tiny', training: { batchSize: 64 } } },
  ];
  const text = sweep({ warmupFraction: 0.1 }, runs);
  const r = plan(text);
  assert.equal(r.plan, undefined);
  const e = errors(r);
  assert.deepEqual(e.map((d) => d.code), ['not-shared', 'not-shared', 'not-shared']);
  assert.ok(e.every((d) => JSON.stringify(d.path) === '["runs",1,"spec"]'), JSON.stringify(e));
  assert.ok(e.some((d) => /^run "b" trains with batchSize × gradientAccumulation 4, 2 other runs with 2;/.test(d.message)), JSON.stringify(e));
  assert.ok(e.some((d) => /maskRate 0\.2, 2 other runs with 0\.15/.test(d.message)));
  // maxPredictions follows the mask rate: ceil(0.2 × 32) = 7 against ceil(0.15 × 32) = 5.
  assert.ok(e.some((d) => /maxPredictions 7, 2 other runs with 5/.test(d.message)));
  // c's own batchSize 64 gives way to shared's 2: no error there. With maskRate in shared only the batch remains.
  const fixed = plan(sweep({ warmupFraction: 0.1, shared: { ...SHARED, maskRate: 0.2 } }, runs));
  assert.deepEqual(errors(fixed).map((d) => d.message.replace(/ with .*/, '')), ['run "b" trains']);
});

test('an ablation on a BERT-family run is an error at the ablation; on GroupBERT it is planned and written out', () => {
  const text = sweep({ warmupFraction: 0.1 }, [{ name: 'b', spec: { extends: 'bert-tiny' }, ablation: 'no-conv' }]);
  const r = plan(text);
  assert.equal(r.plan, undefined);
  assert.deepEqual(errors(r).map((d) => [d.code, at(text, d)]), [['ablation-on-bert', '"no-conv"']]);
  const ok = plan(sweep({ warmupFraction: 0.1 }, [{ name: 'g', spec: { extends: 'groupbert-tiny' }, ablation: 'kernel-15' }]));
  assert.deepEqual(errors(ok), []);
  const run = ok.plan!.runs[0]!;
  assert.equal(run.ablation, 'kernel-15');
  assert.ok(run.resolved.model.layers.every((l) => l.modules.every((m) => m.type !== 'conv' || m.kernelSize === 15)));
  assert.deepEqual(run.resolved.model.layers, resolveSpec(run.specFile).model.layers);
});

test('the grid: every combination of the axes, named by the template; unknown placeholders and bad names are errors', () => {
  const grid = { base: { extends: 'groupbert-tiny' }, axes: { 'model.numLayers': [1, 2], 'model.hiddenSize': [64, 128] }, name: 'gb-L{model.numLayers}-H{model.hiddenSize}' };
  const r = plan(sweep({ warmupFraction: 0.1, grid }, []));
  assert.deepEqual(errors(r), []);
  const runs = r.plan!.runs;
  assert.deepEqual(runs.map((x) => x.name), ['gb-L1-H64', 'gb-L1-H128', 'gb-L2-H64', 'gb-L2-H128']);
  assert.deepEqual(runs.map((x) => [x.resolved.model.numLayers, x.resolved.model.hiddenSize]), [[1, 64], [1, 128], [2, 64], [2, 128]]);
  const defaultName = plan(sweep({ warmupFraction: 0.1, grid: { ...grid, name: undefined } }, [])).plan!.runs.map((x) => x.name);
  assert.deepEqual(defaultName, ['grid-1-64', 'grid-1-128', 'grid-2-64', 'grid-2-128']);
  const text = sweep({ warmupFraction: 0.1, grid: { ...grid, name: 'gb-{model.numLayer}' } }, []);
  const bad = errors(plan(text));
  assert.deepEqual(bad.map((d) => d.code), ['grid-name']);
  assert.match(bad[0]!.message, /"\{model\.numLayer\}" in the grid's name is not an axis/);
  // A combination whose spec is invalid (hidden 60 is not a multiple of the conv's 16 channels per group) is an error at the axes.
  const invalid = errors(plan(sweep({ warmupFraction: 0.1, grid: { ...grid, name: undefined, axes: { 'model.hiddenSize': [64, 60] } } }, [])));
  assert.ok(invalid.length > 0 && invalid.every((d) => d.code === 'run-spec' && d.path.join('.') === 'grid.axes'), JSON.stringify(invalid));
  assert.match(invalid[0]!.message, /^grid run "grid-60" \(model\.hiddenSize = 60\), as planned \(with "shared"\): .*\[conv-group-divisibility\]$/);
});

test('duplicate run names, no runs, and a shared setting that breaks a spec are errors', () => {
  const dup = sweep({ warmupFraction: 0.1 }, [{ name: 'a', spec: { extends: 'bert-tiny' } }, { name: 'a', spec: { extends: 'bert-tiny' } }]);
  assert.deepEqual(errors(plan(dup)).map((d) => [d.code, d.path]), [['duplicate-run', ['runs', 1, 'name']]]);
  assert.deepEqual(errors(plan(sweep({}, []))).map((d) => d.code), ['no-runs']);
  const long = sweep({ warmupFraction: 0.1, shared: { ...SHARED, sequenceLength: 1024 } });
  const e = errors(plan(long));
  assert.deepEqual(e.map((d) => [d.code, d.path.join('.')]), [['run-spec', 'runs.0.spec']]);
  assert.match(e[0]!.message, /as planned \(with "shared"\).*sequence-too-long/);
});

test('never throws, whatever the text', () => {
  for (const text of ['', '{', 'null', '{"version":1,"name":"x","flopBudget":1,"runs":[{"name":"a","spec":{}}]}', '{"runs":[{"spec":{"extends":"groupbert-tiny"}}]}', '\uFEFF{"version": 1}', 'x'.repeat(1000)]) {
    const r = planSweep(text, { sweepPath: SWEEP, readSpec: () => undefined });
    assert.ok(Array.isArray(r.diagnostics));
    assert.ok(!r.diagnostics.some((d) => d.code === 'internal-error'), `${text.slice(0, 30)}: ${JSON.stringify(r.diagnostics)}`);
  }
});

test('the example of docs/sweeps.md plans without a problem (its "…" filled in)', () => {
  const md = readFileSync('docs/sweeps.md', 'utf8');
  const block = /```jsonc\n([\s\S]*?)```/.exec(md)?.[1];
  assert.ok(block);
  const text = block.replace(/, …/g, '').replace(/"…"/g, '"an example"');
  const read: string[] = [];
  const r = planSweep(text, { sweepPath: SWEEP, readSpec: (p) => (read.push(p), '{ "version": 1, "extends": "bert-mini" }') });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(read, [join('/work', 'ws', 'specs', 'bert-mini.convbert.json')]);
  assert.deepEqual(
    r.plan?.runs.map((x) => x.id),
    ['bert-mini-s1', 'bert-mini-s2', 'groupbert-mini-s1', 'groupbert-mini-noconv-s1', 'gb-L2-H128-s1', 'gb-L2-H256-s1', 'gb-L4-H128-s1', 'gb-L4-H256-s1'].map((id) => `groupbert-vs-bert--${id}`),
  );
  assert.deepEqual(r.plan?.runs.map((x) => x.family), ['bert', 'bert', 'groupbert', 'groupbert', 'groupbert', 'groupbert', 'groupbert', 'groupbert']);
  assert.ok(r.plan?.runs.every((x) => x.resolved.training.engine === 'torch' && x.resolved.training.flopBudget === 2e14));
});

test('an inline spec that only `shared` makes valid (sequence length past its maxPositions) plans without errors', () => {
  const text = JSON.stringify({
    version: 1,
    name: 'fix-by-shared',
    flopBudget: 1e9,
    shared: { sequenceLength: 16 },
    runs: [{ name: 'small', spec: { extends: 'bert-tiny', model: { maxPositions: 32 } } }],
  });
  const r = planSweep(text, { sweepPath: '/tmp/x.sweep.json', readSpec: () => undefined });
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), []);
  assert.equal(r.plan?.runs[0]?.resolved.training.sequenceLength, 16);
  // Without `shared` fixing it, the same spec is an error at the run.
  const broken = planSweep(text.replace('"shared":{"sequenceLength":16},', ''), { sweepPath: '/tmp/x.sweep.json', readSpec: () => undefined });
  assert.ok(broken.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(broken.diagnostics));
});
