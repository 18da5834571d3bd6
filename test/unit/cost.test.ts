/**
 * The cost model against groupbert.md §6.2 and §7. Every figure is checked twice: the closed forms below are
 * derived by hand from the architecture description (§1–5), independently of `src/core/cost`, and are checked
 * against the document's exact anchors and rounded tables; then `computeCost` must equal the closed forms exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeCost } from '../../src/core/cost';
import { resolveSpec } from '../../src/core/spec/resolve';
import type { ModuleSpec, SpecFile } from '../../src/core/spec/schema';
import type { PresetName } from '../../src/core/spec/presets';

// ---------------------------------------------------------------------------------------------------------
// Hand-derived closed forms (H hidden, I = 4H intermediate, V vocab, S sequence length, L layers)

/** BERT layer: attention 4H² + 4H biases + LN 2H; FFN 2HI + I + H + LN 2H. */
const bertLayerParams = (H: number, I = 4 * H) => 4 * H * H + 4 * H + 2 * H + (2 * H * I + I + H + 2 * H);
/** GroupBERT conv module: GLU 2H² + 2H, conv k·g·H (+H bias), inner LN 2H, output H² + H, LN 2H. */
const convParams = (H: number, { k = 7, g = 16, bias = true } = {}) => 3 * H * H + k * g * H + 3 * H + (bias ? H : 0) + 4 * H;
/** GFFN: up H·I + I, grouped down I·H/G + H, mixer H² + H when G > 1, LN 2H. */
const gffnParams = (H: number, G = 4, mixer = true, I = 4 * H) => H * I + I + (I * H) / G + H + (mixer && G > 1 ? H * H + H : 0) + 2 * H;
/** Attention: 4H² + (3H qkv bias) + H projection bias + LN 2H. */
const attentionParams = (H: number, qkvBias = true) => 4 * H * H + (qkvBias ? 3 * H : 0) + H + 2 * H;
const groupbertLayerParams = (H: number, convBias = true, qkvBias = true) => convParams(H, { bias: convBias }) + 2 * gffnParams(H) + attentionParams(H, qkvBias);
/** Embeddings (V + 512 positions + 2 token types)·H + LN 2H. */
const embeddingParams = (H: number, V = 30522) => (V + 512 + 2) * H + 2 * H;
/** Final LN (pre-norm only) + MLM transform H² + H, LN 2H, vocab bias V (tied decoder) + pooler H² + H + NSP 2H + 2. */
const headParams = (H: number, preNorm: boolean, V = 30522) => (preNorm ? 2 * H : 0) + (H * H + H + 2 * H + V) + (H * H + H) + (2 * H + 2);

/** §7: BERT layer 24H² + 4SH; GroupBERT layer 38H² + 4SH + 2kgH, forward matmul FLOPs per token. */
const bertLayerFlops = (H: number, S: number) => 24 * H * H + 4 * S * H;
const groupbertLayerFlops = (H: number, S: number, k = 7, g = 16) => 38 * H * H + 4 * S * H + 2 * k * g * H;

const SIZES = {
  tiny: { L: 2, H: 128 },
  mini: { L: 4, H: 256 },
  medium: { L: 8, H: 512 },
  base: { L: 12, H: 768 },
  large: { L: 24, H: 1024 },
} as const;
type Size = keyof typeof SIZES;

const millions = (n: number) => (n / 1e6).toFixed(2);
const gflops = (n: number) => (n / 1e9).toFixed(4);

const preset = (name: PresetName, seq = 128) => resolveSpec({ version: 1, extends: name, training: { sequenceLength: seq } });
const fromFile = (file: SpecFile) => resolveSpec(file);

