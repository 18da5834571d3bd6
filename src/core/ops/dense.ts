/**
 * Dense (fully connected) layers whose backward pass stays on XNNPACK's plain 2-D matMul ("mm2" in the backend
 * probe): 13× faster than the stock matMul gradient on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, lastDim, matMulNT, matMulTN } from './custom';

function checkDense(x: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor): void {
  if (kernel.rank !== 2) throw new Error(`dense: kernel must be [in, out], got [${kernel.shape}]`);
  if (lastDim(x) !== kernel.shape[0]) {
    throw new Error(`dense: x [${x.shape}] does not match kernel [${kernel.shape}] (last dim must be ${kernel.shape[0]})`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1])) {
    throw new Error(`dense: bias must be [${kernel.shape[1]}], got [${bias.shape}]`);
  }
}

const denseNoBias = customOp<[tf.Tensor, tf.Tensor2D]>(([x, w], save) => {
  save([x, w]);
  const [K, N] = w.shape;
  const value = tf.matMul(x.reshape([-1, K]), w).reshape([...x.shape.slice(0, -1), N]);
  return {
    value,
    gradFunc: (dy, [x, w]) => {
      const dy2 = dy.reshape([-1, N]) as tf.Tensor2D;
      const x2 = x!.reshape([-1, K]) as tf.Tensor2D;
      return [matMulNT(dy2, w as tf.Tensor2D).reshape(x!.shape), matMulTN(x2, dy2)];
    },
  };
});

const denseWithBias = customOp<[tf.Tensor, tf.Tensor2D, tf.Tensor1D]>(([x, w, b], save) => {
  save([x, w]);
  const [K, N] = w.shape;
  const value = tf.add(tf.matMul(x.reshape([-1, K]), w), b).reshape([...x.shape.slice(0, -1), N]);
  return {
    value,
    gradFunc: (dy, [x, w]) => {
      const dy2 = dy.reshape([-1, N]) as tf.Tensor2D;
      const x2 = x!.reshape([-1, K]) as tf.Tensor2D;
      return [matMulNT(dy2, w as tf.Tensor2D).reshape(x!.shape), matMulTN(x2, dy2), tf.sum(dy2, 0)];
    },
  };
});

/** y = x·kernel (+ bias). x [..., in], kernel [in, out], bias [out] → [..., out]. */
export function dense(x: tf.Tensor, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  checkDense(x, kernel, bias);
  return bias ? denseWithBias(x, kernel, bias) : denseNoBias(x, kernel);
}

