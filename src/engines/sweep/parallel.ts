/**
 * How many runs of a sweep train at once. `auto`: max(1, floor(cores / threads each run uses)), bounded by memory (the
 * cost model's estimate of the largest run against 80 % of the machine's memory). A number is taken as given (at
 * least 1). Each run then gets `cores / parallel` threads for its BLAS and torch pools, so runs side by side do not
 * oversubscribe the cores.
 */

/** The share of the machine's memory runs may take together. */
export const MEMORY_SHARE = 0.8;

export interface ParallelFacts {
  /** Logical cores (`os.availableParallelism()`). */
  cores: number;
  /** Threads one run uses on its own (see `threadsPerRun`). */
  threadsPerRun: number;
  /** The machine's memory (`os.totalmem()`). */
  memoryBytes: number;
  /** The cost model's training-memory estimate of the largest run. */
  runBytes: number;
  /** Runs in the sweep (never more at once). */
  runs: number;
}

export interface ParallelChoice {
  parallel: number;
  /** Why, in words (for the plan's header). */
  why: string;
}

export function chooseParallel(asked: number | 'auto', facts: ParallelFacts): ParallelChoice {
  const cap = Math.max(1, facts.runs);
  if (asked !== 'auto') {
    const n = Math.max(1, Math.floor(asked));
    return { parallel: Math.min(n, cap), why: `asked for ${n}` };
  }
  const byCores = Math.max(1, Math.floor(facts.cores / Math.max(1, facts.threadsPerRun)));
  const byMemory = facts.runBytes > 0 ? Math.max(1, Math.floor((MEMORY_SHARE * facts.memoryBytes) / facts.runBytes)) : Infinity;
  const parallel = Math.min(byCores, byMemory, cap);
  const why =
    parallel === cap && cap < Math.min(byCores, byMemory)
      ? `auto: all ${cap} run(s)`
      : byMemory < byCores
        ? `auto: memory (${byMemory} × the largest run's estimate fit 80 % of the machine's memory)`
        : `auto: ${facts.cores} cores ÷ ${facts.threadsPerRun} thread(s) per run`;
  return { parallel, why };
}

/**
 * Threads one run uses on its own: the torch engine on a CPU and TF.js's native backends use every core, TF.js's wasm
 * backend up to 8 (XNNPACK's pool), its pure-JS cpu backend one; a GPU run keeps about one core busy.
 */
export function threadsPerRun(engine: string, backend: string, cores: number): number {
  if (engine === 'torch') return backend === 'cuda' || backend === 'mps' ? 1 : cores;
  if (backend === 'cpu') return 1;
  if (backend === 'wasm' || backend === 'auto') return Math.min(8, cores);
  if (backend === 'tfjs-node-gpu') return 1;
  return cores;
}

/** The environment that holds a run to `threads` threads (torch, OpenMP, OpenBLAS, MKL); none when it may use every core. */
export function threadEnv(threads: number, cores: number): Record<string, string> {
  if (threads >= cores) return {};
  const t = String(Math.max(1, threads));
  return { OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
}
