/**
 * Multi-head self-attention module (groupbert.md §4) on the (normalised, with pre-norm) input u [B, S, H]:
 * separate q, k, v projections (+ biases with `qkvBias`), softmax(q·kᵀ/√d + key mask)·v per head through
 * core/ops `attention` (per-(batch, head) 2-D matMuls), output projection (+ bias with `projectionBias`).
 * Padded keys get −10000 added to their scores; queries at padded positions are not masked.
 *
 * Dropout on the attention probabilities (`attentionDropout`, training only) happens between the softmax and
 * P·V, inside the core, which core/ops' `attention` has no hook for: `attentionCoreDropout` below is the same
 * formulation (per-(batch, head) plain 2-D matMuls, hand-written backward) with a keep mask as an extra input.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionModule } from '../spec/resolve';
import { attention, customOp, dense, fromHeadBlocks, headBlocks, headBlocksT, keyMaskBias, zerosFor } from '../ops';
import { denseShared, p1opt, p2, type ForwardContext } from './common';

const dropoutCores = new Map<number, ReturnType<typeof makeDropoutCore>>();

function makeDropoutCore(H: number) {
  // Inputs: q, k, v [B, T, D]; maskBias [B, 1, 1, T]; keep [B, H, T, T] (0 or 1/(1−rate)).
  return customOp<[tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor, tf.Tensor]>(([q, k, v, maskBias, keep], save) => {
    const [B, T, D] = q.shape;
    const scale = 1 / Math.sqrt(D / H);
    const qs = headBlocks(tf.mul(q, scale), H);
    const kT = headBlocksT(k, H);
    const scores = tf.add(tf.stack(qs.map((qi, i) => tf.matMul(qi, kT[i]!))).reshape([B, H, T, T]), maskBias);
    const probs = tf.softmax(scores);
    const ps = tf.unstack(tf.mul(probs, keep).reshape([B * H, T, T])) as tf.Tensor2D[];
    const vs = headBlocks(v, H);
    save([q, k, v, probs, keep, maskBias]);
    return {
      value: fromHeadBlocks(
        ps.map((p, i) => tf.matMul(p, vs[i]!)),
        B,
        H,
      ),
      gradFunc: (dO, [q, k, v, probs, keep, maskBias]) => {
        const p = probs!.reshape([B * H, T, T]);
        const kp = keep!.reshape([B * H, T, T]);
        const dOs = headBlocks(dO, H);
        const vT = headBlocksT(v as tf.Tensor3D, H);
        const pdT = tf.unstack(tf.transpose(tf.mul(p, kp), [0, 2, 1])) as tf.Tensor2D[];
        const dv = fromHeadBlocks(
          dOs.map((d, i) => tf.matMul(pdT[i]!, d)),
          B,
          H,
        );
        const dp = tf.mul(tf.stack(dOs.map((d, i) => tf.matMul(d, vT[i]!))), kp); // through the dropout
        const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))); // softmax backward
        const dss = tf.unstack(ds) as tf.Tensor2D[];
        const dsT = tf.unstack(tf.transpose(ds, [0, 2, 1])) as tf.Tensor2D[];
        const ks = headBlocks(k!, H);
        const qs = headBlocks(tf.mul(q!, scale), H);
        const dq = tf.mul(
          fromHeadBlocks(
            dss.map((d, i) => tf.matMul(d, ks[i]!)),
            B,
            H,
          ),
          scale,
        );
        const dk = fromHeadBlocks(
          dsT.map((d, i) => tf.matMul(d, qs[i]!)),
          B,
          H,
        );
        return [dq, dk, dv, zerosFor(maskBias!), zerosFor(keep!)];
      },
    };
  });
}

/**
 * softmax(q·kᵀ/√d + maskBias) ⊙ keep, times v, per head. `keep` [B, heads, T, T] is a scaled dropout keep mask
 * (or any fixed multiplier: the gradient tests pass one). q, k, v [B, T, D]; tokenMask [B, T] (1 = real).
 */
export function attentionCoreDropout(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, tokenMask: tf.Tensor, heads: number, keep: tf.Tensor): tf.Tensor3D {
  let op = dropoutCores.get(heads);
  if (!op) dropoutCores.set(heads, (op = makeDropoutCore(heads)));
  const bias = keyMaskBias(tokenMask);
  const out = op(q, k, v, bias, keep) as tf.Tensor3D;
  bias.dispose(); // the op saved its own reference
  return out;
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
