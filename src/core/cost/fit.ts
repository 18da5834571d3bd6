/**
 * Will a training run fit in memory? The cost model's estimate (`computeCost(...).memory`, the one figure the
 * editor's memory-over-budget diagnostic uses too) held against the user's budget and the backend's hard limit
 * (`BACKEND_MEMORY_LIMITS`, next to the list of backends in spec/schema.ts), with what to change when it does not.
 *
 * Pure: what it needs to know about the machine (its memory, which backend `auto` would pick) comes in `machine`
 * (`machineFacts()` in src/engines/machine.ts is the Node side, from the engine registry). No TF.js here.
 */
import { BACKEND_MEMORY_LIMITS, type BackendName } from '../spec/schema';
import { orList } from '../spec/diagnostics';
import type { ResolvedSpec } from '../spec/resolve';
import { computeCost } from './report';
import type { MemoryEstimate } from './types';
import { count, mebibytes } from '../../format';

export type ConcreteBackend = Exclude<BackendName, 'auto'>;

/** What the pure fit check cannot find out by itself. */
export interface MachineFacts {
  /** The machine's memory (`os.totalmem()`): the hard limit of the native and cpu backends. */
  memoryBytes?: number;
  /** The backend `auto` would pick here (default: wasm, the one that always ships). */
  autoBackend?: ConcreteBackend;
}

export interface TrainingFit {
  /** Within the budget and the backend's hard limit. */
  fits: boolean;
  /** Training anyway could work: only the user's budget is exceeded, not the backend's hard limit. */
  canForce: boolean;
  estimateBytes: number;
  budgetBytes?: number;
  hardLimitBytes?: number;
  /** The backend asked for (`auto` stays `auto`; the message says what it picks). */
  backend: string;
  message: string;
  /** What to change, each a short imperative with numbers; empty when it fits. */
  suggestions: string[];
}

const MiB = 2 ** 20;

function isConcrete(b: string): b is ConcreteBackend {
  return b !== 'auto' && Object.prototype.hasOwnProperty.call(BACKEND_MEMORY_LIMITS, b);
}

/** The backend that actually runs for `backend` (auto → what it picks here). */
export function effectiveBackend(backend: string, machine: MachineFacts = {}): ConcreteBackend {
  if (isConcrete(backend)) return backend;
  return machine.autoBackend ?? 'wasm';
}

/** The hard limit of a backend in bytes, or undefined when none can be stated. */
export function hardLimitBytes(backend: string, machine: MachineFacts = {}): number | undefined {
  const limit = BACKEND_MEMORY_LIMITS[effectiveBackend(backend, machine)].limit;
  if (typeof limit === 'number') return limit;
  return limit === 'machine' ? machine.memoryBytes : undefined;
}

/** The largest hard limit of any backend (undefined when one of them has no stated limit: it might fit). */
export function largestHardLimitBytes(machine: MachineFacts = {}): number | undefined {
  let most = 0;
  for (const b of Object.keys(BACKEND_MEMORY_LIMITS) as ConcreteBackend[]) {
    if (BACKEND_MEMORY_LIMITS[b].limit === 'unknown') continue; // a GPU's memory is not known, and is no larger than the machine's in practice
    const limit = hardLimitBytes(b, machine);
    if (limit === undefined) return undefined;
    most = Math.max(most, limit);
  }
  return most;
}

function label(backend: string, machine: MachineFacts): string {
  return backend === 'auto' ? `${effectiveBackend(backend, machine)} backend (what auto picks on this machine)` : `${backend} backend`;
}

/** Sizes of limits: exact MiB below 8 GiB (3840 MiB, not "3.8 GiB"), else as `mebibytes`. */
export function formatLimit(bytes: number): string {
  return bytes < 8 * 2 ** 30 && bytes % MiB === 0 ? `${bytes / MiB} MiB` : mebibytes(bytes);
}

function totalAt(spec: ResolvedSpec, batchSize: number, sequenceLength: number): number {
  return computeCost(spec, { batchSize, sequenceLength }).memory.totalBytes;
}

