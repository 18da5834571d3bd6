/**
 * Softmax cross-entropy with integer labels and optional per-row weights, with the closed-form gradient
 * (softmax − one-hot). Works on logits [N, V] directly: no one-hot label tensor to build and keep per step.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, expNonPositive, zerosFor } from './custom';

/**
 * One-hot rows as float32. Not `tf.oneHot(…, 'float32')`: the wasm OneHot kernel (4.22.0) ignores the dtype and
 * writes int32 bit patterns into the float32 buffer (1 reads back as 1.4e-45).
 */
function oneHotF32(labels: tf.Tensor, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(labels, depth), 'float32');
}

const ceOp = customOp<[tf.Tensor2D, tf.Tensor1D, tf.Tensor1D]>(([logits, labels, weights], save) => {
  const V = logits.shape[1];
  // logsumexp over the rows (tf.logSumExp's formulation, with the exponentials from expNonPositive). [N]
  const max = tf.max(logits, -1, true);
  const lse = tf.add(tf.log(tf.sum(expNonPositive(tf.sub(logits, max)), -1)), tf.reshape(max, [-1]));
  const picked = tf.sum(tf.mul(logits, oneHotF32(labels, V)), -1);
  const total = tf.sum(weights);
  const denom = tf.where(tf.greater(total, 0), total, tf.onesLike(total)); // all weights 0 → loss 0
  save([logits, labels, weights, lse, denom]);
  return {
    value: tf.div(tf.sum(tf.mul(tf.sub(lse, picked), weights)), denom),
    gradFunc: (dy, [logits, labels, weights, lse, denom]) => {
      const p = expNonPositive(tf.sub(logits!, tf.expandDims(lse!, -1)));
      const coef = tf.expandDims(tf.mul(tf.div(weights!, denom!), dy), -1);
      return [tf.mul(tf.sub(p, oneHotF32(labels!, V)), coef), zerosFor(labels!), zerosFor(weights!)];
    },
  };
});

/**
 * Mean softmax cross-entropy: Σ_i w_i·(logsumexp(logits_i) − logits_i[labels_i]) / Σ_i w_i (0 when Σ w = 0).
 * logits [N, V] float32; labels [N] int32; weights [N] (default all 1; they get no gradient).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  const [N] = logits.shape;
  if (logits.rank !== 2) throw new Error(`softmaxCrossEntropy: logits must be [N, V], got [${logits.shape}]`);
  if (labels.rank !== 1 || labels.shape[0] !== N || labels.dtype !== 'int32') {
    throw new Error(`softmaxCrossEntropy: labels must be int32 [${N}], got ${labels.dtype} [${labels.shape}]`);
  }
  if (weights && (weights.rank !== 1 || weights.shape[0] !== N)) {
    throw new Error(`softmaxCrossEntropy: weights must be [${N}], got [${weights.shape}]`);
  }
  const w = weights ?? tf.ones([N]);
  const loss = ceOp(logits, labels, w as tf.Tensor1D) as tf.Scalar;
  if (!weights) w.dispose();
  return loss;
}
