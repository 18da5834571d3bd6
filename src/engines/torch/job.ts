/**
 * The torch engine's `TrainingJob`: a proxy for the Python worker group (./workers.ts, docs/torch-engine.md). The
 * trainer loop (src/engines/trainer/loop.ts) drives it exactly as it drives the TF.js masked-LM job, so the run
 * directory, checkpoints, schedule, FLOP budget, stop/resume and protocol are the same code for both engines.
 *
 *   init      prepare the data in TypeScript (tokenizer, corpus; the same pipeline as TF.js), cost the spec
 *   plan      write the run's shards (reused when their key matches), start the workers, `init` them
 *   step      one request: the workers run the micro-batches, all-reduce, clip and update
 *   evaluate  the validation split, and the probes (attention maps from the workers, conv maps from the kernels)
 *   saveState the workers write a safetensors file of weights and moments under our names; the data state is the
 *             TF.js batch iterator's state at that step (from the shards' train-states.json), so either engine
 *             resumes the checkpoint
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { computeCost } from '../../core/cost';
import { trainingFlopsPerStep } from '../../core/cost/budget';
import { checkDataFitsModel, prepareData, type PreparedData } from '../../core/data';
import { readTrainStates, shardKey, writeShards, type ShardIndex } from '../../core/data/shards';
import { isRecord, type Json } from '../../core/json';
import { modulePrefixes } from '../../core/model/params';
import { opSeed } from '../../core/rng';
import type { ResolvedSpec } from '../../core/spec/resolve';
import type { EvalMetrics, JobContext, JobInfo, JobState, StepInput, StepMetrics, TrainingJob } from '../../core/train/job';
import { unpackOptimizerState } from '../../core/train/job';
import { DEFAULT_PROBE_TEXT, probeSample } from '../../core/train/mlm-job';
import { convMixing, meanDistance, probeHeader, probeSummary, type ModelProbe } from '../../core/train/probes';
import { decodeSafetensors, encodeSafetensors } from '../../run-format/safetensors';
import type { HostTensorMap } from '../../core/train/tensors';
import type { TorchDevice } from './backends';
import { WorkerError, WorkerGroup } from './workers';
import { workerEnv } from './python';
import { launchArgs, worldSizeOf } from './distributed';
import type { TorchLaunchOptions } from '.';

export interface TorchJobOptions {
  python: string;
  device: TorchDevice;
  distributed: TorchLaunchOptions;
  /** The folder relative corpus paths resolve against (the spec file's). */
  specDir?: string;
  cacheDir?: string;
  /** Shards prepared beforehand (`convbert prepare --out DIR`, e.g. on shared storage for many machines). */
  shardsDir?: string;
  precision?: 'fp32' | 'tf32' | 'bf16';
  compile?: boolean;
  /** Each line the workers write to stderr. */
  onStderr?: (line: string) => void;
}

/** The worker group's answer to `init`. */
export interface TorchInit {
  parameterCount: number;
  worldSize: number;
  device: { type: string; name?: string; count?: number };
  precision: string;
  compile: boolean;
  torch: string;
}

const num = (a: Record<string, unknown>, k: string): number => (typeof a[k] === 'number' ? (a[k] as number) : NaN);

function workerMessage(e: unknown): Error {
  if (e instanceof WorkerError) {
    const err = new Error(e.message);
    if (e.hint) (err as Error & { hint?: string }).hint = e.hint;
    return err;
  }
  return e instanceof Error ? e : new Error(String(e));
}