/** The largest value in [lo, hi] for which `ok` holds (`ok` is monotone: true then false), or undefined. */
function largest(lo: number, hi: number, ok: (v: number) => boolean): number | undefined {
  if (hi < lo || !ok(lo)) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** What to change so the estimate (`mem`, the spec's as it is) drops to `target` bytes. */
function suggestionsFor(spec: ResolvedSpec, backend: string, target: number, mem: MemoryEstimate, machine: MachineFacts): string[] {
  const t = spec.training;
  const out: string[] = [];
  const estimate = mem.totalBytes;
  const fixed = mem.weightsBytes + mem.gradientBytes + mem.optimizerBytes;
  if (fixed >= target) {
    out.push(
      `choose a smaller model: its weights, gradients and optimizer state alone take ${mebibytes(fixed)} (lower model.hiddenSize — parameters grow with its square — or model.numLayers)`,
    );
  } else {
    const b = largest(1, t.batchSize - 1, (v) => totalAt(spec, v, t.sequenceLength) <= target);
    if (b !== undefined) {
      // A divisor of the effective batch keeps it exactly, when one is near.
      const effective = t.batchSize * t.gradientAccumulation;
      let exact = b;
      for (let v = b; v >= Math.ceil(b / 2); v--) if (effective % v === 0) {
        exact = v;
        break;
      }
      const acc = Math.ceil(effective / exact);
      const keeps = exact * acc === effective ? `to keep the effective batch of ${effective}` : `for an effective batch of ${exact * acc} (now ${effective})`;
      out.push(
        `lower training.batchSize from ${t.batchSize} to ${exact}${exact === b ? ' or less' : ''}, and raise training.gradientAccumulation from ${t.gradientAccumulation} to ${acc} ${keeps} (accumulation costs no memory)`,
      );
    }
    const s = largest(8, t.sequenceLength - 1, (v) => totalAt(spec, t.batchSize, v) <= target);
    if (s !== undefined) out.push(`lower training.sequenceLength from ${t.sequenceLength} to ${s} or less`);
  }
  const current = effectiveBackend(backend, machine);
  const currentLimit = hardLimitBytes(current, machine);
  if (currentLimit === undefined || estimate <= currentLimit) return out; // another backend would not lift the budget
  const others = (Object.keys(BACKEND_MEMORY_LIMITS) as ConcreteBackend[]).filter((b) => {
    if (b === current) return false;
    const limit = hardLimitBytes(b, machine);
    return limit !== undefined && limit >= estimate;
  });
  if (others.length > 0) {
    const parts = others.map((b) => `${b} (up to ${formatLimit(hardLimitBytes(b, machine)!)}${b === 'cpu' ? ', but 30–50× slower than wasm' : ''})`);
    out.push(`or use another backend: ${orList(parts)}`);
  }
  return out;
}

/**
 * Whether training `spec` on `backend` fits: the estimate against the budget (`budgetMiB`, else
 * `training.memoryBudgetMiB`) and the backend's hard limit.
 */
export function trainingFit(spec: ResolvedSpec, backend: string, budgetMiB?: number, machine: MachineFacts = {}): TrainingFit {
  const cost = computeCost(spec);
  const mem = cost.memory;
  const estimate = mem.totalBytes;
  const budgetMiBUsed = budgetMiB ?? spec.training.memoryBudgetMiB;
  const budget = Number.isFinite(budgetMiBUsed) && budgetMiBUsed > 0 ? budgetMiBUsed * MiB : undefined;
  const hard = hardLimitBytes(backend, machine);
  const overHard = hard !== undefined && estimate > hard;
  const overBudget = budget !== undefined && estimate > budget;
  const fits = !overHard && !overBudget;
  const which = label(backend, machine);
  const why = BACKEND_MEMORY_LIMITS[effectiveBackend(backend, machine)].why;
  const hardText = hard !== undefined ? `the hard limit of the ${which}, ${formatLimit(hard)} (${why})` : `the ${which} (no hard limit known: ${why})`;
  const budgetText = budget !== undefined ? `the ${budgetMiBUsed} MiB memory budget${budgetMiB === undefined ? ' (training.memoryBudgetMiB)' : ''}` : 'no memory budget';
  const fixed = mem.weightsBytes + mem.gradientBytes + mem.optimizerBytes;
  const breakdown =
    `${mebibytes(fixed)} of weights, gradients and optimizer state for ${count(cost.totals.params)} parameters, ` +
    `plus ${mebibytes(mem.activationBytes)} of activations at batch ${spec.training.batchSize} × sequence ${spec.training.sequenceLength}`;
  let message: string;
  if (fits) {
    message = `estimated training memory ${mebibytes(estimate)} fits ${budgetText} and ${hardText}`;
  } else {
    const over = [overHard ? `exceeds ${hardText}` : '', overBudget ? `exceeds ${budgetText}` : ''].filter(Boolean).join(' and ');
    const within = !overHard && hard !== undefined ? `; it is within the ${which}'s hard limit of ${formatLimit(hard)}, so training anyway might work` : '';
    message = `estimated training memory ${mebibytes(estimate)} (${breakdown}) ${over}${within}`;
  }
  // Changes that get under both limits; when only the budget is exceeded, raising it is one of them.
  const target = Math.min(hard ?? Infinity, budget ?? Infinity);
  const suggestions = fits ? [] : suggestionsFor(spec, backend, target, mem, machine);
  if (overBudget && !overHard) suggestions.push(`or raise training.memoryBudgetMiB to ${Math.ceil(estimate / MiB)} or more`);
  return {
    fits,
    canForce: !overHard,
    estimateBytes: estimate,
    ...(budget !== undefined ? { budgetBytes: budget } : {}),
    ...(hard !== undefined ? { hardLimitBytes: hard } : {}),
    backend,
    message,
    suggestions,
  };
}

/** The one message a fit check refuses with: the numbers, then what to change. */
export function fitRefusal(fit: TrainingFit): string {
  return `${fit.message}${fit.suggestions.length > 0 ? `. To make it fit: ${fit.suggestions.join('; ')}` : ''}`;
}

/**
 * What a trainer says when TF.js runs out of memory anyway (wasm's "memory access out of bounds", an allocation
 * failure): out of memory, with the estimate, the budget, the hard limit and what to change.
 */
export function describeOutOfMemory(spec: ResolvedSpec, backend: string, budgetMiB?: number, machine: MachineFacts = {}): string {
  const fit = trainingFit(spec, backend, budgetMiB, machine);
  const which = label(backend, machine);
  if (!fit.fits) return `out of memory on the ${which}: ${fitRefusal(fit)}`;
  // The estimate fits, yet memory ran out: what the estimate leaves out (the backend's temporaries) did it.
  const half = suggestionsFor(spec, backend, fit.estimateBytes / 2, computeCost(spec).memory, machine);
  const hard = fit.hardLimitBytes !== undefined ? `, its hard limit ${formatLimit(fit.hardLimitBytes)}` : '';
  const budget = fit.budgetBytes !== undefined ? `, the budget ${formatLimit(fit.budgetBytes)}` : '';
  return (
    `out of memory on the ${which}: the estimate ${mebibytes(fit.estimateBytes)} (weights, gradients, optimizer state and activations${hard}${budget}) ` +
    `leaves out the backend's own temporaries, which took the rest. To make room: ${half.join('; ')}`
  );
}
