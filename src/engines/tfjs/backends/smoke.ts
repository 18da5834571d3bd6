/** A 2×2 matMul on the active backend: a backend that loads but computes nonsense is not used. */
import * as tf from '@tensorflow/tfjs';

export async function smokeTest(): Promise<void> {
  const out = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
  const vals = Array.from(await out.data());
  out.dispose();
  if (vals.join() !== '19,22,43,50') throw new Error(`a 2×2 matMul gave [${vals.join(', ')}], not [19, 22, 43, 50]`);
}
