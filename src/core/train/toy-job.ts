/**
 * The smallest real training job: linear regression y = x·W* + b* + noise, trained with the project's
 * optimizer and schedule, with input dropout seeded from the loop's RNG and batches drawn from a data RNG whose
 * state is checkpointed. It exercises every part of the trainer without the model (tests, and a quick check that
 * a backend trains at all). The masked-LM numbers map onto it as: mlmLoss = loss, accuracy = share of outputs
 * within 0.5 of the target, one "token" per example.
 *
 * `createJob` reads options from the environment variable `CONVBERT_TOY_JOB` (JSON of `ToyJobOptions`), so a
 * trainer process started with `CONVBERT_TRAINER_JOB_MODULE` pointing here can be configured by its host.
 */
import * as tf from '@tensorflow/tfjs';
import type { Json } from '../json';
import { packOptimizerState, unpackOptimizerState, type JobContext, type JobFactory, type JobState, type TrainingJob } from './job';
import { Optimizer, optimizerConfigFromSpec } from './optimizer';
import { Rng, opSeed, parseRngState, uniformArray } from '../rng';
import { fromHostTensor, toHostTensorAsync } from './tensors';

export interface ToyJobOptions {
  inputs?: number;
  outputs?: number;
  batchSize?: number;
  /** Input dropout rate (seeded from the loop's RNG). */
  dropout?: number;
  noise?: number;
  /** Extra time per step (an await, so the process stays responsive): for tests of stop and pause timing. */
  stepDelayMs?: number;
  /** Extra set-up time in `init`: awaited (responsive), or spent busy (deaf to messages, like a tokenizer over a big corpus). */
  initDelayMs?: number;
  initBusy?: boolean;
  /** Extra time in `saveState` (an await): a slow checkpoint write. */
  saveDelayMs?: number;
  /** Run a wasm module that reads past its memory, in this phase: a real `RuntimeError: memory access out of bounds`. */
  trapIn?: 'init' | 'step';
  /** After the trap, what a corrupt heap does: `dispose` spins forever; `event-loop` spins on the next turn. */
  afterTrap?: 'dispose' | 'event-loop';
}

/**
 * A real wasm trap: a 1-page module whose `load` reads 4 bytes at the given address (2^20 is past its 64 KiB
 * memory), as TF.js's wasm backend does when an allocation fails and a kernel writes through the bad pointer.
 */
function wasmOutOfBounds(): never {
  // (module (memory 1) (func (export "load") (param i32) (result i32) local.get 0 i32.load))
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x08, 0x01,
    0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b,
  ]);
  // The lib this project compiles against has no WebAssembly types (no DOM): the global, typed here.
  const wasm = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } } }).WebAssembly;
  const instance = new wasm.Instance(new wasm.Module(bytes));
  (instance.exports.load as (address: number) => number)(1 << 20);
  throw new Error('the wasm load did not trap');
}

const spin = (): never => {
  for (;;) {
    // a corrupt heap's free list
  }
};

const KERNEL = 'linear/kernel';
const BIAS = 'linear/bias';

