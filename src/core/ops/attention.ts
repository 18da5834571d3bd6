/**
 * Multi-head scaled dot-product attention core: softmax(Q·Kᵀ/√d + mask)·V per head, with a hand-written backward
 * pass, in one of two formulations chosen by the backend's traits (core/ops/traits.ts `batchedMatMul`):
 *
 * - 'fast' (a GPU, the blas backend's sgemm, cpu): heads split by one reshape→transpose, then one batched matMul
 *   per product over all (batch, head) pairs: a handful of dispatches per layer. Where the backend multiplies
 *   matrices where they lie (core/ops/strided.ts: blas), the heads are read and written in place in the [B, T, H·dh]
 *   tensors and 1/√dh is the products' alpha: no head transposes and no scaling pass at all.
 * - 'slow' (wasm): one 2-D matMul per (batch, head): XNNPACK only runs plain 2-D A·B, and the stock
 *   batched/transposed matMuls (and their gradients) fall back to a scalar loop on wasm (2.7× slower on attention).
 *   Heads are cut out of the [B, T, D] tensors with slices along the last axis, which avoids the slow 4-/5-D
 *   transposes of the usual reshape→transpose head split.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, zerosFor } from './custom';
import { packed, stridedMatMul, stridedMatMulAvailable, type MatrixLayout } from './strided';
import { backendTraits } from './traits';

/** Added to the scores of padded keys (HF/PyTorch BERT; the TF1 reference uses −1000). */
export const MASK_VALUE = -10000;

export interface AttentionOptions {
  /** Also return the attention probabilities [B, H, T_q, T_k] (for probes; no gradient flows through them). */
  returnProbs?: boolean;
  /**
   * A multiplier of the probabilities before P·V, [B, H, T_q, T_k]: attention dropout's scaled keep mask (0 or
   * 1/(1−rate)). No gradient flows to it. The returned probabilities are the undropped ones.
   */
  keep?: tf.Tensor;
}

export interface AttentionResult {
  /** [B, T_q, D] */
  context: tf.Tensor3D;
  /** [B, H, T_q, T_k] */
  probs: tf.Tensor4D;
}

/** Per (b, h) blocks [T, dh] of x [B, T, H·dh], ordered b-major (the one copy: core/model's attention uses it too). */
export function headBlocks(x: tf.Tensor, H: number): tf.Tensor2D[] {
  const out: tf.Tensor2D[] = [];
  for (const xb of tf.unstack(x)) {
    if (H === 1) out.push(xb as tf.Tensor2D);
    else out.push(...(tf.split(xb, H, 1) as tf.Tensor2D[]));
  }
  return out;
}

/** Per (b, h) blocks [dh, T] of xᵀ for x [B, T, H·dh]: one 3-D transpose, then contiguous pieces. */
export function headBlocksT(x: tf.Tensor3D, H: number): tf.Tensor2D[] {
  const [B, T, D] = x.shape;
  return tf.unstack(tf.transpose(x, [0, 2, 1]).reshape([B * H, D / H, T])) as tf.Tensor2D[];
}

/** Per (b, h) blocks [T, dh] (b-major) → [B, T, H·dh]. */
export function fromHeadBlocks(blocks: tf.Tensor2D[], B: number, H: number): tf.Tensor3D {
  const rows: tf.Tensor2D[] = [];
  for (let b = 0; b < B; b++) {
    const hs = blocks.slice(b * H, (b + 1) * H);
    rows.push(H === 1 ? hs[0]! : tf.concat(hs, 1));
  }
  return tf.stack(rows) as tf.Tensor3D;
}

/** [BH, T, T] (b-major) matrices → per (b, h) blocks. */
function unstackBH(x: tf.Tensor): tf.Tensor2D[] {
  return tf.unstack(x) as tf.Tensor2D[];
}

interface Forward {
  probs: tf.Tensor; // [B, H, Tq, Tk]
  context: tf.Tensor3D;
}

