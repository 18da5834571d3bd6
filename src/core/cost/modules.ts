/**
 * Cost of each module: parameters, forward FLOPs (matmul and element-wise) per step, and the activations kept
 * for the backward pass. H = hidden size, I = intermediate size, S = sequence length, B = batch size,
 * T = B·S tokens, V = vocabulary, M = masked positions per sequence, A = heads of the attention module.
 *
 * Every layer module is a residual branch with its own LayerNorm (2H parameters): before the branch with
 * pre-norm, after the residual add with post-norm. Either way the branch costs, per token, LayerNorm 8H +
 * residual add H (+ dropout H when `hiddenDropout` > 0) element-wise, and keeps 2H + 2 floats: the LayerNorm
 * input, the branch input (the normalised tensor with pre-norm, the layer input with post-norm) and the
 * LayerNorm's mean and 1/σ per row (+ H for the dropout mask).
 *
 * Activations kept for backward, floats per token on top of that (× 4 bytes):
 * - attention: q, k, v (3H), context (H), attention probabilities A·S (the B·A·S² tensor), and A·S more for
 *   the dropped probabilities when `attentionDropout` > 0;
 * - conv: with GLU the value, the sigmoid of the gate and their product (3H); the conv output (H); with the
 *   inner LayerNorm its output and row statistics (H + 2); the swish output (H);
 * - gffn: GELU input and output (2I), and the grouped output (H) when there is a mixer;
 * - ffn: GELU input and output (2I);
 * - embeddings: LayerNorm input and statistics (H + 2), dropout mask (H);
 * - final norm: its input and statistics (H + 2);
 * - MLM head, per masked position: gathered input, transform pre-activation, activation, LayerNorm output
 *   (4H), row statistics (2) and the softmax over the vocabulary (V);
 * - pooler, per sequence: [CLS] input and tanh output (2H); NSP head, per sequence: 2 probabilities.
 */
import type { AttentionModule, ConvModule, FfnModule, GffnModule, ResolvedModel } from '../spec/resolve';
import {
  ACTIVATION_FLOPS,
  ADD_FLOPS,
  BACKWARD_FACTOR,
  BYTES_PER_FLOAT,
  GLU_FLOPS,
  LAYER_NORM_FLOPS,
  SCORE_SCALE_MASK_FLOPS,
  SOFTMAX_FLOPS,
  SWISH_FLOPS,
  TANH_FLOPS,
} from './conventions';
import type { CostKind, ModuleCost } from './types';

/** What every module's cost depends on besides its own options. Built once per `computeCost` call. */
export interface CostContext {
  readonly hidden: number;
  readonly vocab: number;
  readonly seq: number;
  readonly batch: number;
  /** B·S. */
  readonly tokens: number;
  /** Masked positions per sequence. */
  readonly masked: number;
  /** FLOPs per element of the FFN/MLM activation. */
  readonly activationFlops: number;
  readonly hiddenDropout: boolean;
  readonly attentionDropout: boolean;
}

export function makeContext(model: ResolvedModel, seq: number, batch: number, masked: number): CostContext {
  return {
    hidden: model.hiddenSize,
    vocab: model.vocabSize,
    seq,
    batch,
    tokens: batch * seq,
    masked,
    activationFlops: ACTIVATION_FLOPS[model.activation],
    hiddenDropout: model.hiddenDropout > 0,
    attentionDropout: model.attentionDropout > 0,
  };
}

function moduleCost(
  name: string,
  kind: CostKind,
  params: number,
  forwardMatmul: number,
  forwardElementwise: number,
  activationFloats: number,
  backwardElementwiseExtra = 0,
): ModuleCost {
  return {
    name,
    kind,
    params,
    forward: { matmul: forwardMatmul, elementwise: forwardElementwise },
    backward: { matmul: BACKWARD_FACTOR * forwardMatmul, elementwise: BACKWARD_FACTOR * forwardElementwise + backwardElementwiseExtra },
    activationBytes: BYTES_PER_FLOAT * activationFloats,
  };
}

/** Residual-branch overhead per token: LayerNorm + residual add (+ dropout). */
function branchElementwise(c: CostContext): number {
  return (LAYER_NORM_FLOPS + ADD_FLOPS + (c.hiddenDropout ? ADD_FLOPS : 0)) * c.hidden;
}

