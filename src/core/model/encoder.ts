/**
 * The encoder: every layer's modules in the spec's order, each a residual branch with its own LayerNorm
 *
 *   pre-norm  (GroupBERT): x ← x + Drop(module(LN(x)))
 *   post-norm (BERT):      x ← LN(x + Drop(module(x)))
 *
 * and, with pre-norm, a final LayerNorm after the last layer (groupbert.md §1). Dropout is the spec's
 * `hiddenDropout`, only when training.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedLayer, ResolvedModule } from '../spec/resolve';
import { layerNorm } from '../ops';
import { attentionModule } from './attention';
import { p1, type ForwardContext } from './common';
import { convModule } from './conv';
import { ffnModule, gffnModule } from './ffn';
import { modulePrefixes } from './params';

/** One module's branch (no norm, no residual) on u [B, S, H]. */
export function applyModule(ctx: ForwardContext, prefix: string, m: ResolvedModule, u: tf.Tensor3D, where: { layer: number; module: string }): tf.Tensor3D {
  switch (m.type) {
    case 'attention':
      return attentionModule(ctx, prefix, m, u, where);
    case 'conv':
      return convModule(ctx, prefix, m, u);
    case 'gffn':
      return gffnModule(ctx, prefix, m, u);
    case 'ffn':
      return ffnModule(ctx, prefix, m, u);
  }
}

/** One layer: its modules in order, with pre- or post-norm residuals. */
export function encoderLayer(ctx: ForwardContext, layer: ResolvedLayer, x: tf.Tensor3D): tf.Tensor3D {
  const model = ctx.model;
  const prefixes = modulePrefixes(layer, model.numLayers);
  layer.modules.forEach((m, i) => {
    const prefix = prefixes[i]!;
    const where = { layer: layer.index, module: prefix.slice(prefix.indexOf('/') + 1) };
    const gamma = p1(ctx, `${prefix}/norm/gamma`);
    const beta = p1(ctx, `${prefix}/norm/beta`);
    if (model.normPlacement === 'pre') {
      const branch = applyModule(ctx, prefix, m, layerNorm(x, gamma, beta, model.layerNormEps) as tf.Tensor3D, where);
      x = tf.add(x, ctx.dropout.apply(branch, model.hiddenDropout));
    } else {
      const branch = applyModule(ctx, prefix, m, x, where);
      x = layerNorm(tf.add(x, ctx.dropout.apply(branch, model.hiddenDropout)), gamma, beta, model.layerNormEps) as tf.Tensor3D;
    }
  });
  return x;
}

/** Embedded input [B, S, H] → final hidden states [B, S, H]. */
export function encoder(ctx: ForwardContext, x: tf.Tensor3D): tf.Tensor3D {
  for (const layer of ctx.model.layers) x = encoderLayer(ctx, layer, x);
  if (ctx.model.normPlacement === 'pre') x = layerNorm(x, p1(ctx, 'final_norm/gamma'), p1(ctx, 'final_norm/beta'), ctx.model.layerNormEps) as tf.Tensor3D;
  return x;
}
