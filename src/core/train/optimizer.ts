/**
 * AdamW and LAMB over named variables (`layer03/conv/glu_gate/kernel`), as in groupbert.md §9.1–9.2:
 *
 *   g ← g · min(1, clip/‖g‖)                     global-norm clipping over all gradients (off when clip = 0)
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
 *   m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)                  with bias correction; m̂ = m, v̂ = v without
 *   u = m̂/(√v̂ + ε) + λ·w                          decoupled weight decay λ, not for LayerNorm γ/β and biases
 *   AdamW: w ← w − η·u
 *   LAMB:  w ← w − η·r·u, r = ‖w‖/‖u‖ per tensor   r = 1 when either norm is 0, and for LayerNorm γ/β and biases
 *
 * On wasm with the SIMD kernels an AdamW update is one fused pass per variable (src/engines/tfjs/backends/wasm/fused-kernels.ts; core/ops/traits.ts says when).
 * One update runs inside `tf.tidy` and reads one number back (the global gradient norm, which is reported and
 * which decides whether the step is applied at all: a non-finite norm skips the update, leaving weights and
 * moments as they were). Not done: the per-Q/K/V-block trust ratio of a fused qkv kernel (the reference splits
 * it; a model with separate q/k/v kernels gets the same result).
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelsAvailable, type AdamWAttrs } from '../ops/traits';
import type { ResolvedTraining } from '../spec/resolve';
import { checkHostTensor, toHostTensor, type HostTensor, type HostTensorMap } from './tensors';

export type OptimizerType = 'adamw' | 'lamb';

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

export class Optimizer {
  readonly config: Readonly<OptimizerConfig>;
  private readonly slots = new Map<string, Slot>();
  private updates = 0;
  private disposed = false;

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
   * One update with learning rate `learningRate`. Variables without a gradient are left alone (no decay either).
   * Does not dispose the gradients.
   */
  applyGradients(gradients: GradientSource, learningRate: number): UpdateResult {
    this.assertLive();
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
    if (pairs.length === 0) return { gradNorm: 0, clipScale: 1, applied: true };

    const gradNorm = tf.tidy(() => tf.sqrt(tf.addN(pairs.map(([, g]) => tf.sum(tf.square(g.toFloat()))))).dataSync()[0]!);
    if (!Number.isFinite(gradNorm)) return { gradNorm, clipScale: 1, applied: false };
    const clip = this.config.gradientClipNorm;
    const clipScale = clip > 0 && gradNorm > clip ? clip / gradNorm : 1;

    const { beta1, beta2, epsilon, biasCorrection, weightDecay, type } = this.config;
    const t = this.updates + 1;
    const c1 = biasCorrection ? 1 - Math.pow(beta1, t) : 1;
    const c2 = biasCorrection ? 1 - Math.pow(beta2, t) : 1;
    tf.tidy(() => {
      for (const [slot, rawGrad] of pairs) {
        if (type === 'adamw' && rawGrad.dtype === 'float32' && fusedKernelsAvailable(rawGrad.size)) {
          const attrs: AdamWAttrs = { lr: learningRate, beta1, beta2, epsilon, c1, c2, decay: slot.decay ? weightDecay : 0, scale: clipScale };
          const [w, m, v] = tf.engine().runKernel(FUSED_KERNELS.adamw, { w: slot.variable, g: rawGrad, m: slot.m, v: slot.v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
          slot.m.assign(m!);
          slot.v.assign(v!);
          slot.variable.assign(w!);
          continue;
        }
        const g = clipScale === 1 ? rawGrad.toFloat() : tf.mul(rawGrad.toFloat(), clipScale);
        const m = tf.add(tf.mul(slot.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        slot.m.assign(m);
        slot.v.assign(v);
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
        w.assign(tf.sub(w, delta));
      }
    });
    this.updates = t;
    return { gradNorm, clipScale, applied: true };
  }

  /** Copies the state to the host (for a checkpoint). */
  exportState(): OptimizerState {
    this.assertLive();
    const tensors: HostTensorMap = {};
    for (const slot of this.slots.values()) {
      tensors[`m/${slot.name}`] = toHostTensor(slot.m);
      tensors[`v/${slot.name}`] = toHostTensor(slot.v);
    }
    return { type: this.config.type, step: this.updates, tensors };
  }

  /** Restores a state from `exportState`; every variable's moments must be there with the right shape. */
  importState(state: OptimizerState): void {
    this.assertLive();
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
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('optimizer used after dispose()');
  }
}
