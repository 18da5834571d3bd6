/**
 * What every module's forward pass shares: the parameters, the model's sizes, whether it trains (dropout), the
 * token mask and where probes go. Plus the seeded dropout and the FFN activation.
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../rng';
import { dense, dropout, gelu, keepMask, swish } from '../ops';
import type { ResolvedModel } from '../spec/resolve';
import type { Params } from './params';

/** Attention probabilities of one attention module, kept when probes are asked for. */
export interface AttentionProbe {
  layer: number;
  /** Module name in its layer (`attention`, or `attention2` when a layer has two). */
  module: string;
  /** [B, heads, T, T]. */
  probs: tf.Tensor4D;
}

export interface ForwardContext {
  model: ResolvedModel;
  params: Params;
  /** Dropout is applied only when training. */
  training: boolean;
  dropout: Dropout;
  /** float32 [B, S]: 1 for real tokens, 0 for padding. */
  tokenMask: tf.Tensor2D;
  /** Set to collect attention probabilities (inference only). */
  probes?: { attention: AttentionProbe[] };
}

/**
 * Seeded dropout (core/ops/dropout.ts: a counter-based mask, the same on every backend): call k of one forward pass uses seed mix(base, k), so a pass is reproducible from its base seed
 * (the job draws one per micro-batch from its checkpointed generator). Identity when disabled or rate 0.
 */
export class Dropout {
  private calls = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly seed: number,
  ) {}

  private nextSeed(): number {
    return mixSeed(this.seed, ++this.calls);
  }

  apply(x: tf.Tensor, rate: number): tf.Tensor {
    if (!this.enabled || !(rate > 0)) return x;
    return dropout(x, rate, this.nextSeed());
  }

  /** The scaled keep mask (0 or 1/(1−rate)) of a shape, for dropout inside a custom op; undefined when off. */
  keepMask(shape: number[], rate: number): tf.Tensor | undefined {
    if (!this.enabled || !(rate > 0)) return undefined;
    return keepMask(shape, rate, this.nextSeed());
  }
}

/** The spec's FFN / MLM-transform activation. */
export function activate(x: tf.Tensor, kind: ResolvedModel['activation']): tf.Tensor {
  switch (kind) {
    case 'gelu':
      return gelu(x, 'erf');
    case 'gelu_tanh':
      return gelu(x, 'tanh');
    case 'relu':
      return tf.relu(x);
    case 'swish':
      return swish(x);
  }
}

/** A parameter as a 1-D / 2-D / 3-D tensor (the ops want the rank in the type). */
export const p1 = (ctx: ForwardContext, name: string) => ctx.params.get(name) as tf.Tensor1D;
export const p2 = (ctx: ForwardContext, name: string) => ctx.params.get(name) as tf.Tensor2D;
export const p3 = (ctx: ForwardContext, name: string) => ctx.params.get(name) as tf.Tensor3D;
/** An optional parameter (a bias that the spec may turn off). */
export const p1opt = (ctx: ForwardContext, name: string) => (ctx.params.has(name) ? (ctx.params.get(name) as tf.Tensor1D) : undefined);

/**
 * Several dense projections of one input (attention's query/key/value, the GLU's value and gate) as one matMul on
 * the concatenated kernels, split afterwards: the backward pass transposes u once and runs one weight-gradient
 * product instead of one per projection. The parameters stay separate; the maths is the same. Projections with
 * and without biases mixed fall back to one dense each.
 */
export function denseShared(ctx: ForwardContext, u: tf.Tensor, prefixes: string[]): tf.Tensor[] {
  const y = denseConcatenated(ctx, u, prefixes);
  if (!y) return prefixes.map((p) => dense(u, p2(ctx, `${p}/kernel`), p1opt(ctx, `${p}/bias`)));
  return tf.split(y, prefixes.map((p) => p2(ctx, `${p}/kernel`).shape[1]), -1);
}

/** `denseShared`'s one product before the split: [..., Σ outputs], or undefined where it would be one dense each. */
export function denseConcatenated(ctx: ForwardContext, u: tf.Tensor, prefixes: string[]): tf.Tensor | undefined {
  const kernels = prefixes.map((p) => p2(ctx, `${p}/kernel`));
  const biases = prefixes.map((p) => p1opt(ctx, `${p}/bias`));
  const withBias = biases.every((b) => b !== undefined);
  if (prefixes.length === 1 || (!withBias && biases.some((b) => b !== undefined))) return undefined;
  return dense(u, tf.concat(kernels, 1) as tf.Tensor2D, withBias ? (tf.concat(biases as tf.Tensor1D[], 0) as tf.Tensor1D) : undefined);
}
