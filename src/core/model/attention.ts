/**
 * Multi-head self-attention module (groupbert.md §4) on the (normalised, with pre-norm) input u [B, S, H]:
 * separate q, k, v projections (+ biases with `qkvBias`), softmax(q·kᵀ/√d + key mask)·v per head through
 * core/ops `attention`, output projection (+ bias with `projectionBias`).
 * Padded keys get −10000 added to their scores; queries at padded positions are not masked.
 *
 * Dropout on the attention probabilities (`attentionDropout`, training only) happens between the softmax and
 * P·V, inside the core: core/ops' `attention` takes the keep mask (`keep`), in either of its formulations.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionModule } from '../spec/resolve';
import { attention, dense } from '../ops';
import { denseShared, p1opt, p2, type ForwardContext } from './common';

/**
 * softmax(q·kᵀ/√d + maskBias) ⊙ keep, times v, per head. `keep` [B, heads, T, T] is a scaled dropout keep mask
 * (or any fixed multiplier: the gradient tests pass one). q, k, v [B, T, D]; tokenMask [B, T] (1 = real).
 */
export function attentionCoreDropout(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, tokenMask: tf.Tensor, heads: number, keep: tf.Tensor): tf.Tensor3D {
  return attention(q, k, v, tokenMask, heads, { keep }) as tf.Tensor3D;
}

export function attentionModule(ctx: ForwardContext, prefix: string, m: AttentionModule, u: tf.Tensor3D, where: { layer: number; module: string }): tf.Tensor3D {
  const [q, k, v] = denseShared(ctx, u, ['query', 'key', 'value'].map((n) => `${prefix}/${n}`)) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  const [B, T] = u.shape;
  let context: tf.Tensor3D;
  const keep = ctx.dropout.keepMask([B, m.heads, T, T], ctx.model.attentionDropout);
  if (keep) {
    context = attentionCoreDropout(q, k, v, ctx.tokenMask, m.heads, keep);
  } else if (ctx.probes) {
    const r = attention(q, k, v, ctx.tokenMask, m.heads, { returnProbs: true });
    ctx.probes.attention.push({ layer: where.layer, module: where.module, probs: r.probs });
    context = r.context;
  } else {
    context = attention(q, k, v, ctx.tokenMask, m.heads);
  }
  return dense(context, p2(ctx, `${prefix}/output/kernel`), p1opt(ctx, `${prefix}/output/bias`)) as tf.Tensor3D;
}