/** [B, T, H·dh] → [B, H, T, dh]. */
function splitHeads(x: tf.Tensor3D, H: number): tf.Tensor4D {
  const [B, T, D] = x.shape;
  return tf.transpose(x.reshape([B, T, H, D / H]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, H, T, dh] → [B, T, H·dh]. */
function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, H, T, dh] = x.shape;
  return tf.transpose(x, [0, 2, 1, 3]).reshape([B, T, H * dh]);
}

/** The probabilities as P·V takes them: times the dropout keep mask, if any. */
function dropped(probs: tf.Tensor, keep: tf.Tensor | null): tf.Tensor {
  return keep ? tf.mul(probs, keep) : probs;
}

/** The heads of a [B, T, H·dh] tensor as a B × H batch of [T, dh] matrices where they lie. */
const heads = (T: number, D: number, dh: number): MatrixLayout => ({ s1: T * D, s2: dh, ld: D });

function stridedForward(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, maskBias: tf.Tensor | null, keep: tf.Tensor | null, H: number): Forward {
  const [B, Tq, D] = q.shape;
  const Tk = k.shape[1];
  const dh = D / H;
  const p = packed(Tq, Tk, H);
  let scores = stridedMatMul(q, k, { b1: B, b2: H, m: Tq, n: Tk, k: dh, transposeA: false, transposeB: true, alpha: 1 / Math.sqrt(dh), a: heads(Tq, D, dh), b: heads(Tk, D, dh), c: p, shape: [B, H, Tq, Tk] });
  if (maskBias) scores = tf.add(scores, maskBias);
  const probs = tf.softmax(scores);
  const context = stridedMatMul(dropped(probs, keep), v, { b1: B, b2: H, m: Tq, n: dh, k: Tk, transposeA: false, transposeB: false, alpha: 1, a: p, b: heads(Tk, D, dh), c: heads(Tq, D, dh), shape: [B, Tq, D] });
  return { probs, context: context as tf.Tensor3D };
}

function stridedBackward(dO: tf.Tensor, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, probs: tf.Tensor, keep: tf.Tensor | null, H: number) {
  const [B, Tq, D] = q.shape;
  const Tk = k.shape[1];
  const dh = D / H;
  const scale = 1 / Math.sqrt(dh);
  const p = packed(Tq, Tk, H);
  const [hq, hk] = [heads(Tq, D, dh), heads(Tk, D, dh)];
  const base = { b1: B, b2: H, alpha: 1 };
  const dp = dropped(stridedMatMul(dO, v, { ...base, m: Tq, n: Tk, k: dh, transposeA: false, transposeB: true, a: hq, b: hk, c: p, shape: [B, H, Tq, Tk] }), keep);
  const dv = stridedMatMul(dropped(probs, keep), dO, { ...base, m: Tk, n: dh, k: Tq, transposeA: true, transposeB: false, a: p, b: hq, c: hk, shape: [B, Tk, D] });
  // Softmax backward: ds = p ⊙ (dp − Σ_j dp ⊙ p).
  const ds = tf.mul(probs, tf.sub(dp, tf.sum(tf.mul(dp, probs), -1, true)));
  const dq = stridedMatMul(ds, k, { ...base, alpha: scale, m: Tq, n: dh, k: Tk, transposeA: false, transposeB: false, a: p, b: hk, c: hq, shape: [B, Tq, D] });
  const dk = stridedMatMul(ds, q, { ...base, alpha: scale, m: Tk, n: dh, k: Tq, transposeA: true, transposeB: false, a: p, b: hq, c: hk, shape: [B, Tk, D] });
  return { dq, dk, dv };
}

function batchedForward(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, maskBias: tf.Tensor | null, keep: tf.Tensor | null, H: number): Forward {
  const scale = 1 / Math.sqrt(q.shape[2] / H);
  let scores: tf.Tensor = tf.matMul(splitHeads(tf.mul(q, scale), H), splitHeads(k, H), false, true); // [B, H, Tq, Tk]
  if (maskBias) scores = tf.add(scores, maskBias);
  const probs = tf.softmax(scores);
  return { probs, context: mergeHeads(tf.matMul(dropped(probs, keep) as tf.Tensor4D, splitHeads(v, H))) };
}

