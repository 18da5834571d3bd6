/**
 * AdamW and LAMB over named variables (`layer03/conv/glu_gate/kernel`), as in groupbert.md §9.1–9.2:
 *
 *   g ← s·g                                       s: the caller's gradient scale (1/accumulation), folded in
 *   g ← g · min(1, clip/‖g‖)                     global-norm clipping over all gradients (off when clip = 0)
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
 *   m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)                  with bias correction; m̂ = m, v̂ = v without
 *   u = m̂/(√v̂ + ε) + λ·w                          decoupled weight decay λ, not for LayerNorm γ/β and biases
 *   AdamW: w ← w − η·u
 *   LAMB:  w ← w − η·r·u, r = ‖w‖/‖u‖ per tensor   r = 1 when either norm is 0, and for LayerNorm γ/β and biases
 *
 * On wasm with the SIMD kernels an AdamW update is one fused pass per variable (src/engines/tfjs/backends/wasm/fused-kernels.ts; core/ops/traits.ts says when).
 * A non-finite global gradient norm skips the update, leaving weights, moments and the update count as they were.
 * Two ways to run an update, chosen by the active backend's `syncReads` trait (core/ops/traits.ts):
 * - host path (`syncReads`: wasm, cpu, tfjs-node): `applyGradients` reads the norm back (one `dataSync`) and
 *   decides clipping and skipping on the host; the fused AdamW kernel takes the clip scale as a number;
 * - device path (no `syncReads`: webgpu in Node, where `dataSync` throws): nothing is read. The norm, the clip
 *   scale min(1, clip/‖g‖) and a finite flag stay tensors, and every moment and weight is assigned
 *   `where(finite, new, old)`, so a skipped update changes nothing on the device either. The caller reads the norm
 *   later, together with its own metrics, and hands it to the update's `settle`, which counts the update on the
 *   host (for the next bias correction) only when the norm was finite. The fused kernel is not used there.
 * `applyGradientsDeferred` is the form a training step uses on any backend: it runs whichever path the backend
 * allows and returns a `DeferredUpdate` (the norm as a tensor, plus `settle`). Until it is settled, no other
 * update, export or import may run (the next update's bias correction depends on whether this one counted).
 * Not done: the per-Q/K/V-block trust ratio of a fused qkv kernel (the reference splits it; a model with separate
 * q/k/v kernels gets the same result).
 */
import * as tf from '@tensorflow/tfjs';
import { sumSquares } from '../ops/sum-squares';
import { FUSED_KERNELS, backendTraits, fusedKernelsAvailable, type AdamWAttrs } from '../ops/traits';
import type { ResolvedTraining } from '../spec/resolve';
import { checkHostTensor, toHostTensor, toHostTensorAsync, type HostTensor, type HostTensorMap } from './tensors';

export type OptimizerType = 'adamw' | 'lamb';

/** The factor applied to every gradient before the update (e.g. 1/accumulation for summed micro-batches). */
function checkGradientScale(s: number): void {
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`gradient scale must be finite and > 0, got ${s}`);
}

export interface OptimizerConfig {
  type: OptimizerType;
  beta1: number;
  beta2: number;
  epsilon: number;
  biasCorrection: boolean;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  gradientClipNorm: number;
  /** Variables without weight decay (and, for LAMB, without trust ratio). Default: `isNormOrBias`. */
  excludeFromDecay?: (name: string) => boolean;
}

/** The saved state: the update count and both moments of every variable, as plain typed arrays. */
export interface OptimizerState {
  type: OptimizerType;
  /** Updates applied so far (the t of the bias correction is step + 1 for the next one). */
  step: number;
  /** `m/<variable name>` and `v/<variable name>`. */
  tensors: HostTensorMap;
}

export interface UpdateResult {
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The factor the gradients were scaled by (1 when not clipped). */
  clipScale: number;
  /** `false` when the gradient norm was not finite and nothing was changed. */
  applied: boolean;
}

/**
 * An update whose outcome is still on the device (`applyGradientsDeferred`). The weights and moments are already
 * assigned (or kept, for a non-finite norm); what remains is to read `gradNorm` and pass its value to `settle`.
 */
export interface DeferredUpdate {
  /** Global gradient norm before clipping, a float32 scalar the caller owns (read it, then dispose it). */
  readonly gradNorm: tf.Scalar;
  /**
   * Completes the update with the value read from `gradNorm`: counts it when that is finite (as the host path
   * would have) and returns what `applyGradients` would have. Calling it again returns the same result.
   */
  settle(gradNorm: number): UpdateResult;
}

const NORM_OR_BIAS = /(^|[/_.])(gamma|beta|bias)$/i;

