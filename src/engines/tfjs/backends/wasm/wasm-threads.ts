/**
 * UNOFFICIAL: the threaded (pthreads + SIMD) wasm build of TF.js in Node.
 *
 * tfjs-backend-wasm 4.x hard-codes `WASM_HAS_MULTITHREAD_SUPPORT = false` under Node (tfjs issue #3830), because
 * its Emscripten glue starts pthread workers from `blob:` URLs, which `worker_threads` cannot load. This file
 * works around that, and nothing else in the project depends on how:
 *
 *  1. the worker script the bundle would put in a Blob is written to a temp file, prefixed with the globals that
 *     the bundled factory code expects once it is `eval`ed inside a worker (`require$$0` … are the names rollup gave
 *     to `fs`, `path`, `perf_hooks`, `os` in `tf-backend-wasm.node.js`);
 *  2. while the backend initialises, `URL.createObjectURL` returns that file, and a `Blob` subclass captures the
 *     main factory script (`var WasmBackendModuleThreadedSimd = …`) into a second file that the workers import;
 *  3. tfjs caps XNNPACK threads at `logical cores / 2` (1 on a 2-core box), so `os.cpus()` is faked to report
 *     `2 × threads` cores for the duration of the init;
 *  4. everything is restored afterwards, whatever happened;
 *  5. the XNNPACK pool's pthread workers are `unref()`ed: Emscripten refs a worker while it runs a pthread, and the
 *     pool's threads live forever, so without this a Node process using the threaded build never exits by itself.
 *
 * It depends on bundle internals of @tensorflow/tfjs-backend-wasm 4.22.0 and can break on upgrade. The caller
 * (`./wasm.ts`) treats every failure here — thrown, `false`, or a time-out — as "use the single-threaded build".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nodeRequire } from '../resolver';

/** The parts of the `@tensorflow/tfjs-backend-wasm` module that the threaded init needs. */
export interface WasmThreadsApi {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

export interface ThreadedWasmResult {
  ok: boolean;
  /** XNNPACK threads actually in use when ok. */
  threads?: number;
  reason?: string;
}

/** A function that tries to bring up the threaded build with `threads` threads and set the backend to 'wasm'. */
export type ThreadedWasmInit = (wasm: WasmThreadsApi, threads: number) => Promise<ThreadedWasmResult>;

const WORKER_MODULE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
const MAIN_SCRIPT_PREFIX = 'var WasmBackendModuleThreadedSimd';
const INIT_TIMEOUT_MS = 20_000;

let tempDirs: string[] | undefined;
function makeTempDir(): string {
  const os = nodeRequire()('os') as typeof import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convbert-wasm-threads-'));
  if (!tempDirs) {
    tempDirs = [];
    process.once('exit', () => {
      for (const d of tempDirs ?? []) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  tempDirs.push(dir);
  return dir;
}

function workerScript(mainFile: string, workerContents: string): string {
  // Globals the factory body references once it is eval'ed in the worker's global scope, and a createObjectURL that
  // hands the worker our file for the main-script Blob it receives in the 'load' message.
  const prelude =
    'Object.assign(global,{require$$0:require("fs"),require$$1:require("path"),' +
    'require$$3:require("perf_hooks"),require$$4:require("os"),commonjsGlobal:global});' +
    `URL.createObjectURL=()=>${JSON.stringify(mainFile)};URL.revokeObjectURL=()=>{};\n`;
  // tfjs puts this text into a Blob with '\n' escaped (the template literal holds real newlines inside JS strings).
  return prelude + workerContents.replace(/\n/g, '\\n');
}

interface EmscriptenPThreads {
  PThread?: { runningWorkers?: Array<{ unref?: () => void }>; unusedWorkers?: Array<{ unref?: () => void }> };
}

/** Let the process exit while the pool's pthread workers idle (see step 5 above). */
export function unrefPthreadWorkers(): number {
  const module = (tf.engine().registry['wasm'] as unknown as { wasm?: EmscriptenPThreads } | undefined)?.wasm;
  const workers = [...(module?.PThread?.runningWorkers ?? []), ...(module?.PThread?.unusedWorkers ?? [])];
  for (const w of workers) w.unref?.();
  return workers.length;
}

/** The default `ThreadedWasmInit`: the worker_threads hack described at the top of this file. */
export const initThreadedWasmNode: ThreadedWasmInit = async (wasm, threads) => {
  if (typeof SharedArrayBuffer === 'undefined') return { ok: false, reason: 'SharedArrayBuffer is not available' };
  const req = nodeRequire();
  let workerContents: unknown;
  try {
    workerContents = (req(WORKER_MODULE) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  } catch (err) {
    return { ok: false, reason: `cannot read the pthread worker script (${(err as Error).message})` };
  }
  if (typeof workerContents !== 'string') return { ok: false, reason: 'unexpected tfjs-backend-wasm bundle layout' };

  const dir = makeTempDir();
  const mainFile = path.join(dir, 'tfjs-backend-wasm-threaded-simd.main.js');
  const workerFile = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  fs.writeFileSync(workerFile, workerScript(mainFile, workerContents));

  const os = req('os') as typeof import('node:os'); // the same object the bundle holds as require$$4
  const g = globalThis as unknown as { Blob: typeof Blob };
  const saved = { Blob: g.Blob, createObjectURL: URL.createObjectURL, revokeObjectURL: URL.revokeObjectURL, cpus: os.cpus };
  let capturedMain = false;
  const OrigBlob = saved.Blob;
  g.Blob = class CapturingBlob extends OrigBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0];
      const first = parts?.[0];
      if (typeof first === 'string' && first.startsWith(MAIN_SCRIPT_PREFIX)) {
        fs.writeFileSync(mainFile, parts!.map((p: unknown) => String(p)).join(''));
        capturedMain = true;
      }
    }
  };
  URL.createObjectURL = () => workerFile;
  URL.revokeObjectURL = () => {};
  const realCpus = saved.cpus.call(os);
  const template = realCpus[0] ?? { model: 'fake', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
  os.cpus = () => Array.from({ length: 2 * threads }, () => template);

  let timer: NodeJS.Timeout | undefined;
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), INIT_TIMEOUT_MS);
      timer.unref();
    });
    const outcome = await Promise.race([tf.setBackend('wasm'), timeout]);
    if (outcome === 'timeout') return { ok: false, reason: `threaded init did not finish within ${INIT_TIMEOUT_MS / 1000} s` };
    if (!outcome) return { ok: false, reason: 'threaded init failed (see the TF.js warning above)' };
    // Without the captured main script the single-threaded build came up (flag ignored); it is usable all the same.
    const actual = wasm.getThreadsCount();
    unrefPthreadWorkers();
    if (!capturedMain) return { ok: true, threads: actual, reason: 'the threaded build did not start; single-threaded build in use' };
    return { ok: true, threads: actual };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    if (timer) clearTimeout(timer);
    g.Blob = saved.Blob;
    URL.createObjectURL = saved.createObjectURL;
    URL.revokeObjectURL = saved.revokeObjectURL;
    os.cpus = saved.cpus;
  }
};