/** Residual-branch floats kept per token: LayerNorm input, branch input, row statistics (+ dropout mask). */
function branchSaved(c: CostContext): number {
  return 2 * c.hidden + 2 + (c.hiddenDropout ? c.hidden : 0);
}

/**
 * Embeddings: word V·H + position P·H + token type T·H tables, LayerNorm 2H. Lookups are free; the tables are
 * summed (an add per element per extra table), normalised and dropped out. Backward adds the gradient scatter
 * into each table (an add per element per table).
 */
export function embeddingsCost(c: CostContext, model: ResolvedModel): ModuleCost {
  const H = c.hidden;
  const tables = 2 + (model.tokenTypes > 0 ? 1 : 0);
  const params = (model.vocabSize + model.maxPositions + model.tokenTypes) * H + 2 * H;
  const dropout = c.hiddenDropout ? ADD_FLOPS : 0;
  const elementwise = c.tokens * H * ((tables - 1) * ADD_FLOPS + LAYER_NORM_FLOPS + dropout);
  const saved = c.tokens * (H + 2 + (c.hiddenDropout ? H : 0));
  return moduleCost('embeddings', 'embeddings', params, 0, elementwise, saved, c.tokens * H * tables * ADD_FLOPS);
}

/**
 * Attention: Q, K, V, O projections 4H² (+3H with `qkvBias`, +H with `projectionBias`), LayerNorm 2H.
 * Matmul per token: projections 8H², scores QKᵀ 2·S·H and context P·V 2·S·H.
 * Element-wise: biases, and per score (B·A·S² of them) scale + mask 2, softmax 5, dropout 1.
 */
export function attentionCost(c: CostContext, m: AttentionModule, name: string): ModuleCost {
  const H = c.hidden;
  const A = m.heads;
  const biases = (m.qkvBias ? 3 * H : 0) + (m.projectionBias ? H : 0);
  const params = 4 * H * H + biases + 2 * H;
  const matmul = c.tokens * (8 * H * H + 4 * c.seq * H);
  const perScore = SCORE_SCALE_MASK_FLOPS + SOFTMAX_FLOPS + (c.attentionDropout ? ADD_FLOPS : 0);
  const scores = c.tokens * A * c.seq; // B·A·S²
  const elementwise = c.tokens * (branchElementwise(c) + biases * ADD_FLOPS) + scores * perScore;
  const saved = c.tokens * (branchSaved(c) + 4 * H) + scores * (c.attentionDropout ? 2 : 1);
  return moduleCost(name, 'attention', params, matmul, elementwise, saved);
}

/**
 * Convolution module: GLU 2H² + 2H (with `glu`), grouped conv k·g·H (+H with `bias`), inner LayerNorm 2H
 * (with `norm`), output projection H² + H, pre/post LayerNorm 2H.
 * Matmul per token: GLU 4H², conv 2·k·g·H, output 2H².
 * Element-wise per token: GLU biases 2H and gate 5H, padding mask H, conv bias H, LayerNorm 8H, swish 5H,
 * output bias H.
 */
export function convCost(c: CostContext, m: ConvModule, name: string): ModuleCost {
  const H = c.hidden;
  const k = m.kernelSize;
  const g = m.channelsPerGroup;
  const params = (m.glu ? 2 * H * H + 2 * H : 0) + k * g * H + (m.bias ? H : 0) + (m.norm ? 2 * H : 0) + H * H + H + 2 * H;
  const matmul = c.tokens * ((m.glu ? 4 * H * H : 0) + 2 * k * g * H + 2 * H * H);
  const perToken =
    branchElementwise(c) +
    H *
      ((m.glu ? 2 * ADD_FLOPS + GLU_FLOPS : 0) +
        ADD_FLOPS /* padding mask */ +
        (m.bias ? ADD_FLOPS : 0) +
        (m.norm ? LAYER_NORM_FLOPS : 0) +
        SWISH_FLOPS +
        ADD_FLOPS /* output bias */);
  const saved = c.tokens * (branchSaved(c) + (m.glu ? 3 * H : 0) + H + (m.norm ? H + 2 : 0) + H);
  return moduleCost(name, 'conv', params, matmul, c.tokens * perToken, saved);
}