/** LayerNorm γ/β and biases, by the last part of the name: `…/layer_norm/gamma`, `…/dense/bias`, `…/qkv_bias`. */
export function isNormOrBias(name: string): boolean {
  return NORM_OR_BIAS.test(name);
}

export function optimizerConfigFromSpec(training: ResolvedTraining): OptimizerConfig {
  const o = training.optimizer;
  return {
    type: o.type,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    biasCorrection: o.biasCorrection,
    weightDecay: training.weightDecay,
    gradientClipNorm: training.gradientClipNorm,
  };
}

type VariableSource = ReadonlyMap<string, tf.Variable> | Readonly<Record<string, tf.Variable>>;
type GradientSource = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

function entriesOf<T>(source: ReadonlyMap<string, T> | Readonly<Record<string, T>>): [string, T][] {
  return source instanceof Map ? [...source.entries()] : Object.entries(source as Record<string, T>);
}

interface Slot {
  name: string;
  variable: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  decay: boolean;
}

/** What one update of every slot needs besides the gradient: host numbers, or (device path) the clip scale. */
interface UpdateArgs {
  learningRate: number;
  /** Bias corrections 1 − βᵗ (1 when off). */
  c1: number;
  c2: number;
  /** Gradient scale: a number (host path; 1 = unclipped) or a scalar tensor (device path; undefined = unclipped). */
  scale: number | tf.Scalar | undefined;
  /** Device path: assign new values only where this bool scalar is true. Host path: undefined (always assign). */
  finite?: tf.Scalar;
}

export class Optimizer {
  readonly config: Readonly<OptimizerConfig>;
  private readonly slots = new Map<string, Slot>();
  private updates = 0;
  private disposed = false;
  /** The deferred update not settled yet (see the file comment). */
  private pending: DeferredUpdate | undefined;