export function createTorchJob(ctx: JobContext, options: TorchJobOptions): TrainingJob {
  const spec: ResolvedSpec = ctx.spec;
  const t = spec.training;
  const accumulation = Math.max(1, t.gradientAccumulation);
  const world = worldSizeOf(options.distributed);
  let data: PreparedData | undefined;
  let group: WorkerGroup | undefined;
  let shards: { dir: string; index: ShardIndex; states: Json[] } | undefined;
  let stepsDone = 0;
  let evaluating = false;
  let params = 0;
  let flopsPerStep = 0;
  let optimizerState: Json = { type: t.optimizer.type, step: 0 };
  const scratch = (what: string) => path.join(ctx.runDir, `.torch-${what}-${process.pid}.safetensors`);

  const workers = (): WorkerGroup => {
    if (!group) throw new Error('torch job: plan() has not run');
    return group;
  };
  const ask = async (cmd: string, body: Record<string, unknown> = {}) => {
    try {
      return await workers().request(cmd, body);
    } catch (e) {
      throw workerMessage(e);
    }
  };

  return {
    async init(): Promise<JobInfo> {
      if (t.batchSize < 1) throw new Error('batchSize must be ≥ 1');
      data = await prepareData({
        training: t,
        specDir: options.specDir ?? process.cwd(),
        nsp: spec.model.heads.nsp,
        cacheDir: options.cacheDir ?? ctx.cacheDir,
        onProgress: (message) => ctx.log('info', message),
        onWarning: (message, hint) => ctx.warn(message, hint),
      });
      checkDataFitsModel(spec.model, t.sequenceLength, data.tokenizer.vocabSize);
      const cost = computeCost(spec, { sequenceLength: t.sequenceLength, batchSize: t.batchSize, maskedPerSequence: t.maxPredictions });
      params = cost.totals.params;
      flopsPerStep = trainingFlopsPerStep(spec, world);
      const m = spec.model;
      const kinds = [...new Set(m.layers.flatMap((l) => l.modules.map((x) => x.type)))].join('+');
      return {
        parameterCount: cost.totals.params,
        tokensPerStep: t.batchSize * t.sequenceLength * accumulation * world,
        flopsPerStep,
        description:
          `${spec.name}: ${m.numLayers} layer${m.numLayers === 1 ? '' : 's'} (${kinds}), hidden ${m.hiddenSize}, vocabulary ${m.vocabSize}, ` +
          `${t.batchSize}×${t.sequenceLength} tokens${accumulation > 1 ? ` ×${accumulation} accumulated` : ''}${world > 1 ? ` ×${world} ranks` : ''}`,
      };
    },

    async plan({ totalSteps, evaluationOnly }): Promise<void> {
      // Evaluating needs the validation rows only: one step of training rows keeps the shards small.
      evaluating = evaluationOnly === true;
      if (evaluating) totalSteps = 1;
      const d = data!;
      const shardOptions = { steps: totalSteps, worldSize: world };
      const outDir = options.shardsDir ?? path.join(options.cacheDir ?? ctx.cacheDir ?? path.join(ctx.runDir, 'cache'), 'shards', shardKey(spec, d, shardOptions).slice(0, 16));
      let reported = 0;
      const written = await writeShards({
        ...shardOptions,
        data: d,
        spec,
        outDir,
        onProgress: (done, total) => {
          if (done === total || done - reported >= total / 10) ctx.log('info', `data shards: ${done}/${total} sequences`);
          reported = done;
        },
        onLog: (message) => ctx.log('debug', message),
        onWarning: (message, hint) => ctx.warn(message, hint),
      });
      ctx.log('info', written.reused ? `data shards reused: ${written.dir}` : `data shards written: ${written.dir} (${(written.bytes / 2 ** 20).toFixed(1)} MiB)`);
      shards = { dir: written.dir, index: written.index, states: readTrainStates(written.dir, written.index) as unknown as Json[] };

      group = new WorkerGroup({
        python: options.python,
        launchArgs: launchArgs(options.distributed),
        env: { ...process.env, ...workerEnv(options.distributed.installedAt) },
        cwd: ctx.runDir,
        onLog: (level, message) => ctx.log(level === 'warn' || level === 'warning' ? 'warn' : level === 'debug' ? 'debug' : level === 'error' ? 'error' : 'info', message),
        onStderr: options.onStderr,
      });
      const a = await ask('init', {
        spec: spec as unknown as Json,
        shards: written.dir,
        device: options.device,
        precision: options.precision ?? t.precision ?? 'fp32',
        compile: options.compile ?? t.compile ?? false,
        seed: opSeed(ctx.rng),
      });
      const init = a as unknown as TorchInit;
      if (init.parameterCount !== params) ctx.warn(`the PyTorch model has ${init.parameterCount} parameters, the cost model says ${params}`, 'report this: the two disagree');
      ctx.log('info', `PyTorch ${init.torch} on ${init.device.name ?? init.device.type}${init.worldSize > 1 ? `, ${init.worldSize} ranks` : ''}, ${init.precision}${init.compile ? ', compiled' : ''}`);
    },

    async step({ step, learningRate }: StepInput): Promise<StepMetrics> {
      const a = await ask('step', { step, lr: learningRate, seed: opSeed(ctx.rng) });
      stepsDone = step + 1;
      if (a.applied !== false) optimizerState = { type: t.optimizer.type, step: (isRecord(optimizerState) && typeof optimizerState.step === 'number' ? optimizerState.step : 0) + 1 };
      const loss = num(a, 'loss');
      return {
        loss,
        mlmLoss: num(a, 'mlmLoss'),
        ...(spec.model.heads.nsp ? { nspLoss: num(a, 'nspLoss') } : {}),
        gradNorm: a.applied === false && !Number.isFinite(num(a, 'gradNorm')) ? NaN : num(a, 'gradNorm'),
        tokens: t.batchSize * t.sequenceLength * accumulation * world,
        flops: flopsPerStep,
        ...(Number.isFinite(num(a, 'memoryBytes')) ? { memoryBytes: num(a, 'memoryBytes') } : {}),
        ...(Number.isFinite(num(a, 'peakMemoryBytes')) ? { peakMemoryBytes: num(a, 'peakMemoryBytes') } : {}),
      };
    },

    async evaluate(step: number): Promise<EvalMetrics> {
      const a = await ask('evaluate');
      const result: EvalMetrics = {
        loss: num(a, 'loss'),
        ...(Number.isFinite(num(a, 'mlmLoss')) ? { mlmLoss: num(a, 'mlmLoss') } : {}),
        ...(spec.model.heads.nsp && Number.isFinite(num(a, 'nspLoss')) ? { nspLoss: num(a, 'nspLoss') } : {}),
        mlmAccuracy: num(a, 'mlmAccuracy'),
        ...(typeof a.nspAccuracy === 'number' ? { nspAccuracy: a.nspAccuracy } : {}),
      };
      if (data) {
        const probe = await takeProbe(step);
        // Stored through the context (the run format's probe files); without it (evaluation) only summarised.
        const rel = ctx.saveProbe ? await ctx.saveProbe(probe) : undefined;
        const file: Record<string, string> = rel !== undefined ? { file: rel } : {};
        result.probes = { summary: { ...probeSummary(probe), ...file }, data: { ...file, ...probeHeader(probe) } as unknown as Json };
      }
      return result;
    },

    async saveState(): Promise<JobState> {
      const file = scratch('save');
      try {
        const a = await ask('save', { path: file });
        const tensors = await readSafetensors(file);
        if (isRecord(a.optimizer)) optimizerState = a.optimizer as Json;
        const train = shards?.states[stepsDone];
        return { tensors, optimizer: optimizerState, data: { train: train ?? null, shards: { key: shards?.index.key ?? null, step: stepsDone } } as unknown as Json };
      } finally {
        await fsp.rm(file, { force: true });
      }
    },

    async loadState(state: JobState): Promise<void> {
      const opt = unpackOptimizerState(state.optimizer, state.tensors); // validates type and step
      const file = scratch('load');
      try {
        await writeSafetensors(file, state.tensors);
        await ask('load', { path: file, optimizer: { type: opt.type, step: opt.step } });
      } finally {
        await fsp.rm(file, { force: true });
      }
      optimizerState = { type: opt.type, step: opt.step };
      // Where the data continues: the step whose iterator state the checkpoint holds (either engine writes it).
      const train = isRecord(state.data) ? state.data.train : undefined;
      const at = shards ? shards.states.findIndex((s) => JSON.stringify(s) === JSON.stringify(train)) : -1;
      if (evaluating) return; // no step follows: where the data would continue does not matter
      if (at < 0) throw new Error("the checkpoint's data position is not in this run's data shards: was it saved for another corpus, batch size or number of ranks?");
      stepsDone = at;
    },

    dispose() {
      const g = group;
      group = undefined;
      if (g) void g.close().catch(() => g.kill());
      data?.close();
      data = undefined;
    },
  };

  async function takeProbe(step: number): Promise<ModelProbe> {
    const { ids, tokens } = probeSample(data!.tokenizer, DEFAULT_PROBE_TEXT, t.sequenceLength);
    const T = ids.length;
    const file = scratch('probe');
    try {
      await ask('probe', { ids: Array.from(ids), tokenTypeIds: new Array<number>(T).fill(0), realLength: T, path: file });
      const maps = await readSafetensors(file);
      const attention = Object.keys(maps)
        .filter((k) => k.startsWith('attention/'))
        .map((k) => {
          const [, layer, ...module] = k.split('/');
          const h = maps[k]!;
          const heads = h.shape[0]!;
          const probs = h.data as Float32Array;
          return { layer: Number(layer), module: module.join('/'), heads, probs, meanDistance: Array.from({ length: heads }, (_, i) => meanDistance(probs, i * T * T, T, T)) };
        })
        .sort((a, b) => a.layer - b.layer);
      const conv: ModelProbe['conv'] = [];
      for (const layer of spec.model.layers) {
        const prefixes = modulePrefixes(layer, spec.model.numLayers);
        layer.modules.forEach((m, i) => {
          if (m.type !== 'conv') return;
          const kernel = maps[`weights/${prefixes[i]}/grouped/kernel`];
          if (!kernel) return;
          const mixing = convMixing(kernel.data as Float32Array, kernel.shape, m, T, T);
          conv.push({ layer: layer.index, module: prefixes[i]!.slice(prefixes[i]!.indexOf('/') + 1), kernelSize: m.kernelSize, padding: m.padding, ...mixing });
        });
      }
      return { step, tokens, length: T, realLength: T, attention, conv };
    } finally {
      await fsp.rm(file, { force: true });
    }
  }
}

async function readSafetensors(file: string): Promise<HostTensorMap> {
  return decodeSafetensors(new Uint8Array(await fsp.readFile(file)), file).tensors;
}

async function writeSafetensors(file: string, tensors: HostTensorMap): Promise<void> {
  await fsp.writeFile(file, encodeSafetensors(tensors));
}
