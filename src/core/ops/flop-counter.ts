/**
 * Count the matmul/conv FLOPs TF.js actually executes, from the kernels `tf.profile` records.
 *
 * Convention (the project's, see core/cost): one multiply-add = 2 FLOPs; only matmul- and conv-type kernels count.
 *  - BatchMatMul / _FusedMatMul: output [..., M, N]; `a` holds M·K elements per batch whichever way it is
 *    transposed, so K = (a[-2]·a[-1]) / M and FLOPs = 2·batch·M·N·K. (The transpose attrs are not needed, which
 *    matters because `tf.profile` does not record attrs.)
 *  - ConvbertStridedMatMul (core/ops/strided.ts): its third input is empty, shaped [batch, M, N, K, 0]: 2·batch·M·N·K.
 *  - ConvbertGroupedConv1d (x, w [G, K·Ci, Co]) → y: 2·|y|·K·Ci; ConvbertGroupedConv1dFilter (x, dy) → dw
 *    [G, K·Ci, Co]: 2·|dy|·K·Ci (core/ops/grouped.ts's direct grouped convolution).
 *  - convolutions and their two gradients: 2 · |y| · |filter| / out_channels, where y is the forward output (or
 *    dy, its gradient) and out_channels is the filter's last dim (depthwise: its last two dims).
 * Kernels run inside custom gradients and inside `tf.grads` are recorded too, so a function computing a forward and
 * a backward pass is counted in full.
 */
import * as tf from '@tensorflow/tfjs';
import { DIRECT_CONV_KERNELS } from './grouped';
import { STRIDED_MATMUL_KERNEL } from './strided';

export interface FlopCount {
  total: number;
  /** FLOPs per kernel name. */
  byKernel: Record<string, number>;
  /** Number of counted kernel calls per kernel name. */
  calls: Record<string, number>;
}

type Shape = readonly number[];
const prod = (s: Shape) => s.reduce((a, b) => a * b, 1);

const MATMUL = new Set(['BatchMatMul', '_FusedMatMul', 'MatMul']);
/** Forward convs: inputs (x, filter), output y. */
const CONV_FWD = new Set(['Conv2D', 'FusedConv2D', 'Conv3D', 'Conv1D']);
const DEPTHWISE_FWD = new Set(['DepthwiseConv2dNative', 'FusedDepthwiseConv2D']);
/** Input gradients: inputs (dy, filter). */
const CONV_BWD_INPUT = new Set(['Conv2DBackpropInput', 'Conv3DBackpropInputV2']);
const DEPTHWISE_BWD_INPUT = new Set(['DepthwiseConv2dNativeBackpropInput']);
/** Filter gradients: inputs (x, dy), output the filter. */
const CONV_BWD_FILTER = new Set(['Conv2DBackpropFilter', 'Conv3DBackpropFilterV2']);
const DEPTHWISE_BWD_FILTER = new Set(['DepthwiseConv2dNativeBackpropFilter']);

function outChannels(filter: Shape, depthwise: boolean): number {
  const r = filter.length;
  return depthwise ? filter[r - 2]! * filter[r - 1]! : filter[r - 1]!;
}

/** FLOPs of one executed kernel, or undefined when it is not a matmul/conv kernel. */
export function kernelFlops(name: string, inputShapes: (Shape | null)[], outputShapes: Shape[]): number | undefined {
  const out = outputShapes[0];
  if (name === STRIDED_MATMUL_KERNEL) {
    const dims = inputShapes[2];
    if (!dims || dims.length !== 5) return undefined;
    return 2 * dims[0]! * dims[1]! * dims[2]! * dims[3]!;
  }
  if (name === DIRECT_CONV_KERNELS.forward) {
    const w = inputShapes[1];
    return w && out && w.length === 3 ? 2 * prod(out) * w[1]! : undefined;
  }
  if (name === DIRECT_CONV_KERNELS.filter) {
    const dy = inputShapes[1];
    return dy && out && out.length === 3 ? 2 * prod(dy) * out[1]! : undefined;
  }
  if (MATMUL.has(name)) {
    const a = inputShapes[0];
    if (!a || !out || a.length < 2 || out.length < 2) return undefined;
    const M = out[out.length - 2]!;
    const N = out[out.length - 1]!;
    if (M === 0 || N === 0) return 0;
    const K = (a[a.length - 2]! * a[a.length - 1]!) / M;
    return 2 * prod(out.slice(0, -2)) * M * N * K;
  }
  if (CONV_FWD.has(name) || DEPTHWISE_FWD.has(name)) {
    const filter = inputShapes[1];
    if (!filter || !out) return undefined;
    return (2 * prod(out) * prod(filter)) / outChannels(filter, DEPTHWISE_FWD.has(name));
  }
  if (CONV_BWD_INPUT.has(name) || DEPTHWISE_BWD_INPUT.has(name)) {
    const [dy, filter] = inputShapes;
    if (!dy || !filter) return undefined;
    return (2 * prod(dy) * prod(filter)) / outChannels(filter, DEPTHWISE_BWD_INPUT.has(name));
  }
  if (CONV_BWD_FILTER.has(name) || DEPTHWISE_BWD_FILTER.has(name)) {
    const dy = inputShapes[1];
    if (!dy || !out) return undefined;
    return (2 * prod(dy) * prod(out)) / outChannels(out, DEPTHWISE_BWD_FILTER.has(name));
  }
  return undefined;
}

function disposeResult(result: unknown): void {
  if (result instanceof tf.Tensor) result.dispose();
  else if (Array.isArray(result)) result.forEach(disposeResult);
}

/**
 * Run `fn` under `tf.profile` and add up the FLOPs of every matmul/conv kernel it executed (its result is
 * disposed). Wrap the forward and the gradient computation in `fn` to count a training step.
 */
export async function countMatmulFlops(fn: () => tf.Tensor | tf.Tensor[]): Promise<FlopCount> {
  const info = await tf.profile(() => fn());
  const byKernel: Record<string, number> = {};
  const calls: Record<string, number> = {};
  let total = 0;
  for (const k of info.kernels) {
    const flops = kernelFlops(k.name, k.inputShapes, k.outputShapes);
    if (flops === undefined) continue;
    byKernel[k.name] = (byKernel[k.name] ?? 0) + flops;
    calls[k.name] = (calls[k.name] ?? 0) + 1;
    total += flops;
  }
  disposeResult(info.result);
  return { total, byKernel, calls };
}