export function createToyJob(ctx: JobContext, options: ToyJobOptions = {}): TrainingJob {
  const inputs = options.inputs ?? 8;
  const outputs = options.outputs ?? 2;
  const batch = options.batchSize ?? 16;
  const dropout = options.dropout ?? 0.1;
  const noise = options.noise ?? 0.05;
  const seed = ctx.spec.training.seed;
  let data = Rng.fromSeed(seed, 1);
  let variables: Record<string, tf.Variable> = {};
  let optimizer: Optimizer | undefined;
  let trueW: tf.Tensor2D | undefined;
  let trueB: tf.Tensor1D | undefined;
  let validation: { x: tf.Tensor2D; y: tf.Tensor2D } | undefined;
  let trapped = false;
  const trap = () => {
    trapped = true;
    if (options.afterTrap === 'event-loop') setImmediate(spin);
    wasmOutOfBounds();
  };

  const target = (x: tf.Tensor2D, rng: Rng) =>
    tf.tidy(() => tf.add(tf.add(tf.matMul(x, trueW!), trueB!), tf.mul(tf.tensor2d(uniformArray(rng, x.shape[0] * outputs, -1, 1), [x.shape[0], outputs]), noise)) as tf.Tensor2D);
  const inputsOf = (rng: Rng, n: number) => tf.tensor2d(uniformArray(rng, n * inputs, -1, 1), [n, inputs]);
  const predict = (x: tf.Tensor2D) => tf.add(tf.matMul(x, variables[KERNEL]!), variables[BIAS]!) as tf.Tensor2D;

  return {
    async init() {
      if (options.initDelayMs) {
        if (options.initBusy) {
          const until = Date.now() + options.initDelayMs;
          while (Date.now() < until) {
            // synchronous set-up work
          }
        } else await new Promise((r) => setTimeout(r, options.initDelayMs));
      }
      if (options.trapIn === 'init') trap();
      const truth = Rng.fromSeed(seed, 2);
      trueW = tf.tensor2d(uniformArray(truth, inputs * outputs, -2, 2), [inputs, outputs]);
      trueB = tf.tensor1d(uniformArray(truth, outputs, -1, 1));
      const valRng = Rng.fromSeed(seed, 3);
      const vx = inputsOf(valRng, 64);
      validation = { x: vx, y: target(vx, valRng) };
      // Initialised from the loop's RNG, like a real model.
      variables = {
        [KERNEL]: tf.tidy(() => tf.variable(tf.tensor2d(uniformArray(ctx.rng, inputs * outputs, -0.1, 0.1), [inputs, outputs]))),
        [BIAS]: tf.tidy(() => tf.variable(tf.zeros([outputs]))),
      };
      optimizer = new Optimizer(variables, optimizerConfigFromSpec(ctx.spec.training));
      return { parameterCount: inputs * outputs + outputs, tokensPerStep: batch, flopsPerStep: 3 * 2 * batch * inputs * outputs, description: `linear regression ${inputs}→${outputs}` };
    },

    async step({ learningRate }) {
      if (options.trapIn === 'step') trap();
      const dropoutSeed = opSeed(ctx.rng);
      const x = inputsOf(data, batch);
      const y = target(x, data);
      const { value, grads: byEngineName } = tf.variableGrads(() => {
        const xd = dropout > 0 ? tf.dropout(x, dropout, undefined, dropoutSeed) : x;
        return tf.losses.meanSquaredError(y, predict(xd as tf.Tensor2D)) as tf.Scalar;
      }, Object.values(variables));
      // TF.js keys gradients by its own variable names; the optimizer knows the weights by ours.
      const grads = Object.fromEntries(Object.entries(variables).map(([name, v]) => [name, byEngineName[v.name]!]));
      const update = optimizer!.applyGradientsDeferred(grads, learningRate);
      // One read, [loss, gradient norm], on any backend (no synchronous read: see core/ops/traits.ts `syncReads`).
      const read = tf.tidy(() => tf.stack([value, update.gradNorm]));
      tf.dispose([x, y, value, byEngineName, update.gradNorm]);
      const values = await read.data();
      read.dispose();
      const loss = values[0]!;
      const { gradNorm } = update.settle(values[1]!);
      if (options.stepDelayMs) await new Promise((r) => setTimeout(r, options.stepDelayMs));
      return { loss, mlmLoss: loss, gradNorm, tokens: batch, flops: 3 * 2 * batch * inputs * outputs };
    },

    async evaluate() {
      const row = tf.tidy(() => {
        const p = predict(validation!.x);
        return tf.stack([tf.losses.meanSquaredError(validation!.y, p), tf.mean(tf.cast(tf.less(tf.abs(tf.sub(p, validation!.y)), 0.5), 'float32')), tf.norm(variables[KERNEL]!)]);
      });
      const [values, kernelValues] = await Promise.all([row.data(), variables[KERNEL]!.data()]);
      row.dispose();
      const [loss, accuracy, norm] = [values[0]!, values[1]!, values[2]!];
      const kernel = Array.from(kernelValues);
      return { loss, mlmAccuracy: accuracy, probes: { summary: { kernelNorm: norm }, data: { kernel } } };
    },

    async saveState(): Promise<JobState> {
      if (options.saveDelayMs) await new Promise((r) => setTimeout(r, options.saveDelayMs));
      const [kernel, bias, state] = await Promise.all([toHostTensorAsync(variables[KERNEL]!), toHostTensorAsync(variables[BIAS]!), optimizer!.exportStateAsync()]);
      const tensors = { [`weights/${KERNEL}`]: kernel, [`weights/${BIAS}`]: bias };
      const opt = packOptimizerState(state, tensors);
      return { tensors, optimizer: opt, data: data.state() as Json };
    },

    loadState(state: JobState) {
      for (const name of [KERNEL, BIAS]) {
        const h = state.tensors[`weights/${name}`];
        if (!h) throw new Error(`toy job state has no weights/${name}`);
        tf.tidy(() => variables[name]!.assign(fromHostTensor(h)));
      }
      optimizer!.importState(unpackOptimizerState(state.optimizer, state.tensors));
      data = Rng.fromState(parseRngState(state.data));
    },

    dispose() {
      if (trapped && options.afterTrap === 'dispose') spin();
      optimizer?.dispose();
      tf.dispose([...Object.values(variables), trueW, trueB, validation?.x, validation?.y].filter((t) => t !== undefined) as tf.Tensor[]);
    },
  };
}

function optionsFromEnv(): ToyJobOptions {
  const text = process.env.CONVBERT_TOY_JOB;
  if (!text) return {};
  try {
    return JSON.parse(text) as ToyJobOptions;
  } catch {
    throw new Error(`CONVBERT_TOY_JOB is not JSON: ${text.slice(0, 80)}`);
  }
}

/** The factory a trainer process loads through `CONVBERT_TRAINER_JOB_MODULE`. */
export const createJob: JobFactory = (ctx) => createToyJob(ctx, optionsFromEnv());
