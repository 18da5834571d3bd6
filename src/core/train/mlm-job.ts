/**
 * The masked-LM (+ NSP) pretraining job: a `TrainingJob` over a resolved spec, built from `core/model` (the
 * network), `core/data` (corpus → tokenizer → batches), `optimizer` (AdamW/LAMB with the LayerNorm/bias
 * exclusions) and the cost model (FLOPs per step).
 *
 * What the job does and what the loop (`src/engines/trainer/loop.ts`) does:
 * - the loop owns the schedule (it passes each step's learning rate), the step count — `training.steps`, or
 *   `flopBudget` / `flopsPerStep` from `init` — evaluation and checkpoint timing, and the per-step metrics it
 *   derives (tokens/s, step ms, FLOP/s from `flops`, memory); it stops on a non-finite loss or gradient norm;
 * - one `step` is `gradientAccumulation` micro-batches of `batchSize` sequences: the gradients are averaged over
 *   them, then the optimizer clips the global norm and updates. Dropout seeds are drawn from the loop's
 *   checkpointed generator, batches from the data iterator whose state is checkpointed too, so a resumed run
 *   replays the uninterrupted one exactly. Reads per step: one `await data()` of 4 floats (loss, MLM, NSP and the
 *   gradient norm), which settles the optimizer's deferred update; on backends with `syncReads` the optimizer also
 *   reads the norm itself (one `dataSync`, to decide clipping on the host). No synchronous read anywhere on a
 *   backend without `syncReads` (webgpu in Node): not in the step, `saveState` or `evaluate`;
 * - `evaluate` runs `evalBatches` batches of the validation iterator, from its start every time (MLM loss and
 *   accuracy over the real masked tokens, NSP loss and accuracy), and writes the probes of a fixed sample
 *   sentence (`probes.ts`) as `probes/step-<step>.probe`.
 */
import * as tf from '@tensorflow/tfjs';
import { computeCost } from '../cost';
import { trainingFlopsPerStep } from '../cost/budget';
import { BatchIterator, checkDataFitsModel, evaluationIterator, prepareData, type Batch, type BatchIteratorState, type PreparedData } from '../data';
import { buildModel, type Model } from '../model';
import type { ResolvedSpec } from '../spec/resolve';
import { packOptimizerState, unpackOptimizerState, type EvalMetrics, type JobContext, type JobFactory, type JobInfo, type JobState, type StepInput, type StepMetrics, type TrainingJob } from './job';
import { Optimizer, optimizerConfigFromSpec } from './optimizer';
import { computeProbes, probeHeader, probeSummary, type ProbeSample } from './probes';
import { opSeed } from '../rng';
import { checkHostTensor, fromHostTensor, toHostTensorAsync, type HostTensorMap } from './tensors';
import { isRecord, type Json } from '../json';

export const DEFAULT_PROBE_TEXT = 'The people of this nation have always believed that the future will be better than the past.';

export interface MlmJobOptions {
  /** The folder relative corpus paths and `vocabFile` are resolved against (the spec file's). Default: the working directory. */
  specDir?: string;
  /** Cache for the tokenizer and the tokenized corpus. Default: the context's `cacheDir`. */
  cacheDir?: string;
  /** Data prepared by the caller (tests, benchmarks), used instead of preparing it from the spec; the job does not close it. */
  data?: PreparedData;
  /** The probe sample sentence (default `DEFAULT_PROBE_TEXT`). */
  probeText?: string;
  /** Write probes at each evaluation (default true). */
  probes?: boolean;
}

