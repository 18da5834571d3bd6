/**
 * `buildModel(spec, { seed })`: the pretraining model of a resolved spec — embeddings, encoder, MLM head at the
 * masked positions (decoder tied to the word embedding), pooler and NSP head — with named variables.
 *
 * Tensors made by `forward` and `loss` (the inputs converted from a host `Batch` included) belong to the
 * caller's scope: call them inside `tf.tidy` or `tf.variableGrads`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../batch';
import { softmaxCrossEntropy } from '../ops';
import type { ResolvedModel, ResolvedSpec } from '../spec/resolve';
import { Dropout, type AttentionProbe, type ForwardContext } from './common';
import { embeddings } from './embeddings';
import { encoder } from './encoder';
import { mlmHead, poolerAndNsp } from './heads';
import { countParameters, createVariables, paramsOf, parameterShapes, sizeOfShape, type ParamSpec, type Params } from './params';

/** The model's inputs as tensors (int32 unless noted). */
export interface ModelInputs {
  /** [B, S] */
  inputIds: tf.Tensor2D;
  /** [B, S]; all 0 when absent. */
  tokenTypeIds?: tf.Tensor2D;
  /** [B, S], 1 = real token, 0 = padding; all 1 when absent. */
  attentionMask?: tf.Tensor2D;
  /** [B, P] positions where the MLM head runs. */
  maskedPositions?: tf.Tensor2D;
  /** [B, P] */
  maskedLabels?: tf.Tensor2D;
  /** float32 [B, P], 0 for padded predictions. */
  maskedWeights?: tf.Tensor2D;
  /** [B], 0 = real next sentence. */
  nspLabels?: tf.Tensor1D;
}

export interface ForwardOptions {
  /** Dropout on (default false). */
  training?: boolean;
  /** Base seed of this pass's dropout masks (default 0). */
  seed?: number;
  /** Keep the attention probabilities (use without training). */
  probes?: boolean;
}

export interface ModelOutput {
  /** Final hidden states [B, S, H] (after the final LayerNorm with pre-norm). */
  hidden: tf.Tensor3D;
  /** [B·P, V]: logits at the masked positions only (row b·P + j is position maskedPositions[b, j]). */
  mlmLogits?: tf.Tensor2D;
  /** [B, H] */
  pooled?: tf.Tensor2D;
  /** [B, 2] */
  nspLogits?: tf.Tensor2D;
  probes?: { attention: AttentionProbe[] };
}

export interface LossOutput {
  /** mlmLoss + nspLoss (those present). */
  loss: tf.Scalar;
  /** Mean cross-entropy over the real masked tokens. */
  mlmLoss?: tf.Scalar;
  /** Mean cross-entropy over the batch. */
  nspLoss?: tf.Scalar;
  /** Share of real masked tokens predicted right (argmax). */
  mlmAccuracy?: tf.Scalar;
  nspAccuracy?: tf.Scalar;
  /** Σ of the masked weights: the number of real predictions (to average over batches). */
  mlmCount?: tf.Scalar;
}

export function isHostBatch(x: Batch | ModelInputs): x is Batch {
  return x.inputIds instanceof Int32Array;
}

/** Host batch → tensors (in the caller's scope). */
export function inputsFromBatch(batch: Batch): ModelInputs {
  const { batchSize: B, sequenceLength: S, maxPredictions: P } = batch;
  return {
    inputIds: tf.tensor2d(batch.inputIds, [B, S], 'int32'),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [B, S], 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, [B, S], 'int32'),
    ...(P > 0
      ? {
          maskedPositions: tf.tensor2d(batch.maskedPositions, [B, P], 'int32'),
          maskedLabels: tf.tensor2d(batch.maskedLabels, [B, P], 'int32'),
          maskedWeights: tf.tensor2d(batch.maskedWeights, [B, P], 'float32'),
        }
      : {}),
    ...(batch.nspLabels ? { nspLabels: tf.tensor1d(batch.nspLabels, 'int32') } : {}),
  };
}

