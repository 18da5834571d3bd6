/**
 * Pretraining heads (groupbert.md §5):
 *
 * - MLM, at the masked positions only: the final hidden states are gathered at the B·P positions first, then
 *   transform = LN(act(x·W_t + b_t)), logits = transform·E_wordᵀ + b_vocab with the decoder tied to the word
 *   embedding (a custom op whose backward pass stays on plain 2-D matMuls).
 * - Pooler: tanh(h_[CLS]·W_p + b_p). NSP: 2-way classifier on the pooled [CLS] (on h_[CLS] without a pooler).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, dense, gatherRows, layerNorm, matMulNT, matMulTN } from '../ops';
import { activate, p1, p2, type ForwardContext } from './common';

const tiedDecoderOp = customOp<[tf.Tensor2D, tf.Tensor2D]>(([x, table], save) => {
  save([x, table]);
  return {
    value: matMulNT(x, table),
    // dx = dy·E (plain), dE = dyᵀ·x.
    gradFunc: (dy, [x, table]) => [tf.matMul(dy as tf.Tensor2D, table as tf.Tensor2D), matMulTN(dy as tf.Tensor2D, x as tf.Tensor2D)],
  };
});

/** x [M, H] · tableᵀ, table [V, H] → [M, V]. */
export function tiedDecoder(x: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor2D {
  return tiedDecoderOp(x, table) as tf.Tensor2D;
}

/** Row indices b·S + position into the flattened [B·S, H] hidden states, for positions [B, P]. */
export function flatPositions(positions: tf.Tensor2D, sequenceLength: number): tf.Tensor2D {
  const [B] = positions.shape;
  return tf.tidy(() => tf.add(tf.cast(positions, 'int32'), tf.mul(tf.range(0, B, 1, 'int32').reshape([B, 1]), tf.scalar(sequenceLength, 'int32'))) as tf.Tensor2D);
}

/** hidden [B, S, H], maskedPositions int32 [B, P] → MLM logits [B·P, V]. */
export function mlmHead(ctx: ForwardContext, hidden: tf.Tensor3D, maskedPositions: tf.Tensor2D): tf.Tensor2D {
  const [B, S, H] = hidden.shape;
  const idx = flatPositions(maskedPositions, S);
  const x = gatherRows(hidden.reshape([B * S, H]) as tf.Tensor2D, idx.reshape([-1])) as tf.Tensor2D; // [B·P, H]
  idx.dispose();
  let t = activate(dense(x, p2(ctx, 'mlm/transform/kernel'), p1(ctx, 'mlm/transform/bias')), ctx.model.activation);
  t = layerNorm(t, p1(ctx, 'mlm/transform/norm/gamma'), p1(ctx, 'mlm/transform/norm/beta'), ctx.model.layerNormEps);
  return tf.add(tiedDecoder(t as tf.Tensor2D, p2(ctx, 'embeddings/word')), p1(ctx, 'mlm/bias')) as tf.Tensor2D;
}

/** hidden [B, S, H] → pooled [B, H] (with a pooler) and NSP logits [B, 2] (with an NSP head). */
export function poolerAndNsp(ctx: ForwardContext, hidden: tf.Tensor3D): { pooled?: tf.Tensor2D; nspLogits?: tf.Tensor2D } {
  const m = ctx.model;
  if (!m.heads.pooler && !m.heads.nsp) return {};
  const [B, , H] = hidden.shape;
  const cls = tf.slice(hidden, [0, 0, 0], [B, 1, H]).reshape([B, H]) as tf.Tensor2D;
  const pooled = m.heads.pooler ? (tf.tanh(dense(cls, p2(ctx, 'pooler/kernel'), p1(ctx, 'pooler/bias'))) as tf.Tensor2D) : undefined;
  const nspLogits = m.heads.nsp ? (dense(pooled ?? cls, p2(ctx, 'nsp/kernel'), p1(ctx, 'nsp/bias')) as tf.Tensor2D) : undefined;
  return { ...(pooled ? { pooled } : {}), ...(nspLogits ? { nspLogits } : {}) };
}