/** GroupBERT as in Graphcore's TF reference: no conv bias (§10.2), optionally no qkv bias and another vocabulary. */
function groupbertTf(size: Size, opts: { vocab?: number; qkvBias?: boolean } = {}): SpecFile {
  return {
    version: 1,
    extends: `groupbert-${size}`,
    model: {
      ...(opts.vocab !== undefined ? { vocabSize: opts.vocab } : {}),
      layer: {
        modules: [
          { type: 'conv', kernelSize: 7, channelsPerGroup: 16, bias: false },
          { type: 'gffn', groups: 4 },
          { type: 'attention', qkvBias: opts.qkvBias ?? true },
          { type: 'gffn', groups: 4 },
        ],
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The exact anchors

test('BERT-Base has 110,106,428 parameters and 174,587,904 encoder matmul FLOPs per token at S=128', () => {
  const H = 768;
  assert.equal(embeddingParams(H) + 12 * bertLayerParams(H) + headParams(H, false), 110_106_428, 'closed form');
  assert.equal(12 * bertLayerFlops(H, 128), 174_587_904, 'closed form');
  const r = computeCost(preset('bert-base'));
  assert.equal(r.totals.params, 110_106_428);
  assert.equal(r.totals.encoderParams, 12 * bertLayerParams(H));
  assert.equal(r.totals.encoderForwardMatmulFlopsPerToken, 174_587_904);
});

test('GroupBERT-Base has 160,842,044 parameters and 275,742,720 encoder matmul FLOPs per token at S=128', () => {
  const H = 768;
  assert.equal(embeddingParams(H) + 12 * groupbertLayerParams(H) + headParams(H, true), 160_842_044, 'closed form');
  assert.equal(12 * groupbertLayerFlops(H, 128), 275_742_720, 'closed form');
  const r = computeCost(preset('groupbert-base'));
  assert.equal(r.totals.params, 160_842_044);
  assert.equal(r.totals.encoderParams, 12 * groupbertLayerParams(H));
  assert.equal(r.totals.encoderForwardMatmulFlopsPerToken, 275_742_720);
});

test('§6.2 per-layer breakdown at Base: conv 1.861 M, GFFN 3.545 M, attention 2.364 M (2.362 M without qkv bias)', () => {
  assert.equal(convParams(768, { bias: false }), 1_860_864, 'the §2 figure, TF conv without bias');
  const layer = computeCost(preset('groupbert-base')).layers[0]!;
  const byName = Object.fromEntries(layer.modules.map((m) => [m.name, m.params]));
  assert.deepEqual(byName, {
    'layer00/conv': convParams(768),
    'layer00/gffn1': gffnParams(768),
    'layer00/attention': attentionParams(768),
    'layer00/gffn2': gffnParams(768),
  });
  assert.equal((convParams(768) / 1e6).toFixed(3), '1.862', 'the preset has the PyTorch port\'s conv bias (+H)');
  assert.equal((gffnParams(768) / 1e6).toFixed(3), '3.545');
  assert.equal((attentionParams(768) / 1e6).toFixed(3), '2.364');
  assert.equal((attentionParams(768, false) / 1e6).toFixed(3), '2.362');
  assert.equal((groupbertLayerParams(768, false) / 1e6).toFixed(2), '11.31', '§6.2 "≈ 11.31 M" is the TF layer');
  assert.equal((groupbertLayerParams(768) / 1e6).toFixed(2), '11.32');
  assert.equal((bertLayerParams(768) / 1e6).toFixed(2), '7.09');
});

// ---------------------------------------------------------------------------------------------------------
// §6.2 tables

/**
 * Encoder only. The GroupBERT column is Graphcore's TF layout (no conv bias): with the PyTorch conv bias the
 * preset's encoder is L·H larger (135,788,544 at Base, which would round to 135.79 M).
 */
const ENCODER_TABLE: Record<Size, [bert: string, groupbert: string, ratio: string]> = {
  tiny: ['0.40', '0.66', '1.66'],
  mini: ['3.16', '5.13', '1.62'],
  medium: ['25.22', '40.42', '1.60'],
  base: ['85.05', '135.78', '1.60'],
  large: ['302.31', '481.62', '1.59'],
};

test('§6.2 encoder-only parameters for every size', () => {
  for (const [size, [bertM, groupM, ratio]] of Object.entries(ENCODER_TABLE) as [Size, [string, string, string]][]) {
    const { L, H } = SIZES[size];
    const bertForm = L * bertLayerParams(H);
    const groupForm = L * groupbertLayerParams(H, false);
    assert.equal(millions(bertForm), bertM, `${size} BERT closed form`);
    assert.equal(millions(groupForm), groupM, `${size} GroupBERT closed form`);
    assert.equal((groupForm / bertForm).toFixed(2), ratio, `${size} ratio`);

    assert.equal(computeCost(preset(`bert-${size}`)).totals.encoderParams, bertForm, `${size} BERT`);
    assert.equal(computeCost(fromFile(groupbertTf(size))).totals.encoderParams, groupForm, `${size} GroupBERT (TF)`);
    assert.equal(computeCost(preset(`groupbert-${size}`)).totals.encoderParams, groupForm + L * H, `${size} GroupBERT preset (conv bias)`);
  }
});

const FULL_TABLE: Record<'medium' | 'base' | 'large', [bert: string, groupbertPt: string, tfAdam: string, tfLamb: string]> = {
  medium: ['41.67', '56.88', '56.86', '56.81'],
  base: ['110.11', '160.84', '160.81', '160.74'],
  large: ['336.23', '515.56', '515.47', '515.41'],
};

test('§6.2 full pretraining-model parameters: BERT, GroupBERT [PT], [TF] Adam (V 30528, no qkv bias), [TF] LAMB (V 30400)', () => {
  for (const [size, [bertM, ptM, adamM, lambM]] of Object.entries(FULL_TABLE) as [keyof typeof FULL_TABLE, string[]][]) {
    const { L, H } = SIZES[size];
    const bertForm = embeddingParams(H) + L * bertLayerParams(H) + headParams(H, false);
    const ptForm = embeddingParams(H) + L * groupbertLayerParams(H) + headParams(H, true);
    const adamForm = embeddingParams(H, 30528) + L * groupbertLayerParams(H, false, false) + headParams(H, true, 30528);
    const lambForm = embeddingParams(H, 30400) + L * groupbertLayerParams(H, false, true) + headParams(H, true, 30400);
    assert.deepEqual([bertForm, ptForm, adamForm, lambForm].map(millions), [bertM, ptM, adamM, lambM], `${size} closed forms`);

    assert.equal(computeCost(preset(`bert-${size}`)).totals.params, bertForm, `${size} BERT`);
    assert.equal(computeCost(preset(`groupbert-${size}`)).totals.params, ptForm, `${size} GroupBERT [PT]`);
    assert.equal(computeCost(fromFile(groupbertTf(size, { vocab: 30528, qkvBias: false }))).totals.params, adamForm, `${size} [TF] Adam`);
    assert.equal(computeCost(fromFile(groupbertTf(size, { vocab: 30400 }))).totals.params, lambForm, `${size} [TF] LAMB`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// §7 FLOP table

const FLOP_TABLE: [size: 'medium' | 'base' | 'large', S: number, bert: string, groupbert: string, ratio: string][] = [
  ['medium', 128, '0.0524', '0.0827', '1.58'],
  ['base', 128, '0.1746', '0.2757', '1.58'],
  ['large', 128, '0.6166', '0.9744', '1.58'],
  ['base', 384, '0.1840', '0.2852', '1.55'],
  ['large', 384, '0.6417', '0.9996', '1.56'],
];

test('§7 forward GFLOP per token of the encoder at S=128 and 384', () => {
  for (const [size, S, bertG, groupG, ratio] of FLOP_TABLE) {
    const { L, H } = SIZES[size];
    const bertForm = L * bertLayerFlops(H, S);
    const groupForm = L * groupbertLayerFlops(H, S);
    assert.deepEqual([gflops(bertForm), gflops(groupForm), (groupForm / bertForm).toFixed(2)], [bertG, groupG, ratio], `${size}@${S} closed forms`);
    assert.equal(computeCost(preset(`bert-${size}`, S)).totals.encoderForwardMatmulFlopsPerToken, bertForm, `${size}@${S} BERT`);
    assert.equal(computeCost(preset(`groupbert-${size}`, S)).totals.encoderForwardMatmulFlopsPerToken, groupForm, `${size}@${S} GroupBERT`);
    // The sequence-length option overrides the spec's own.
    assert.equal(computeCost(preset(`groupbert-${size}`), { sequenceLength: S }).totals.encoderForwardMatmulFlopsPerToken, groupForm);
  }
});

test('§7 heads: MLM 2H² + 2HV per masked token; embedding lookups free; training matmul = 3× forward', () => {
  const H = 768;
  const V = 30522;
  const r = computeCost(preset('groupbert-base'), { batchSize: 4, maskedPerSequence: 20 });
  const mlm = r.heads.find((h) => h.kind === 'mlm_head')!;
  assert.equal(mlm.forward.matmul, 4 * 20 * (2 * H * H + 2 * H * V));
  assert.equal(r.embeddings.forward.matmul, 0);
  assert.equal(r.totals.forward.matmul + r.totals.backward.matmul, 3 * r.totals.forward.matmul);
});

// ---------------------------------------------------------------------------------------------------------
// §7 ablation variants at Base, S=128, encoder only (the table's variants use the TF conv without bias)

const conv = (o: Partial<{ kernelSize: number; channelsPerGroup: number }> = {}): ModuleSpec => ({ type: 'conv', kernelSize: 7, channelsPerGroup: 16, bias: false, ...o });
const gffn = (groups = 4, mixer = true): ModuleSpec => ({ type: 'gffn', groups, mixer });
const attention: ModuleSpec = { type: 'attention' };
const variant = (modules: ModuleSpec[]): SpecFile => ({ version: 1, extends: 'groupbert-base', model: { layer: { modules } } });

const H = 768;
const L = 12;
const S = 128;
/** Per-layer closed forms for the variants: conv 6H² + 2kgH; GFFN 2HI + 2IH/G (+2H² mixer); attention 8H² + 4SH. */
const convF = (k = 7, g = 16) => 6 * H * H + 2 * k * g * H;
const gffnF = (G = 4, mixer = true) => 8 * H * H + (8 * H * H) / G + (mixer && G > 1 ? 2 * H * H : 0);
const attnF = 8 * H * H + 4 * S * H;
const convP = (k = 7, g = 16) => convParams(H, { k, g, bias: false });

const ABLATIONS: { name: string; file: SpecFile; params: number; flops: number; table: [string, string] }[] = [
  {
    name: 'GroupBERT default',
    file: variant([conv(), gffn(), attention, gffn()]),
    params: convP() + 2 * gffnParams(H) + attentionParams(H),
    flops: convF() + 2 * gffnF() + attnF,
    table: ['135.78', '0.2757'],
  },
  {
    name: 'without conv module (as a layer override of every layer)',
    file: { version: 1, extends: 'groupbert-base', model: { layerOverrides: [{ layers: '0-11', modules: [gffn(), attention, gffn()] }] } },
    params: 2 * gffnParams(H) + attentionParams(H),
    flops: 2 * gffnF() + attnF,
    table: ['113.45', '0.2312'],
  },
  {
    name: 'dense FFNs (G=1, no mixer)',
    file: variant([conv(), gffn(1, false), attention, gffn(1, false)]),
    params: convP() + 2 * gffnParams(H, 1, false) + attentionParams(H),
    flops: convF() + 2 * gffnF(1, false) + attnF,
    table: ['164.07', '0.3324'],
  },
  {
    name: 'G=1 with mixer asked for: no mixer (reference code)',
    file: variant([conv(), gffn(1, true), attention, gffn(1, true)]),
    params: convP() + 2 * gffnParams(H, 1, false) + attentionParams(H),
    flops: convF() + 2 * gffnF(1, false) + attnF,
    table: ['164.07', '0.3324'],
  },
  {
    name: 'G=4 without mixer',
    file: variant([conv(), gffn(4, false), attention, gffn(4, false)]),
    params: convP() + 2 * gffnParams(H, 4, false) + attentionParams(H),
    flops: convF() + 2 * gffnF(4, false) + attnF,
    table: ['121.61', '0.2474'],
  },
  {
    name: 'G=2 with mixer',
    file: variant([conv(), gffn(2), attention, gffn(2)]),
    params: convP() + 2 * gffnParams(H, 2) + attentionParams(H),
    flops: convF() + 2 * gffnF(2) + attnF,
    table: ['149.94', '0.3041'],
  },
  {
    name: 'G=8 with mixer',
    file: variant([conv(), gffn(8), attention, gffn(8)]),
    params: convP() + 2 * gffnParams(H, 8) + attentionParams(H),
    flops: convF() + 2 * gffnF(8) + attnF,
    table: ['128.70', '0.2616'],
  },
  {
    name: 'single GFFN per layer',
    file: variant([conv(), gffn(), attention]),
    params: convP() + gffnParams(H) + attentionParams(H),
    flops: convF() + gffnF() + attnF,
    table: ['93.24', '0.1908'],
  },
  {
    name: 'depthwise conv (group size 1)',
    file: variant([conv({ channelsPerGroup: 1 }), gffn(), attention, gffn()]),
    params: convP(7, 1) + 2 * gffnParams(H) + attentionParams(H),
    flops: convF(7, 1) + 2 * gffnF() + attnF,
    table: ['134.81', '0.2738'],
  },
  {
    name: 'conv kernel 15',
    file: variant([conv({ kernelSize: 15 }), gffn(), attention, gffn()]),
    params: convP(15) + 2 * gffnParams(H) + attentionParams(H),
    flops: convF(15) + 2 * gffnF() + attnF,
    table: ['136.96', '0.2781'],
  },
  {
    name: 'BERT-Base (reference)',
    file: { version: 1, extends: 'bert-base' },
    params: bertLayerParams(H),
    flops: bertLayerFlops(H, S),
    table: ['85.05', '0.1746'],
  },
];

test('§7 ablation variants at Base: encoder parameters and forward GFLOP/token at S=128', () => {
  for (const v of ABLATIONS) {
    assert.deepEqual([millions(L * v.params), gflops(L * v.flops)], v.table, `${v.name}: closed form vs table`);
    const r = computeCost(fromFile(v.file), { sequenceLength: S });
    assert.equal(r.totals.encoderParams, L * v.params, `${v.name}: params`);
    assert.equal(r.totals.encoderForwardMatmulFlopsPerToken, L * v.flops, `${v.name}: FLOPs`);
  }
});

test('a causal convolution costs the same as a "same" one', () => {
  const same = computeCost(fromFile(variant([conv(), gffn(), attention, gffn()])));
  const causal = computeCost(fromFile(variant([{ ...conv(), padding: 'causal' } as ModuleSpec, gffn(), attention, gffn()])));
  assert.deepEqual(causal.totals, same.totals);
  assert.deepEqual(causal.memory, same.memory);
});
