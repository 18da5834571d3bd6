/**
 * The exact cost model: parameters, forward/backward FLOPs and training memory of any resolved spec, per module,
 * per layer and in total. Pure TypeScript (no vscode, DOM or TF.js). See `FLOP_CONVENTION` for what is counted.
 */
export { computeCost } from './report';
export {
  FLOP_CONVENTION,
  ACTIVATION_FLOPS,
  ADD_FLOPS,
  BACKWARD_FACTOR,
  BYTES_PER_FLOAT,
  GLU_FLOPS,
  LAYER_NORM_FLOPS,
  OPTIMIZER_STATES,
  SCORE_SCALE_MASK_FLOPS,
  SIGMOID_FLOPS,
  SOFTMAX_FLOPS,
  SWISH_FLOPS,
  TANH_FLOPS,
} from './conventions';
export { hasMixer } from './modules';
export type { CostKind, CostOptions, CostReport, CostTotals, FlopSplit, LayerCost, MemoryEstimate, ModuleCost } from './types';
export { describeOutOfMemory, effectiveBackend, fitRefusal, formatLimit, hardLimitBytes, largestHardLimitBytes, trainingFit } from './fit';
export type { ConcreteBackend, MachineFacts, TrainingFit } from './fit';
