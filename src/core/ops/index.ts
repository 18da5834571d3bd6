/**
 * The TF.js op layer the models are built on. Every op works on the cpu and wasm backends (and on tfjs-node);
 * the ones with hand-written gradients keep their matMuls on wasm's fast path (plain 2-D A·B) and keep little
 * on the gradient tape. See shared/research/backend-probe.md for the measurements behind each formulation.
 */
export { dense } from './dense';
export {
  groupedDense,
  groupedConv1d,
  convPadding,
  convKernelFromReference,
  convKernelToReference,
  convKernelFromTorch,
  type ConvPadding,
  type GroupedConv1dOptions,
} from './grouped';
export { attention, keyMaskBias, MASK_VALUE, headBlocks, headBlocksT, fromHeadBlocks, type AttentionOptions, type AttentionResult } from './attention';
export { gatherRows } from './gather';
export { dropout, keepMask, KEEP_MASK_KERNEL, type KeepMaskAttrs } from './dropout';
export { sumSquares, SUM_SQUARES_KERNEL } from './sum-squares';
export { layerNorm } from './norm';
export { gelu, swish, glu, gluHalves, ACTIVATION_KERNELS, type GeluForm } from './activations';
export { softmaxCrossEntropy } from './loss';
export { countMatmulFlops, kernelFlops, type FlopCount } from './flop-counter';
export { matMulNT, matMulTN, explicitTransposes, customOp, zerosFor } from './custom';
export { backendTraits, setBackendTraits, fusedKernelsAvailable, FUSED_KERNELS, DEFAULT_TRAITS, type BackendTraits, type AdamWAttrs } from './traits';
export {
  gradCheck,
  randn,
  normals,
  seededRandom,
  type GradCheckOptions,
  type GradCheckResult,
  type GradCheckEntry,
} from './gradcheck';