  constructor(variables: VariableSource, config: OptimizerConfig) {
    for (const [key, value] of Object.entries({ beta1: config.beta1, beta2: config.beta2 })) {
      if (!(value >= 0 && value < 1)) throw new RangeError(`optimizer ${key} must be in [0, 1), got ${value}`);
    }
    if (!(config.epsilon >= 0) || !(config.weightDecay >= 0) || !(config.gradientClipNorm >= 0)) {
      throw new RangeError('optimizer epsilon, weightDecay and gradientClipNorm must be ≥ 0');
    }
    this.config = { ...config };
    const exclude = config.excludeFromDecay ?? isNormOrBias;
    for (const [name, variable] of entriesOf(variables)) {
      if (variable.dtype !== 'float32') throw new Error(`optimizer: ${name} is ${variable.dtype}; only float32 variables are trained`);
      this.slots.set(name, {
        name,
        variable,
        m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false, undefined, 'float32')),
        v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false, undefined, 'float32')),
        decay: !exclude(name),
      });
    }
  }

  /** Updates applied so far. */
  get step(): number {
    return this.updates;
  }

  get names(): string[] {
    return [...this.slots.keys()];
  }

  /** Whether `name` gets weight decay (and a LAMB trust ratio). */
  decays(name: string): boolean {
    return this.slots.get(name)?.decay ?? false;
  }

  /**
   * One update with learning rate `learningRate`, host path: reads the gradient norm back synchronously (backends
   * with `syncReads`; on others use `applyGradientsDeferred`). Variables without a gradient are left alone (no
   * decay either). Does not dispose the gradients.
   */
  applyGradients(gradients: GradientSource, learningRate: number, gradientScale = 1): UpdateResult {
    this.assertIdle();
    checkGradientScale(gradientScale);
    if (!backendTraits().syncReads) {
      throw new Error(`optimizer: the ${tf.getBackend()} backend reads the device only asynchronously; use applyGradientsDeferred`);
    }
    const pairs = this.pairsOf(gradients, learningRate);
    if (pairs.length === 0) return { gradNorm: 0, clipScale: 1, applied: true };

    const gradNorm = Math.sqrt(tf.tidy(() => sumSquares(pairs.map(([, g]) => g)).dataSync()[0]!)) * gradientScale;
    if (!Number.isFinite(gradNorm)) return { gradNorm, clipScale: 1, applied: false };
    const clip = this.config.gradientClipNorm;
    const clipScale = clip > 0 && gradNorm > clip ? clip / gradNorm : 1;

    const t = this.updates + 1;
    const { c1, c2 } = this.biasCorrections(t);
    tf.tidy(() => this.updateSlots(pairs, { learningRate, c1, c2, scale: clipScale * gradientScale }));
    this.updates = t;
    return { gradNorm, clipScale, applied: true };
  }

  /**
   * One update that reads nothing back: the host path where the backend has `syncReads` (its result settled
   * already, the norm handed back as a fresh scalar), the device path where it has not. Either way the caller
   * reads `gradNorm` (e.g. stacked with its loss, in its one `await data()`), calls `settle` with the value and
   * disposes the tensor. Does not dispose the gradients.
   */
  applyGradientsDeferred(gradients: GradientSource, learningRate: number, gradientScale = 1): DeferredUpdate {
    this.assertIdle();
    checkGradientScale(gradientScale);
    if (backendTraits().syncReads) {
      const result = this.applyGradients(gradients, learningRate, gradientScale);
      return { gradNorm: tf.scalar(result.gradNorm, 'float32'), settle: () => result };
    }
    const pairs = this.pairsOf(gradients, learningRate);
    if (pairs.length === 0) return { gradNorm: tf.scalar(0, 'float32'), settle: () => ({ gradNorm: 0, clipScale: 1, applied: true }) };

    const t = this.updates + 1;
    const { c1, c2 } = this.biasCorrections(t);
    const clip = this.config.gradientClipNorm;
    const gradNorm = tf.tidy(() => tf.mul(tf.sqrt(sumSquares(pairs.map(([, g]) => g))), gradientScale) as tf.Scalar);
    tf.tidy(() => {
      const finite = tf.isFinite(gradNorm) as tf.Scalar;
      // min(1, clip/‖g‖): 1 for ‖g‖ = 0 (clip/0 = ∞); NaN for a NaN norm, which `finite` discards anyway.
      const clipScale = clip > 0 ? (tf.minimum(tf.div(tf.scalar(clip, 'float32'), gradNorm), 1) as tf.Scalar) : undefined;
      const scale = gradientScale === 1 ? clipScale : clipScale ? (tf.mul(clipScale, gradientScale) as tf.Scalar) : tf.scalar(gradientScale, 'float32');
      this.updateSlots(pairs, { learningRate, c1, c2, scale, finite });
    });

    let result: UpdateResult | undefined;
    const update: DeferredUpdate = {
      gradNorm,
      settle: (norm: number) => {
        if (result) return result;
        if (this.pending !== update) throw new Error('optimizer: this update was abandoned (the state was replaced or the optimizer disposed)');
        this.pending = undefined;
        const applied = Number.isFinite(norm);
        if (applied) this.updates = t;
        result = { gradNorm: norm, clipScale: applied && clip > 0 && norm > clip ? clip / norm : 1, applied };
        return result;
      },
    };
    this.pending = update;
    return update;
  }

  /** Copies the state to the host (for a checkpoint), with synchronous reads; `exportStateAsync` reads asynchronously. */
  exportState(): OptimizerState {
    this.assertIdle();
    const tensors: HostTensorMap = {};
    for (const slot of this.slots.values()) {
      tensors[`m/${slot.name}`] = toHostTensor(slot.m);
      tensors[`v/${slot.name}`] = toHostTensor(slot.v);
    }
    return { type: this.config.type, step: this.updates, tensors };
  }

  /** `exportState` with `await data()` reads (all started at once): works on every backend. */
  async exportStateAsync(): Promise<OptimizerState> {
    this.assertIdle();
    const step = this.updates;
    const slots = [...this.slots.values()];
    const read = await Promise.all(slots.map((slot) => Promise.all([toHostTensorAsync(slot.m), toHostTensorAsync(slot.v)])));
    const tensors: HostTensorMap = {};
    slots.forEach((slot, i) => {
      tensors[`m/${slot.name}`] = read[i]![0];
      tensors[`v/${slot.name}`] = read[i]![1];
    });
    return { type: this.config.type, step, tensors };
  }

  /** Restores a state from `exportState`; every variable's moments must be there with the right shape. */
  importState(state: OptimizerState): void {
    this.assertIdle();
    if (state.type !== this.config.type) throw new Error(`optimizer state is for ${state.type}, this optimizer is ${this.config.type}`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`optimizer state step must be a whole number ≥ 0, got ${state.step}`);
    const expected = new Set<string>();
    for (const slot of this.slots.values()) {
      for (const which of ['m', 'v'] as const) {
        const key = `${which}/${slot.name}`;
        expected.add(key);
        const h: HostTensor | undefined = state.tensors[key];
        if (!h) throw new Error(`optimizer state has no ${key}`);
        checkHostTensor(key, h, slot.variable.shape);
        if (h.dtype !== 'float32') throw new Error(`${key}: expected float32, got ${h.dtype}`);
      }
    }
    const extra = Object.keys(state.tensors).filter((k) => !expected.has(k));
    if (extra.length > 0) throw new Error(`optimizer state has moments of unknown variables: ${extra.slice(0, 5).join(', ')}`);
    tf.tidy(() => {
      for (const slot of this.slots.values()) {
        slot.m.assign(tf.tensor(state.tensors[`m/${slot.name}`]!.data, slot.variable.shape, 'float32'));
        slot.v.assign(tf.tensor(state.tensors[`v/${slot.name}`]!.data, slot.variable.shape, 'float32'));
      }
    });
    this.updates = state.step;
  }

  /** Frees the moments (not the trained variables). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pending = undefined;
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('optimizer used after dispose()');
  }

  /** Live, and no deferred update waiting for its `settle`. */
  private assertIdle(): void {
    this.assertLive();
    if (this.pending) throw new Error('optimizer: the previous update is not settled yet (read its gradient norm and call settle first)');
  }

  /** The gradients paired with their slots, checked (names, shapes) along with the learning rate. */
  private pairsOf(gradients: GradientSource, learningRate: number): [Slot, tf.Tensor][] {
    if (!(learningRate >= 0) || !Number.isFinite(learningRate)) throw new RangeError(`learning rate must be finite and ≥ 0, got ${learningRate}`);
    const pairs: [Slot, tf.Tensor][] = [];
    for (const [name, grad] of entriesOf(gradients)) {
      const slot = this.slots.get(name);
      if (!slot) throw new Error(`optimizer: gradient for unknown variable "${name}"`);
      if (grad.shape.length !== slot.variable.shape.length || grad.shape.some((d, i) => d !== slot.variable.shape[i])) {
        throw new Error(`optimizer: gradient of "${name}" has shape [${grad.shape.join(', ')}], the variable [${slot.variable.shape.join(', ')}]`);
      }
      pairs.push([slot, grad]);
    }
    return pairs;
  }

  private biasCorrections(t: number): { c1: number; c2: number } {
    const { beta1, beta2, biasCorrection } = this.config;
    return { c1: biasCorrection ? 1 - Math.pow(beta1, t) : 1, c2: biasCorrection ? 1 - Math.pow(beta2, t) : 1 };
  }

  /**
   * The update of every (slot, gradient) pair; call inside `tf.tidy`. Host path (`args.finite` undefined, numeric
   * scale): assigns directly, through the fused AdamW kernel where it runs. Device path: the same arithmetic with
   * the scale as a tensor, each assignment `where(finite, new, old)`.
   */
  private updateSlots(pairs: [Slot, tf.Tensor][], args: UpdateArgs): void {
    const { beta1, beta2, epsilon, weightDecay, type } = this.config;
    const { learningRate, c1, c2, scale, finite } = args;
    const keep = <T extends tf.Tensor>(next: T, old: tf.Tensor): T => (finite ? (tf.where(finite, next, old) as T) : next);
    for (const [slot, rawGrad] of pairs) {
      if (typeof scale === 'number' && type === 'adamw' && rawGrad.dtype === 'float32' && fusedKernelsAvailable(rawGrad.size)) {
        const attrs: AdamWAttrs = { lr: learningRate, beta1, beta2, epsilon, c1, c2, decay: slot.decay ? weightDecay : 0, scale };
        const [w, m, v] = tf.engine().runKernel(FUSED_KERNELS.adamw, { w: slot.variable, g: rawGrad, m: slot.m, v: slot.v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        slot.m.assign(m!);
        slot.v.assign(v!);
        slot.variable.assign(w!);
        continue;
      }
      const g = scale === undefined || scale === 1 ? rawGrad.toFloat() : tf.mul(rawGrad.toFloat(), scale);
      const m = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
      const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.square(g), 1 - beta2));
      const mHat = c1 === 1 ? m : tf.div(m, c1);
      const vHat = c2 === 1 ? v : tf.div(v, c2);
      let update = tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon));
      const w = slot.variable;
      if (slot.decay && weightDecay > 0) update = tf.add(update, tf.mul(w, weightDecay));
      let delta: tf.Tensor = tf.mul(update, learningRate);
      if (type === 'lamb' && slot.decay) {
        const wNorm = tf.norm(w);
        const uNorm = tf.norm(update);
        const bothPositive = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
        const trust = tf.where(bothPositive, tf.div(wNorm, tf.maximum(uNorm, 1e-30)), tf.onesLike(wNorm));
        delta = tf.mul(delta, trust);
      }
      const next = tf.sub(w, delta);
      slot.m.assign(keep(m, slot.m));
      slot.v.assign(keep(v, slot.v));
      w.assign(keep(next, w));
    }
  }
}
