/**
 * Feed-forward modules on the (normalised, with pre-norm) input u [B, S, H]:
 *
 * - `ffn` (BERT): act(u·W₁ + b₁)·W₂ + b₂.
 * - `gffn` (GroupBERT §3): h = act(u·W₁ + b₁) (dense H→I), then the grouped down-projection: h split into G
 *   contiguous chunks of I/G, chunk g times its own [I/G, H/G] block, written to output channels
 *   [g·H/G, (g+1)·H/G), plus b₂; then, with `mixer` and G > 1, the ungrouped H×H mixer (no activation between, no
 *   channel shuffle).
 */
import type * as tf from '@tensorflow/tfjs';
import type { FfnModule, GffnModule } from '../spec/resolve';
import { dense, groupedDense } from '../ops';
import { activate, p1, p2, p3, type ForwardContext } from './common';
import { gffnHasMixer } from './params';

export function ffnModule(ctx: ForwardContext, prefix: string, _m: FfnModule, u: tf.Tensor3D): tf.Tensor3D {
  const h = activate(dense(u, p2(ctx, `${prefix}/up/kernel`), p1(ctx, `${prefix}/up/bias`)), ctx.model.activation);
  return dense(h, p2(ctx, `${prefix}/down/kernel`), p1(ctx, `${prefix}/down/bias`)) as tf.Tensor3D;
}

export function gffnModule(ctx: ForwardContext, prefix: string, m: GffnModule, u: tf.Tensor3D): tf.Tensor3D {
  const h = activate(dense(u, p2(ctx, `${prefix}/up/kernel`), p1(ctx, `${prefix}/up/bias`)), ctx.model.activation);
  const z = groupedDense(h, p3(ctx, `${prefix}/down/kernel`), p1(ctx, `${prefix}/down/bias`));
  if (!gffnHasMixer(m)) return z as tf.Tensor3D;
  return dense(z, p2(ctx, `${prefix}/mixer/kernel`), p1(ctx, `${prefix}/mixer/bias`)) as tf.Tensor3D;
}