/** Whether a GFFN has its dense H×H mixer: only when asked for and the down-projection is actually grouped. */
export function hasMixer(m: GffnModule): boolean {
  return m.mixer && m.groups > 1;
}

/**
 * Grouped FFN: dense up-projection H·I + I, grouped down-projection I·H/G + H, mixer H² + H (when `mixer` and
 * G > 1), LayerNorm 2H. Matmul per token: 2HI + 2IH/G (+ 2H²). Element-wise: biases, activation on I.
 */
export function gffnCost(c: CostContext, m: GffnModule, name: string): ModuleCost {
  const H = c.hidden;
  const I = m.intermediateSize;
  const G = m.groups;
  const mixer = hasMixer(m);
  const params = H * I + I + (I * H) / G + H + (mixer ? H * H + H : 0) + 2 * H;
  const matmul = c.tokens * (2 * H * I + (2 * I * H) / G + (mixer ? 2 * H * H : 0));
  const perToken = branchElementwise(c) + I * (ADD_FLOPS + c.activationFlops) + H * ADD_FLOPS + (mixer ? H * ADD_FLOPS : 0);
  const saved = c.tokens * (branchSaved(c) + 2 * I + (mixer ? H : 0));
  return moduleCost(name, 'gffn', params, matmul, c.tokens * perToken, saved);
}

/** Dense FFN (BERT): H·I + I + I·H + H, LayerNorm 2H. Matmul per token 4HI. */
export function ffnCost(c: CostContext, m: FfnModule, name: string): ModuleCost {
  const H = c.hidden;
  const I = m.intermediateSize;
  const params = 2 * H * I + I + H + 2 * H;
  const matmul = c.tokens * 4 * H * I;
  const perToken = branchElementwise(c) + I * (ADD_FLOPS + c.activationFlops) + H * ADD_FLOPS;
  const saved = c.tokens * (branchSaved(c) + 2 * I);
  return moduleCost(name, 'ffn', params, matmul, c.tokens * perToken, saved);
}

/** Final LayerNorm after the last layer (pre-norm only): 2H parameters, 8 FLOPs per element. */
export function finalNormCost(c: CostContext): ModuleCost {
  const H = c.hidden;
  return moduleCost('final_norm', 'final_norm', 2 * H, 0, c.tokens * H * LAYER_NORM_FLOPS, c.tokens * (H + 2));
}

/**
 * MLM head at the B·M masked positions: transform H² + H, activation, LayerNorm 2H; decoder tied to the word
 * embedding (no weights of its own) plus a vocabulary bias V. Matmul per position 2H² + 2HV. Element-wise per
 * position: transform bias, activation, LayerNorm on H; decoder bias and softmax cross-entropy on V.
 */
export function mlmHeadCost(c: CostContext): ModuleCost {
  const H = c.hidden;
  const V = c.vocab;
  const positions = c.batch * c.masked;
  const params = H * H + H + 2 * H + V;
  const matmul = positions * (2 * H * H + 2 * H * V);
  const elementwise = positions * (H * (ADD_FLOPS + c.activationFlops + LAYER_NORM_FLOPS) + V * (ADD_FLOPS + SOFTMAX_FLOPS));
  const saved = positions * (4 * H + 2 + V);
  return moduleCost('mlm_head', 'mlm_head', params, matmul, elementwise, saved);
}

/** Pooler tanh(W·h[CLS] + b), once per sequence: H² + H parameters, 2H² matmul FLOPs. */
export function poolerCost(c: CostContext): ModuleCost {
  const H = c.hidden;
  return moduleCost('pooler', 'pooler', H * H + H, c.batch * 2 * H * H, c.batch * H * (ADD_FLOPS + TANH_FLOPS), c.batch * 2 * H);
}

/** NSP classifier on the pooled [CLS], once per sequence: 2H + 2 parameters, 4H matmul FLOPs, bias + softmax on 2. */
export function nspHeadCost(c: CostContext): ModuleCost {
  const H = c.hidden;
  return moduleCost('nsp_head', 'nsp_head', 2 * H + 2, c.batch * 4 * H, c.batch * 2 * (ADD_FLOPS + SOFTMAX_FLOPS), c.batch * 2);
}
