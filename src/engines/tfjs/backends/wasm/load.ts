/** Loads the `wasm` backend (./index.ts declares it): ./wasm.ts brings it up, then a smoke test. */
import { setBackendTraits } from '../../../../core/ops/traits';
import { firstLine, type BackendAttempt, type BackendLoader } from '../backend';
import { smokeTest } from '../smoke';
import { wasmFusedKernelsReady } from './fused-kernels';
import { initWasm } from './wasm';
import { wasm } from '.';

export const loadWasm: BackendLoader = async (ctx) => {
  const before: BackendAttempt[] = [];
  try {
    const res = await initWasm({ threads: ctx.threads, wasmDir: ctx.wasmDir, threadedInit: ctx.threadedWasmInit, log: ctx.log });
    if (res.threadsFallbackReason) before.push({ name: 'wasm-threads', ok: false, reason: res.threadsFallbackReason });
    if (res.reused && ctx.threadsRequested && res.threads !== ctx.threads) {
      ctx.log(`wasm: already initialised in this process with ${res.threads} thread(s); asked for ${ctx.threads}`);
    }
    setBackendTraits(wasm.tfBackendName, wasm.traits, wasmFusedKernelsReady);
    await smokeTest();
    return { attempt: { name: wasm.name, ok: true }, before, threads: res.threads, simd: res.simd };
  } catch (err) {
    return { attempt: { name: wasm.name, ok: false, reason: `the wasm backend failed to start: ${firstLine(err)}` }, before };
  }
};
