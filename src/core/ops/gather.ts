/**
 * Row gather (embeddings, masked-position picks) whose gradient is a `scatterND`, which sums duplicate indices on
 * every backend. The stock `tf.gather` gradient needs `UnsortedSegmentSum`, missing from the wasm backend
 * (the wasm kernel patches add one too; this op does not depend on them).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, zerosFor } from './custom';

const gatherRowsOp = customOp<[tf.Tensor2D, tf.Tensor]>(([table, ids], save) => {
  save([ids]);
  const [V, D] = table.shape;
  const value = tf.gather(table, ids.reshape([-1])).reshape([...ids.shape, D]);
  return {
    value,
    gradFunc: (dy, [ids]) => [tf.scatterND(ids!.reshape([-1, 1]), dy.reshape([-1, D]), [V, D]), zerosFor(ids!)],
  };
});

/** table [V, D], ids int32 of any shape S (values in [0, V)) → [...S, D]. */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (table.rank !== 2) throw new Error(`gatherRows: table must be [V, D], got [${table.shape}]`);
  if (ids.dtype !== 'int32') throw new Error(`gatherRows: ids must be int32, got ${ids.dtype}`);
  return gatherRowsOp(table, ids);
}
