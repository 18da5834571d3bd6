/**
 * The one batch type: what the data pipeline produces (`core/data`) and the model consumes (`core/model`), kept
 * below both so neither imports the other.
 */

/** Row-major [batchSize, sequenceLength] and [batchSize, maxPredictions] arrays. */
export interface Batch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** Positions of the predictions, padded with 0 (weight 0). */
  maskedPositions: Int32Array;
  /** Original token ids at those positions, padded with 0. */
  maskedLabels: Int32Array;
  /** 1 for real predictions, 0 for padding. */
  maskedWeights: Float32Array;
  /** With NSP: 0 = B follows A, 1 = B is random. */
  nspLabels?: Int32Array;
  batchSize: number;
  sequenceLength: number;
  maxPredictions: number;
}

export function allocateBatch(batchSize: number, sequenceLength: number, maxPredictions: number, nsp: boolean): Batch {
  const bs = batchSize * sequenceLength;
  const bp = batchSize * maxPredictions;
  return {
    inputIds: new Int32Array(bs),
    tokenTypeIds: new Int32Array(bs),
    attentionMask: new Int32Array(bs),
    maskedPositions: new Int32Array(bp),
    maskedLabels: new Int32Array(bp),
    maskedWeights: new Float32Array(bp),
    ...(nsp ? { nspLabels: new Int32Array(batchSize) } : {}),
    batchSize,
    sequenceLength,
    maxPredictions,
  };
}