/** The forward pass of `model` with parameters from `params` (variables, or plain tensors in gradient checks). */
export function forwardModel(model: ResolvedModel, params: Params, inputs: ModelInputs, opts: ForwardOptions = {}): ModelOutput {
  const [B, S] = inputs.inputIds.shape;
  const training = opts.training ?? false;
  const ctx: ForwardContext = {
    model,
    params,
    training,
    dropout: new Dropout(training, opts.seed ?? 0),
    tokenMask: (inputs.attentionMask ? tf.cast(inputs.attentionMask, 'float32') : tf.ones([B, S])) as tf.Tensor2D,
    ...(opts.probes ? { probes: { attention: [] } } : {}),
  };
  const hidden = encoder(ctx, embeddings(ctx, inputs.inputIds, inputs.tokenTypeIds));
  const mlmLogits = model.heads.mlm && inputs.maskedPositions && inputs.maskedPositions.shape[1] > 0 ? mlmHead(ctx, hidden, inputs.maskedPositions) : undefined;
  const { pooled, nspLogits } = poolerAndNsp(ctx, hidden);
  return {
    hidden,
    ...(mlmLogits ? { mlmLogits } : {}),
    ...(pooled ? { pooled } : {}),
    ...(nspLogits ? { nspLogits } : {}),
    ...(ctx.probes ? { probes: ctx.probes } : {}),
  };
}

/** Weighted share of rows whose argmax is the label. */
function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  const right = tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32')), 'float32');
  if (!weights) return tf.mean(right) as tf.Scalar;
  const total = tf.sum(weights);
  return tf.div(tf.sum(tf.mul(right, weights)), tf.maximum(total, 1e-9)) as tf.Scalar;
}

/** Losses and accuracies of one batch. Needs labels for every head the model has (NSP labels only with NSP). */
export function lossOf(model: ResolvedModel, params: Params, inputs: ModelInputs, opts: ForwardOptions = {}): LossOutput {
  const out = forwardModel(model, params, inputs, opts);
  const parts: tf.Scalar[] = [];
  const result: Partial<LossOutput> = {};
  if (out.mlmLogits) {
    if (!inputs.maskedLabels) throw new Error('loss: the batch has masked positions but no masked labels');
    const labels = inputs.maskedLabels.reshape([-1]) as tf.Tensor1D;
    const weights = (inputs.maskedWeights ?? tf.onesLike(inputs.maskedLabels).toFloat()).reshape([-1]) as tf.Tensor1D;
    result.mlmLoss = softmaxCrossEntropy(out.mlmLogits, labels, weights);
    result.mlmAccuracy = accuracy(out.mlmLogits, labels, weights);
    result.mlmCount = tf.sum(weights) as tf.Scalar;
    parts.push(result.mlmLoss);
  }
  if (out.nspLogits && inputs.nspLabels) {
    result.nspLoss = softmaxCrossEntropy(out.nspLogits, inputs.nspLabels);
    result.nspAccuracy = accuracy(out.nspLogits, inputs.nspLabels);
    parts.push(result.nspLoss);
  }
  if (parts.length === 0) throw new Error('loss: the batch has no labels for any head of the model (masked positions or NSP labels)');
  return { ...result, loss: (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar };
}

export interface BuildOptions {
  /** Seed of the initial values (each parameter draws from (seed, its name)). */
  seed: number;
}

export class Model {
  readonly spec: ResolvedModel;
  /** Every parameter's name, shape, initialiser and cost-model module. */
  readonly shapes: readonly ParamSpec[];
  /** The trainable variables by parameter name (`layer03/conv/glu_gate/kernel`). */
  readonly variables: Map<string, tf.Variable>;
  readonly params: Params;
  private disposed = false;

  constructor(spec: ResolvedModel, opts: BuildOptions) {
    this.spec = spec;
    this.shapes = parameterShapes(spec);
    this.variables = createVariables(this.shapes, opts.seed);
    this.params = paramsOf(this.variables);
  }

  /** Σ of the sizes of the variables actually allocated. */
  parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += sizeOfShape(v.shape);
    return n;
  }

  /** What `parameterShapes` says the count is (equals `parameterCount()`). */
  expectedParameterCount(): number {
    return countParameters(this.shapes);
  }

  forward(batch: Batch | ModelInputs, opts: ForwardOptions = {}): ModelOutput {
    this.assertLive();
    return forwardModel(this.spec, this.params, isHostBatch(batch) ? inputsFromBatch(batch) : batch, opts);
  }

  loss(batch: Batch | ModelInputs, opts: ForwardOptions = {}): LossOutput {
    this.assertLive();
    return lossOf(this.spec, this.params, isHostBatch(batch) ? inputsFromBatch(batch) : batch, opts);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('model used after dispose()');
  }
}

/** Builds the model of `spec` with freshly initialised variables. Throws `ModelSpecError` for sizes that do not divide. */
export function buildModel(spec: ResolvedSpec | ResolvedModel, opts: BuildOptions): Model {
  return new Model('model' in spec ? spec.model : spec, opts);
}
