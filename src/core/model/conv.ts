/**
 * The GroupBERT convolution module (groupbert.md §2), on its (already normalised, with pre-norm) input u [B, S, H]:
 *
 *   v = (u·W_val + b_val) ⊙ σ(u·W_gate + b_gate)     GLU, two H→H projections (skipped with `glu: false`: v = u)
 *   v ← v ⊙ m                                        zero the padded positions, before the conv, in every layer
 *   c = groupedConv(v) (+ b)                          k taps, contiguous groups of g channels, same/causal zero padding
 *   n = LN(c)                                         with `norm` (the module's inner LayerNorm)
 *   out = swish(n)·W_o + b_o
 */
import * as tf from '@tensorflow/tfjs';
import type { ConvModule } from '../spec/resolve';
import { dense, glu, gluHalves, groupedConv1d, layerNorm, swish } from '../ops';
import { denseConcatenated, denseShared, p1, p1opt, p2, p3, type ForwardContext } from './common';

export function convModule(ctx: ForwardContext, prefix: string, m: ConvModule, u: tf.Tensor3D): tf.Tensor3D {
  let v: tf.Tensor = u;
  if (m.glu) {
    const prefixes = [`${prefix}/glu_value`, `${prefix}/glu_gate`];
    // value and gate from one product, GLU over its two halves (one fused kernel where the backend has it)
    const y = denseConcatenated(ctx, u, prefixes);
    if (y) v = gluHalves(y);
    else {
      const [value, gate] = denseShared(ctx, u, prefixes);
      v = glu(value!, gate!);
    }
  }
  v = tf.mul(v, tf.expandDims(ctx.tokenMask, 2));
  let c: tf.Tensor = groupedConv1d(v as tf.Tensor3D, p3(ctx, `${prefix}/grouped/kernel`), {
    kernelSize: m.kernelSize,
    channelsPerGroup: m.channelsPerGroup,
    padding: m.padding,
    // Keep the im2col matrix for the weight gradient instead of rebuilding it: K·|v| floats per call (7 MB per
    // 8×128 micro-batch at hidden 256), which the tape can afford since custom gradients free their temporaries.
    saveIm2col: true,
  });
  const bias = p1opt(ctx, `${prefix}/grouped/bias`);
  if (bias) c = tf.add(c, bias);
  if (m.norm) c = layerNorm(c, p1(ctx, `${prefix}/inner_norm/gamma`), p1(ctx, `${prefix}/inner_norm/beta`), ctx.model.layerNormEps);
  return dense(swish(c), p2(ctx, `${prefix}/output/kernel`), p1(ctx, `${prefix}/output/bias`)) as tf.Tensor3D;
}
