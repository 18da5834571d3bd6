/**
 * Exponential moving average with TensorBoard's debiasing (tensorflow/tensorboard#639): the running average
 * starts at 0 and is divided by 1 − w^n, so the first points are not pulled towards zero. Non-finite values are
 * passed through and do not enter the average. `weight` is the slider value in [0, 1): 0 returns the input.
 */
export function emaDebiased(values: ArrayLike<number>, weight: number): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  const w = Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 0.9999) : 0;
  let last = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    count++;
    const debias = w === 0 ? 1 : 1 - Math.pow(w, count);
    out[i] = last / debias;
  }
  return out;
}
