/**
 * Ablations of docs/sweeps.md, checked against hand-derived parameter counts (core/cost/modules.ts formulas) on
 * groupbert-tiny: H = 128, I = 512, 2 layers of conv (k 7, 16 channels per group, GLU, norm, bias), gffn (G 4),
 * attention, gffn (G 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeCost } from '../../src/core/cost/report';
import { resolveSpec, type ResolvedSpec } from '../../src/core/spec/resolve';
import { applyAblation, specFamily, withLayers } from '../../src/core/sweep/ablations';
import { ABLATION_NAMES, type AblationName } from '../../src/core/sweep/schema';
import type { SpecFile } from '../../src/core/spec/schema';
import { validateSpecText } from '../../src/core/validate';

const H = 128;
const I = 512;
const LAYERS = 2;
const file: SpecFile = { version: 1, extends: 'groupbert-tiny' };
const base = resolveSpec(file);
const params = (spec: ResolvedSpec) => computeCost(spec).totals.params;

/** One conv module: GLU 2H² + 2H, grouped conv k·g·H, conv bias H, inner norm 2H, output H² + H, branch norm 2H. */
const convParams = (k: number, g: number) => 2 * H * H + 2 * H + k * g * H + H + 2 * H + H * H + H + 2 * H;
/** One GFFN: up H·I + I, grouped down I·H/G + H, mixer H² + H when G > 1, branch norm 2H. */
const gffnParams = (G: number) => H * I + I + (I * H) / G + H + (G > 1 ? H * H + H : 0) + 2 * H;

/** The ablated spec both ways: in memory, and written as a spec file (what the run trains) and resolved again. */
function ablated(ablation: AblationName): { direct: ResolvedSpec; written: ResolvedSpec; file: SpecFile } {
  const direct = applyAblation(base, ablation);
  const written = withLayers(file, direct.model.layers);
  const check = validateSpecText(JSON.stringify(written));
  assert.deepEqual(check.diagnostics.filter((d) => d.severity === 'error'), [], `${ablation}: the written spec is valid`);
  return { direct, written: resolveSpec(written), file: written };
}

function modules(spec: ResolvedSpec) {
  return spec.model.layers.map((l) => l.modules);
}

test('the hand-derived module formulas match the cost model on groupbert-tiny (the baseline of every ablation below)', () => {
  const cost = computeCost(base);
  const all = cost.layers.flatMap((l) => l.modules);
  const conv = all.filter((m) => m.kind === 'conv');
  const gffn = all.filter((m) => m.kind === 'gffn');
  assert.equal(conv.length, LAYERS);
  assert.equal(gffn.length, 2 * LAYERS);
  for (const m of conv) assert.equal(m.params, convParams(7, 16));
  for (const m of gffn) assert.equal(m.params, gffnParams(4));
  assert.equal(convParams(7, 16), 64_512);
});

test('no-conv removes exactly the conv modules\' parameters, and nothing else', () => {
  const { direct, written } = ablated('no-conv');
  assert.equal(params(base) - params(direct), LAYERS * convParams(7, 16));
  assert.equal(params(base) - params(direct), 129_024);
  assert.equal(params(written), params(direct));
  assert.deepEqual(modules(written), modules(base).map((ms) => ms.filter((m) => m.type !== 'conv')));
  assert.deepEqual(modules(written)[0]?.map((m) => m.type), ['gffn', 'attention', 'gffn']);
});

test('kernel-15 and kernel-3 change only the conv kernel size (by (k − 7)·g·H parameters per conv)', () => {
  for (const [ablation, k] of [['kernel-15', 15], ['kernel-3', 3]] as const) {
    const { direct, written } = ablated(ablation);
    assert.equal(params(direct) - params(base), LAYERS * (k - 7) * 16 * H, ablation);
    assert.equal(params(written), params(direct));
    const expected = modules(base).map((ms) => ms.map((m) => (m.type === 'conv' ? { ...m, kernelSize: k } : m)));
    assert.deepEqual(modules(written), expected, ablation);
  }
  assert.equal(params(ablated('kernel-15').direct) - params(base), 32_768);
});

test('depthwise-conv: 1 channel per conv group (k·(1 − 16)·H parameters per conv)', () => {
  const { direct, written } = ablated('depthwise-conv');
  assert.equal(params(direct) - params(base), LAYERS * 7 * (1 - 16) * H);
  assert.equal(params(written), params(direct));
  for (const layer of modules(written)) for (const m of layer) if (m.type === 'conv') assert.equal(m.channelsPerGroup, 1);
});

test('dense-ffn: every GFFN with groups 1, a dense down-projection and no mixer (I·H − I·H/4 − H² − H per GFFN)', () => {
  const { direct, written } = ablated('dense-ffn');
  assert.equal(params(direct) - params(base), 2 * LAYERS * (gffnParams(1) - gffnParams(4)));
  assert.equal(gffnParams(1) - gffnParams(4), I * H - (I * H) / 4 - H * H - H);
  assert.equal(params(direct) - params(base), 130_560);
  assert.equal(params(written), params(direct));
  for (const layer of modules(written)) for (const m of layer) if (m.type === 'gffn') assert.equal(m.groups, 1);
});

test('one-gffn keeps only the first GFFN of each layer', () => {
  const { direct, written } = ablated('one-gffn');
  assert.equal(params(base) - params(direct), LAYERS * gffnParams(4));
  assert.equal(params(written), params(direct));
  assert.deepEqual(modules(written)[1]?.map((m) => m.type), ['conv', 'gffn', 'attention']);
});

test('the family: BERT when no layer has a conv or a GFFN, GroupBERT otherwise; every ablation keeps GroupBERT', () => {
  assert.equal(specFamily(resolveSpec({ version: 1, extends: 'bert-tiny' })), 'bert');
  assert.equal(specFamily(base), 'groupbert');
  // A BERT spec with one GFFN in one layer is GroupBERT-family.
  const mixed = resolveSpec({ version: 1, extends: 'bert-tiny', model: { layerOverrides: [{ layers: [1], modules: [{ type: 'attention' }, { type: 'gffn' }] }] } });
  assert.equal(specFamily(mixed), 'groupbert');
  for (const a of ABLATION_NAMES) assert.equal(specFamily(ablated(a).written), 'groupbert', a);
});

test('withLayers spells out layers that differ by depth as overrides, and resolving gives them back', () => {
  const spec = resolveSpec({ version: 1, extends: 'groupbert-tiny', model: { numLayers: 5, layerOverrides: [{ layers: '2-3', modules: [{ type: 'attention' }, { type: 'ffn' }] }] } });
  const ablatedSpec = applyAblation(spec, 'no-conv');
  const written = withLayers({ version: 1, extends: 'groupbert-tiny', model: { numLayers: 5 } }, ablatedSpec.model.layers);
  assert.deepEqual(written.model?.layerOverrides?.map((o) => o.layers), ['2-3']);
  assert.deepEqual(modules(resolveSpec(written)), modules(ablatedSpec));
  assert.deepEqual(modules(resolveSpec(written))[2]?.map((m) => m.type), ['attention', 'ffn']);
  assert.deepEqual(modules(resolveSpec(written))[4]?.map((m) => m.type), ['gffn', 'attention', 'gffn']);
});