/** The sample the probes run on: [CLS] text [SEP], cut to the sequence length. */
export function probeSample(tokenizer: PreparedData['tokenizer'], text: string, maxLength: number): ProbeSample {
  const sp = tokenizer.special;
  const body = tokenizer.encode(text).slice(0, Math.max(0, maxLength - 2));
  const ids = [sp.cls, ...body, sp.sep];
  return { ids, tokens: ids.map((id) => tokenizer.token(id) ?? '[UNK]') };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

export function createMlmJob(ctx: JobContext, options: MlmJobOptions = {}): TrainingJob {
  const spec: ResolvedSpec = ctx.spec;
  const t = spec.training;
  const accumulation = Math.max(1, t.gradientAccumulation);
  let data: PreparedData | undefined;
  let ownsData = false;
  let model: Model | undefined;
  let optimizer: Optimizer | undefined;
  let evalIterator: BatchIterator | undefined;
  let sample: ProbeSample | undefined;
  let flopsPerStep = 0;
  let tokensPerStep = 0;
  /** Our parameter names with their variables, and TF.js's names for them (gradients come keyed by those). */
  let named: { name: string; variable: tf.Variable }[] = [];

  const live = () => {
    if (!model || !optimizer || !data) throw new Error('masked-LM job: init() has not run');
    return { model, optimizer, data };
  };

  /** One micro-batch: the loss's gradients (by parameter name) and [loss, mlm, nsp]. */
  const microStep = (m: Model, batch: Batch, seed: number) => {
    let parts: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = m.loss(batch, { training: true, seed });
      parts = tf.keep(tf.stack([out.loss, out.mlmLoss ?? tf.scalar(0), out.nspLoss ?? tf.scalar(0)]));
      return out.loss;
    }, named.map((n) => n.variable));
    value.dispose();
    const byName = new Map<string, tf.Tensor>();
    for (const { name, variable } of named) {
      const g = grads[variable.name];
      if (g) byName.set(name, g);
    }
    return { grads: byName, parts: parts! };
  };

  return {
    async init(): Promise<JobInfo> {
      const specDir = options.specDir ?? process.cwd();
      if (options.data) {
        data = options.data;
      } else {
        data = await prepareData({
          training: t,
          specDir,
          nsp: spec.model.heads.nsp,
          cacheDir: options.cacheDir ?? ctx.cacheDir,
          onProgress: (message) => ctx.log('info', message),
          onWarning: (message, hint) => ctx.warn(message, hint),
        });
        ownsData = true;
      }
      data.train.reset(); // a fresh run starts at the first batch even when the caller's iterator has been used
      // (Benchmarks hand in stand-in iterators without a config.)
      const pairs = (data.train as { config?: { nsp?: boolean } }).config?.nsp;
      if (spec.model.heads.nsp && pairs === false) ctx.warn('the model has an NSP head but the data has no sentence pairs: the NSP head is not trained', 'prepare the data with nsp: true');
      const V = spec.model.vocabSize;
      checkDataFitsModel(spec.model, t.sequenceLength, data.tokenizer.vocabSize);
      if (data.tokenizer.vocabSize < V) ctx.log('info', `the tokenizer has ${data.tokenizer.vocabSize} pieces; ${V - data.tokenizer.vocabSize} rows of the ${V}-row embedding are never used`);
      if (t.precision !== 'fp32' || t.compile) {
        ctx.warn(`the TF.js engine trains in fp32 without compilation: ${t.precision !== 'fp32' ? `precision ${t.precision}` : 'compile'} applies to the torch engine only`, 'set training.engine to "torch" (Python with PyTorch), or leave precision at fp32');
      }

      model = buildModel(spec, { seed: opSeed(ctx.rng) });
      named = [...model.variables.entries()].map(([name, variable]) => ({ name, variable }));
      optimizer = new Optimizer(model.variables, optimizerConfigFromSpec(t));

      const cost = computeCost(spec, { sequenceLength: t.sequenceLength, batchSize: t.batchSize, maskedPerSequence: t.maxPredictions });
      flopsPerStep = trainingFlopsPerStep(spec);
      tokensPerStep = t.batchSize * t.sequenceLength * accumulation;
      const params = model.parameterCount();
      if (params !== cost.totals.params) ctx.warn(`the model has ${params} parameters, the cost model says ${cost.totals.params}`, 'report this: the model and the cost model disagree');

      const evaluation = evaluationIterator(data);
      evalIterator = evaluation.iterator;
      if (evaluation.fromTraining) {
        ctx.warn('there is no validation split: evaluation uses training documents', 'raise training.validationFraction, or give a corpus with more documents');
      }
      if (options.probes !== false) sample = probeSample(data.tokenizer, options.probeText ?? DEFAULT_PROBE_TEXT, t.sequenceLength);

      const m = spec.model;
      const kinds = [...new Set(m.layers.flatMap((l) => l.modules.map((x) => x.type)))].join('+');
      return {
        parameterCount: params,
        tokensPerStep,
        flopsPerStep,
        description: `${spec.name}: ${m.numLayers} layer${m.numLayers === 1 ? '' : 's'} (${kinds}), hidden ${m.hiddenSize}, vocabulary ${m.vocabSize}, ${t.batchSize}×${t.sequenceLength} tokens${accumulation > 1 ? ` ×${accumulation} accumulated` : ''}`,
      };
    },

    async step({ step, learningRate }: StepInput): Promise<StepMetrics> {
      const { model: m, optimizer: opt, data: d } = live();
      let sum: Map<string, tf.Tensor> | undefined;
      const parts: tf.Tensor[] = [];
      for (let i = 0; i < accumulation; i++) {
        const batch = d.train.next();
        const r = microStep(m, batch, opSeed(ctx.rng));
        parts.push(r.parts);
        if (!sum) {
          sum = r.grads;
        } else {
          for (const [name, g] of r.grads) {
            const prev = sum.get(name);
            sum.set(name, prev ? tf.add(prev, g) : g.clone());
            prev?.dispose();
            g.dispose();
          }
        }
      }
      const grads = sum!;
      // The mean over micro-batches: 1/accumulation is folded into the update (no pass over the gradients for it).
      const update = opt.applyGradientsDeferred(grads, learningRate, 1 / accumulation);
      tf.dispose([...grads.values()]);
      // [loss, mlm, nsp, gradient norm]: the step's one read.
      const metrics = tf.tidy(() => tf.concat([tf.mean(tf.stack(parts), 0), tf.reshape(update.gradNorm, [1])]));
      tf.dispose([...parts, update.gradNorm]);
      let values: Float32Array;
      try {
        values = (await metrics.data()) as Float32Array;
      } finally {
        metrics.dispose();
      }
      const [loss, mlmLoss, nspLoss] = [values[0]!, values[1]!, values[2]!];
      const { gradNorm, applied } = update.settle(values[3]!);
      if (!Number.isFinite(loss) || !applied) {
        ctx.log(
          'error',
          `non-finite values at step ${step + 1}: loss ${fmt(loss)} (MLM ${fmt(mlmLoss)}${spec.model.heads.nsp ? `, NSP ${fmt(nspLoss)}` : ''}), gradient norm ${fmt(gradNorm)}, ` +
            `learning rate ${learningRate.toExponential(3)}; the update was ${applied ? 'applied' : 'skipped'}. Lower the learning rate, lengthen the warmup or set gradientClipNorm.`,
        );
      }
      return {
        loss,
        mlmLoss,
        ...(spec.model.heads.nsp ? { nspLoss } : {}),
        gradNorm,
        tokens: tokensPerStep,
        flops: flopsPerStep,
      };
    },

    async evaluate(step: number): Promise<EvalMetrics> {
      const { model: m } = live();
      const it = evalIterator!;
      it.reset();
      // Sums: [mlmLoss·count, count, mlmAccuracy·count, nspLoss·B, nspAccuracy·B, B]
      let totals = tf.zeros([6]);
      for (let b = 0; b < Math.max(1, t.evalBatches); b++) {
        const batch = it.next();
        const next = tf.tidy(() => {
          const o = m.loss(batch, { training: false });
          const zero = tf.scalar(0);
          const count = o.mlmCount ?? zero;
          const B = tf.scalar(o.nspLoss ? batch.batchSize : 0);
          const row = tf.stack([
            tf.mul(o.mlmLoss ?? zero, count),
            count,
            tf.mul(o.mlmAccuracy ?? zero, count),
            tf.mul(o.nspLoss ?? zero, B),
            tf.mul(o.nspAccuracy ?? zero, B),
            B,
          ]);
          return tf.add(totals, row);
        });
        totals.dispose();
        totals = next;
      }
      const [mlmSum, count, mlmRight, nspSum, nspRight, sequences] = Array.from(await totals.data()) as number[];
      totals.dispose();
      const mlmLoss = count! > 0 ? mlmSum! / count! : 0;
      const nspLoss = sequences! > 0 ? nspSum! / sequences! : 0;
      const result: EvalMetrics = {
        loss: mlmLoss + nspLoss,
        mlmLoss,
        ...(sequences! > 0 ? { nspLoss } : {}),
        mlmAccuracy: count! > 0 ? mlmRight! / count! : 0,
        ...(sequences! > 0 ? { nspAccuracy: nspRight! / sequences! } : {}),
      };
      if (sample) {
        const probe = await computeProbes(m, sample, step);
        // Stored through the context (the run format's probe files); without it the probe is only summarised.
        const rel = ctx.saveProbe ? await ctx.saveProbe(probe) : undefined;
        const file: Record<string, string> = rel !== undefined ? { file: rel } : {};
        result.probes = { summary: { ...probeSummary(probe), ...file }, data: { ...file, ...probeHeader(probe) } as unknown as Json };
      }
      return result;
    },

    async saveState(): Promise<JobState> {
      const { model: m, optimizer: opt, data: d } = live();
      // Everything captured before the first await: the reads see this moment's state.
      const train = d.train.state();
      const variables = [...m.variables];
      const [weights, optimizerState] = await Promise.all([Promise.all(variables.map(([, v]) => toHostTensorAsync(v))), opt.exportStateAsync()]);
      const tensors: HostTensorMap = {};
      variables.forEach(([name], i) => (tensors[`weights/${name}`] = weights[i]!));
      const optimizerJson = packOptimizerState(optimizerState, tensors);
      return { tensors, optimizer: optimizerJson, data: { train } as unknown as Json };
    },

    loadState(state: JobState) {
      const { model: m, optimizer: opt, data: d } = live();
      const expected = new Set<string>();
      for (const [name, v] of m.variables) {
        const key = `weights/${name}`;
        expected.add(key);
        const h = state.tensors[key];
        if (!h) throw new Error(`the saved state has no ${key}: it was saved for another model`);
        checkHostTensor(key, h, v.shape);
      }
      const extra = Object.keys(state.tensors).filter((k) => k.startsWith('weights/') && !expected.has(k));
      if (extra.length > 0) throw new Error(`the saved state has weights this model does not: ${extra.slice(0, 5).join(', ')}`);
      tf.tidy(() => {
        for (const [name, v] of m.variables) v.assign(fromHostTensor(state.tensors[`weights/${name}`]!));
      });
      opt.importState(unpackOptimizerState(state.optimizer, state.tensors));
      const train = isRecord(state.data) ? state.data.train : undefined;
      if (!isRecord(train)) throw new Error('the saved state has no data iterator state');
      d.train.restore(train as unknown as BatchIteratorState);
    },

    dispose() {
      optimizer?.dispose();
      model?.dispose();
      if (ownsData) data?.close();
      optimizer = undefined;
      model = undefined;
    },
  };
}

function optionsFromEnv(): MlmJobOptions {
  const text = process.env.CONVBERT_MLM_JOB;
  if (!text) return {};
  try {
    return JSON.parse(text) as MlmJobOptions;
  } catch {
    throw new Error(`CONVBERT_MLM_JOB is not JSON: ${text.slice(0, 80)}`);
  }
}

/** The factory a trainer process loads (through `CONVBERT_TRAINER_JOB_MODULE`, or wired in `src/engines/tfjs/trainer/jobs.ts`). */
export const createJob: JobFactory = (ctx) => createMlmJob(ctx, optionsFromEnv());
