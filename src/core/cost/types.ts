/**
 * Shapes of the cost model's answer. Every FLOP figure is per *step*, where a step is one forward and backward
 * pass over `batchSize` sequences of `sequenceLength` tokens (one micro-batch: with gradient accumulation an
 * optimizer step is `gradientAccumulation` of these). See `FLOP_CONVENTION` for what is counted.
 */

export interface CostOptions {
  /** Tokens per sequence S. Defaults to `spec.training.sequenceLength`. */
  sequenceLength: number;
  /** Sequences per step B. Defaults to `spec.training.batchSize`. */
  batchSize: number;
  /** Masked (predicted) positions per sequence, where the MLM head runs. Defaults to `spec.training.maxPredictions`; at most S. */
  maskedPerSequence?: number;
}

/** FLOPs split into matmul/convolution work (multiply-adds × 2) and element-wise work. */
export interface FlopSplit {
  matmul: number;
  elementwise: number;
}

export type CostKind = 'embeddings' | 'attention' | 'conv' | 'gffn' | 'ffn' | 'final_norm' | 'mlm_head' | 'pooler' | 'nsp_head';

export interface ModuleCost {
  /** `embeddings`, `layer03/conv`, `layer03/gffn1` and `layer03/gffn2` (a kind that repeats in a layer is numbered from 1), `final_norm`, `mlm_head`, `pooler`, `nsp_head`. */
  name: string;
  kind: CostKind;
  /** Zero-based layer index (layer modules only). */
  layer?: number;
  /** Position of the module in its layer (layer modules only). */
  moduleIndex?: number;
  /** Trainable parameters, the module's own LayerNorm included. */
  params: number;
  /** Forward FLOPs per step. */
  forward: FlopSplit;
  /** Backward FLOPs per step (2× forward; embeddings add their gradient scatter). */
  backward: FlopSplit;
  /** Float32 activations this module keeps for the backward pass, per step. */
  activationBytes: number;
}

export interface LayerCost {
  index: number;
  params: number;
  forward: FlopSplit;
  backward: FlopSplit;
  activationBytes: number;
  modules: ModuleCost[];
}

export interface CostTotals {
  /** Every parameter of the model (the MLM decoder is tied to the word embedding and not counted twice). */
  params: number;
  /** Parameters of the layers only: no embeddings, final norm or heads. */
  encoderParams: number;
  forward: FlopSplit;
  backward: FlopSplit;
  /** forward + backward, matmul + element-wise, per step. Optimizer updates are not counted. */
  trainingFlopsPerStep: number;
  /** `trainingFlopsPerStep` / (B·S). */
  trainingFlopsPerToken: number;
  /** Forward matmul FLOPs of the layers only, per token: the figure of groupbert.md §7 (24H² + 4SH for BERT). */
  encoderForwardMatmulFlopsPerToken: number;
}

export interface MemoryEstimate {
  /** float32 parameters. */
  weightsBytes: number;
  /** float32 gradients, one per parameter. */
  gradientBytes: number;
  /** Two float32 moments per parameter (AdamW and LAMB alike). */
  optimizerBytes: number;
  /** Activations kept for the backward pass of one step (see `modules.ts` for what is counted). */
  activationBytes: number;
  totalBytes: number;
}

export interface CostReport {
  /** `FLOP_CONVENTION`. */
  convention: string;
  sequenceLength: number;
  batchSize: number;
  /** Masked positions per sequence the MLM head was costed at. */
  maskedPerSequence: number;
  /** B·S. */
  tokensPerStep: number;
  embeddings: ModuleCost;
  layers: LayerCost[];
  /** Final norm (pre-norm only), MLM head, pooler, NSP head: those present, in that order. */
  heads: ModuleCost[];
  totals: CostTotals;
  memory: MemoryEstimate;
}