function batchedBackward(dO: tf.Tensor, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, probs: tf.Tensor, keep: tf.Tensor | null, H: number) {
  const scale = 1 / Math.sqrt(q.shape[2] / H);
  const p = probs as tf.Tensor4D;
  const dOh = splitHeads(dO as tf.Tensor3D, H);
  const dp = dropped(tf.matMul(dOh, splitHeads(v, H), false, true), keep); // [B, H, Tq, Tk], through the dropout
  const dv = mergeHeads(tf.matMul(dropped(p, keep) as tf.Tensor4D, dOh, true, false));
  // Softmax backward: ds = p ⊙ (dp − Σ_j dp ⊙ p).
  const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))) as tf.Tensor4D;
  const dq = tf.mul(mergeHeads(tf.matMul(ds, splitHeads(k, H))), scale);
  const dk = mergeHeads(tf.matMul(ds, splitHeads(tf.mul(q, scale), H), true, false));
  return { dq, dk, dv };
}

function forward(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, maskBias: tf.Tensor | null, keep: tf.Tensor | null, H: number): Forward {
  if (backendTraits().batchedMatMul === 'fast') return (stridedMatMulAvailable() ? stridedForward : batchedForward)(q, k, v, maskBias, keep, H);
  const [B, Tq, D] = q.shape;
  const Tk = k.shape[1];
  const scale = 1 / Math.sqrt(D / H);
  const qs = headBlocks(tf.mul(q, scale), H);
  const kT = headBlocksT(k, H);
  let scores = tf.stack(qs.map((qi, i) => tf.matMul(qi, kT[i]!))).reshape([B, H, Tq, Tk]);
  if (maskBias) scores = tf.add(scores, maskBias);
  const probs = tf.softmax(scores);
  const ps = unstackBH(dropped(probs, keep).reshape([B * H, Tq, Tk]));
  const vs = headBlocks(v, H);
  const context = fromHeadBlocks(
    ps.map((p, i) => tf.matMul(p, vs[i]!)),
    B,
    H,
  );
  return { probs, context };
}

function backward(dO: tf.Tensor, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, probs: tf.Tensor, keep: tf.Tensor | null, H: number) {
  if (backendTraits().batchedMatMul === 'fast') return (stridedMatMulAvailable() ? stridedBackward : batchedBackward)(dO, q, k, v, probs, keep, H);
  const [B, Tq, D] = q.shape;
  const Tk = k.shape[1];
  const scale = 1 / Math.sqrt(D / H);
  const p = probs.reshape([B * H, Tq, Tk]);
  const kp = keep ? keep.reshape([B * H, Tq, Tk]) : null;
  const dOs = headBlocks(dO, H);
  const vT = headBlocksT(v, H);
  const pT = unstackBH(tf.transpose(dropped(p, kp), [0, 2, 1]));
  const dp = dropped(tf.stack(dOs.map((d, i) => tf.matMul(d, vT[i]!))), kp); // [BH, Tq, Tk], through the dropout
  const dv = fromHeadBlocks(
    dOs.map((d, i) => tf.matMul(pT[i]!, d)),
    B,
    H,
  );
  // Softmax backward: ds = p ⊙ (dp − Σ_j dp ⊙ p).
  const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
  const dss = unstackBH(ds);
  const dsT = unstackBH(tf.transpose(ds, [0, 2, 1]));
  const ks = headBlocks(k, H);
  const qs = headBlocks(tf.mul(q, scale), H);
  const dq = tf.mul(fromHeadBlocks(dss.map((d, i) => tf.matMul(d, ks[i]!)), B, H), scale);
  const dk = fromHeadBlocks(
    dsT.map((d, i) => tf.matMul(d, qs[i]!)),
    B,
    H,
  );
  return { dq, dk, dv };
}

/** Where the forward pass leaves a kept copy of the probabilities when the caller asked for them. */
interface ProbsBox {
  want: boolean;
  out?: tf.Tensor;
}

/**
 * The attention op for one combination of optional inputs: q, k, v, then the key-mask bias when `masked`, then the
 * dropout keep mask when `dropped`. The optional inputs take no gradient.
 */
