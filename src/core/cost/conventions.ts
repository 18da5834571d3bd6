/**
 * The counting convention of the cost model, in one place.
 *
 * Matmul-type work (dense layers, the grouped convolution, attention scores QKᵀ and context P·V) counts
 * 1 multiply-add = 2 FLOPs and is reported apart from element-wise work. The §7 figures of groupbert.md
 * (e.g. 24H² + 4SH per token for a BERT layer) are the matmul part alone.
 *
 * Element-wise work counts every add, multiply, compare and transcendental (exp, erf, tanh, reciprocal) as one
 * FLOP per element; the per-element figures are the constants below. Dropout counts one multiply per element
 * when its rate is above 0 (random-number generation is not counted). Embedding lookups and the masked-position
 * gather cost nothing.
 *
 * Backward: 2× forward for matmuls (one product for dX, one for dW) and, by the same rule of thumb, 2× forward
 * for element-wise work; the embeddings add one add per element and table for scattering their gradients.
 * Training = forward + backward; the optimizer update is not counted.
 *
 * Where work runs: every layer module and the embeddings at all B·S tokens, the MLM head at the B·M masked
 * positions only (M = `training.maxPredictions` unless overridden), the pooler and NSP head once per sequence.
 * A "causal" convolution costs the same as a "same" one: k taps per position either way.
 */
export const FLOP_CONVENTION =
  '1 multiply-add = 2 FLOPs; matmul FLOPs (dense layers, grouped convolution, attention QKᵀ and P·V = 4·S·H per token) ' +
  'are counted apart from element-wise FLOPs (per element: LayerNorm 8, softmax 5, GELU 5, tanh-GELU 9, swish 5, ' +
  'sigmoid 4, ReLU 1, bias/residual add and dropout 1); backward = 2× forward, embedding lookups cost 0, ' +
  'the MLM head runs at masked positions only and the pooler/NSP once per sequence; training = forward + backward, per step of B·S tokens.';

/** LayerNorm, per element: sum, centre, square, sum of squares, normalise, ×γ, +β (7), rounded up to 8 for the per-row ε/rsqrt/1÷H work. */
export const LAYER_NORM_FLOPS = 8;
/** Softmax, per element: max, subtract, exp, sum, divide. The softmax cross-entropy of the heads uses the same count. */
export const SOFTMAX_FLOPS = 5;
/** Attention scores, per element, besides the softmax: scale by 1/√d and add the padding mask. */
export const SCORE_SCALE_MASK_FLOPS = 2;
/** Logistic sigmoid 1/(1+exp(−x)): negate, exp, add, reciprocal. */
export const SIGMOID_FLOPS = 4;
/** GLU gate, per output element: sigmoid of the gate times the value. */
export const GLU_FLOPS = SIGMOID_FLOPS + 1;
/** tanh of the pooler: one transcendental. */
export const TANH_FLOPS = 1;
/** One add or multiply per element: bias add, residual add, dropout mask, padding mask, gradient scatter. */
export const ADD_FLOPS = 1;

/**
 * Activations, per element. GELU (erf form) 0.5·x·(1 + erf(x/√2)): 5. tanh-GELU
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): 9. Swish x·sigmoid(x): 5. ReLU: 1.
 */
export const ACTIVATION_FLOPS: Readonly<Record<'gelu' | 'gelu_tanh' | 'relu' | 'swish', number>> = {
  gelu: 5,
  gelu_tanh: 9,
  relu: 1,
  swish: SIGMOID_FLOPS + 1,
};
/** The conv module's swish (SiLU). */
export const SWISH_FLOPS = ACTIVATION_FLOPS.swish;

/** Backward FLOPs per forward FLOP, matmul and element-wise alike. */
export const BACKWARD_FACTOR = 2;

/** Everything is stored as float32. */
export const BYTES_PER_FLOAT = 4;
/** Optimizer state per parameter: two moments for AdamW and for LAMB. */
export const OPTIMIZER_STATES = 2;
