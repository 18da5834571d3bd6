/**
 * Embeddings (groupbert.md §5): word + position + token type, then LayerNorm and dropout. Lookups are row gathers
 * whose gradient is a scatter (core/ops `gatherRows`); positions 0…S−1 are a slice of the position table.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherRows, layerNorm } from '../ops';
import { p1, p2, type ForwardContext } from './common';

/** inputIds, tokenTypeIds int32 [B, S] → [B, S, H]. */
export function embeddings(ctx: ForwardContext, inputIds: tf.Tensor2D, tokenTypeIds?: tf.Tensor2D): tf.Tensor3D {
  const m = ctx.model;
  const [B, S] = inputIds.shape;
  const H = m.hiddenSize;
  if (S > m.maxPositions) throw new Error(`embeddings: sequence length ${S} exceeds maxPositions ${m.maxPositions}`);
  let x = tf.add(gatherRows(p2(ctx, 'embeddings/word'), inputIds), tf.slice(p2(ctx, 'embeddings/position'), [0, 0], [S, H]));
  if (m.tokenTypes > 0) {
    const types = tokenTypeIds ?? tf.zeros([B, S], 'int32');
    x = tf.add(x, gatherRows(p2(ctx, 'embeddings/token_type'), types));
  }
  x = layerNorm(x, p1(ctx, 'embeddings/norm/gamma'), p1(ctx, 'embeddings/norm/beta'), m.layerNormEps);
  return ctx.dropout.apply(x, m.hiddenDropout) as tf.Tensor3D;
}