function makeOp(H: number, box: ProbsBox, masked: boolean, dropped: boolean) {
  return customOp<tf.Tensor[]>((inputs, save) => {
    const [q, k, v, ...extra] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, ...tf.Tensor[]];
    const maskBias = masked ? extra[0]! : null;
    const keep = dropped ? extra[masked ? 1 : 0]! : null;
    const f = forward(q, k, v, maskBias, keep, H);
    if (box.want) {
      box.out?.dispose();
      box.out = tf.keep(f.probs.clone()); // survives the forward pass's tidy
    }
    save([q, k, v, f.probs, ...extra]);
    return {
      value: f.context,
      gradFunc: (dO, [q, k, v, probs, ...extra]) => {
        const g = backward(dO, q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, probs!, dropped ? extra[masked ? 1 : 0]! : null, H);
        return [g.dq, g.dk, g.dv, ...extra.map((t) => zerosFor(t))];
      },
    };
  });
}

/** The additive key mask [B, 1, 1, T_k] for a 0/1 key mask [B, T_k] (1 = real token). */
export function keyMaskBias(keyMask: tf.Tensor): tf.Tensor4D {
  const [B, Tk] = keyMask.shape as [number, number];
  return tf.tidy(() => tf.mul(tf.sub(1, tf.cast(keyMask, 'float32')), MASK_VALUE).reshape([B, 1, 1, Tk]));
}

/**
 * Multi-head attention core. q [B, T_q, D], k and v [B, T_k, D] with D = heads·d_head, head h owning channels
 * [h·d_head, (h+1)·d_head). keyMask [B, T_k] (1 = real token, 0 = padding) or null: padded keys get −10000 added to
 * their scores (queries at padded positions are not masked). With `keep` (attention dropout's scaled keep mask), P·V
 * takes the probabilities times it. Returns the context [B, T_q, D], or with `returnProbs` also the probabilities
 * [B, H, T_q, T_k].
 */
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor | null,
  heads: number,
): tf.Tensor3D;
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor | null,
  heads: number,
  opts: AttentionOptions & { returnProbs: true },
): AttentionResult;
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor | null,
  heads: number,
  opts?: AttentionOptions,
): tf.Tensor3D | AttentionResult;
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor | null,
  heads: number,
  opts: AttentionOptions = {},
): tf.Tensor3D | AttentionResult {
  const [B, , D] = q.shape;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) throw new Error('attention: q, k, v must be [B, T, D]');
  if (!Number.isInteger(heads) || heads < 1 || D % heads !== 0) {
    throw new Error(`attention: ${D} channels cannot be split into ${heads} heads`);
  }
  const Tk = k.shape[1];
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[2] !== D || v.shape[2] !== D || v.shape[1] !== Tk) {
    throw new Error(`attention: shapes q [${q.shape}], k [${k.shape}], v [${v.shape}] do not match`);
  }
  if (keyMask && (keyMask.rank !== 2 || keyMask.shape[0] !== B || keyMask.shape[1] !== Tk)) {
    throw new Error(`attention: keyMask must be [${B}, ${Tk}], got [${keyMask.shape}]`);
  }
  const Tq = q.shape[1];
  const keep = opts.keep;
  if (keep && (keep.rank !== 4 || keep.shape[0] !== B || keep.shape[1] !== heads || keep.shape[2] !== Tq || keep.shape[3] !== Tk)) {
    throw new Error(`attention: keep must be [${B}, ${heads}, ${Tq}, ${Tk}], got [${keep.shape}]`);
  }
  const box: ProbsBox = { want: opts.returnProbs === true };
  const bias = keyMask ? keyMaskBias(keyMask) : null;
  const context = makeOp(heads, box, bias !== null, keep !== undefined)(q, k, v, ...(bias ? [bias] : []), ...(keep ? [keep] : []));
  bias?.dispose(); // the op saved its own reference
  if (!box.want) return context as tf.Tensor3D;
  const kept = box.out!;
  const probs = kept.clone(); // tracked by the caller's scope, unlike the kept original
  kept.dispose();
  return { context: context as tf.Tensor3D, probs: probs as tf.Tensor4D };
}
