/**
 * Activations with hand-written gradients that keep only their input (and, for erf-GELU, Φ(x)) on the tape (the
 * stock compositions keep every intermediate), plus GLU.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsAvailable, kernelRegistered } from './traits';
import { customOp, expNonPositive } from './custom';

const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs) as tf.Tensor | tf.Tensor[];

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

// Φ(x) is kept from the forward pass: the wasm Erf kernel is a scalar loop (~5–8 ms per 1M elements, as much as
// all the other element-wise ops of the gradient together), and Φ is the one intermediate the gradient needs.
// On wasm with the SIMD kernels, forward and backward are one fused pass each.
const geluErf = customOp<[tf.Tensor]>(([x], save) => {
  if (fusedKernelsAvailable(x.size)) {
    const [y, cdf] = run(FUSED_KERNELS.gelu, { x }) as [tf.Tensor, tf.Tensor];
    save([x, cdf]);
    return { value: y, gradFunc: (dy, [x, cdf]) => [run(FUSED_KERNELS.geluGrad, { dy, x: x!, cdf: cdf! }) as tf.Tensor] };
  }
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy, [x, cdf]) => {
      // d/dx = Φ(x) + x·φ(x)
      const pdf = tf.mul(INV_SQRT_2PI, expNonPositive(tf.mul(tf.square(x!), -0.5)));
      return [tf.mul(dy, tf.add(cdf!, tf.mul(x!, pdf)))];
    },
  };
});

const geluTanh = customOp<[tf.Tensor]>(([x], save) => {
  save([x]);
  const inner = (x: tf.Tensor) => tf.mul(SQRT_2_PI, tf.add(x, tf.mul(GELU_C, tf.pow(x, 3))));
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner(x)))),
    gradFunc: (dy, [x]) => {
      const t = tf.tanh(inner(x!));
      const du = tf.mul(SQRT_2_PI, tf.add(1, tf.mul(3 * GELU_C, tf.square(x!))));
      // d/dx = ½(1 + t) + ½·x·(1 − t²)·du/dx
      const d = tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(tf.mul(0.5, x!), tf.sub(1, tf.square(t))), du));
      return [tf.mul(dy, d)];
    },
  };
});

export type GeluForm = 'erf' | 'tanh';

/** GELU: 'erf' is the exact x·Φ(x) (HF "gelu"); 'tanh' is the approximation (HF "gelu_new"). */
export function gelu(x: tf.Tensor, form: GeluForm = 'erf'): tf.Tensor {
  return form === 'tanh' ? geluTanh(x) : geluErf(x);
}

/**
 * Fused activation kernels a backend may register (the blas addon does, natively): swish and its gradient, and GLU
 * over the two halves of each row of one [.., 2h] tensor (value, gate) and its gradient. Elsewhere the stock
 * compositions below run.
 */
export const ACTIVATION_KERNELS = { swish: 'ConvbertSwish', swishGrad: 'ConvbertSwishGrad', glu: 'ConvbertGlu', gluGrad: 'ConvbertGluGrad' } as const;
const registered = (name: string, x: tf.Tensor) => x.dtype === 'float32' && kernelRegistered(name);

const swishOp = customOp<[tf.Tensor]>(([x], save) => {
  save([x]);
  if (registered(ACTIVATION_KERNELS.swish, x)) {
    return { value: run(ACTIVATION_KERNELS.swish, { x }) as tf.Tensor, gradFunc: (dy, [x]) => [run(ACTIVATION_KERNELS.swishGrad, { dy, x: x! }) as tf.Tensor] };
  }
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    gradFunc: (dy, [x]) => {
      const s = tf.sigmoid(x!);
      return [tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(x!, tf.sub(1, s)))))];
    },
  };
});

/** Swish / SiLU: x·σ(x). */
export function swish(x: tf.Tensor): tf.Tensor {
  return swishOp(x);
}

/** GLU: value ⊙ σ(gate) (GroupBERT's conv module: two separate H→H projections). Stock autodiff. */
export function glu(value: tf.Tensor, gate: tf.Tensor): tf.Tensor {
  return tf.mul(value, tf.sigmoid(gate));
}

const gluHalvesOp = customOp<[tf.Tensor]>(([y], save) => {
  save([y]);
  return { value: run(ACTIVATION_KERNELS.glu, { y }) as tf.Tensor, gradFunc: (dy, [y]) => [run(ACTIVATION_KERNELS.gluGrad, { dy, y: y! }) as tf.Tensor] };
});

/**
 * GLU of one tensor's halves along the last axis, y = [value | gate] (the two projections computed as one product):
 * one fused kernel each way where the backend has it, no split or concatenation; else split and `glu`.
 */
export function gluHalves(y: tf.Tensor): tf.Tensor {
  if (registered(ACTIVATION_KERNELS.glu, y)) return gluHalvesOp(y);
  const [value, gate] = tf.split(y, 2, -1);
  return glu(value!, gate!);
}
