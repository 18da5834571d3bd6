/**
 * Time of a full cost breakdown (`computeCost`) and of validating a spec, on the 24-layer Large presets.
 * Not a test: it prints figures. `npm run bench:cost`. Targets: cost < 2 ms, validation < 5 ms.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { computeCost } from '../src/core/cost';
import { resolveSpec } from '../src/core/spec/resolve';
import { validateSpecText } from '../src/core/validate/validate';
import type { PresetName } from '../src/core/spec/presets';

const SAMPLES = 200;

let sink = 0; // keeps the optimiser from dropping the calls

const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

/** Median, p10 and p90 of one call, over SAMPLES samples of `perSample` calls after a warm-up. */
function measure(label: string, warmup: number, perSample: number, call: () => number): void {
  const c0 = performance.now();
  sink += call();
  const cold = performance.now() - c0;
  for (let i = 0; i < warmup; i++) sink += call();
  const perCall: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < perSample; i++) sink += call();
    perCall.push((performance.now() - t0) / perSample);
  }
  perCall.sort((a, b) => a - b);
  const q = (p: number) => perCall[Math.min(perCall.length - 1, Math.floor(p * perCall.length))]!;
  console.log(`${label.padEnd(44)} median ${us(q(0.5)).padStart(9)}  p10 ${us(q(0.1)).padStart(9)}  p90 ${us(q(0.9)).padStart(9)}  first call ${us(cold)}`);
}

function costOf(preset: PresetName): void {
  const spec = resolveSpec({ version: 1, extends: preset });
  const modules = spec.model.layers.reduce((n, l) => n + l.modules.length, 0);
  measure(`cost ${preset} (${spec.model.layers.length} layers, ${modules} modules)`, 2_000, 50, () => computeCost(spec).totals.trainingFlopsPerStep);
}

function validationOf(label: string, text: string): void {
  measure(`validate ${label} (${text.length} chars)`, 200, 5, () => validateSpecText(text).diagnostics.length + 1);
}

console.log(`node ${process.version}; ${SAMPLES} samples each, after warm-up`);
costOf('groupbert-large');
costOf('bert-large');
validationOf('groupbert-large, every field', readFileSync('test/fixtures/valid/groupbert-large-full.convbert.json', 'utf8'));
validationOf('extends groupbert-large', '{ "version": 1, "extends": "groupbert-large" }');
if (sink === 42) console.log(''); // never true; reads the sink
