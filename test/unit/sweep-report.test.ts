/**
 * The sweep report (core/compare/report.ts, pareto.ts, report-md.ts, report-svg.ts; run-format/eval-curve.ts;
 * engines/sweep/report-files.ts) on synthetic runs whose answers are worked out by hand here:
 *
 *   bert-mini (BERT, seeds 1 and 2): evaluations at steps 100, 300, 500 with FLOPs = step × 2e9 (final 1e12) and
 *     losses 7 / 6 / 5.1 (seed 1) and 6.8 / 6.2 / 4.9 (seed 2): mean curve 6.9 / 6.1 / 5.0, final 5.0 ± 0.1. Seed 2
 *     also has an evaluation at step 250 that seed 1 lacks: not on the mean curve. Training time at the end: 90 s and
 *     110 s (mean 100 s).
 *   groupbert-mini (GroupBERT, seed 1): linear between (3e11 FLOPs, 5.5) and (5e11, 4.5), so it reaches 5.0 at exactly
 *     4e11 FLOPs: 0.40× BERT's 1e12; its time is FLOPs / 5e6 ms (60 s, 100 s), so 5.0 at 80 s: 0.80× BERT's 100 s.
 *   groupbert-wide (GroupBERT, seed 1): 6.0, 5.6, 5.3 — never reaches 5.0; 0.3 (6 %) above.
 *   FLOPs per token 6e6, 7e6, 8e6: the Pareto front is bert-mini (cheapest) and groupbert-mini (lowest loss);
 *   groupbert-wide (dearer and worse than both) is dominated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { buildSweepReport, meanCurve, type EvalCurvePoint, type SweepRunInput } from '../../src/core/compare/report';
import { paretoFront } from '../../src/core/compare/pareto';
import { renderReportMarkdown } from '../../src/core/compare/report-md';
import { flopsTick, linearTicks, renderLossSvg, timeTick } from '../../src/core/compare/report-svg';
import { runEvalCurve } from '../../src/run-format/eval-curve';
import { trainerMessage, type TrainerMessage, type TrainerMessageBody } from '../../src/protocol';
import { PNG_SCALE, REPORT_FILES, writeSweepReport } from '../../src/engines/sweep/report-files';

const near = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
const pt = (step: number, loss: number, flops: number, trainingMs: number): EvalCurvePoint => ({ step, loss, flops, trainingMs, tokens: step * 1024 });

function bertSeed(seed: 1 | 2): SweepRunInput {
  const losses = seed === 1 ? [7, 6, 5.1] : [6.8, 6.2, 4.9];
  const endMs = seed === 1 ? 90_000 : 110_000;
  const curve = [100, 300, 500].map((s, i) => pt(s, losses[i]!, s * 2e9, (endMs * s) / 500));
  if (seed === 2) curve.splice(1, 0, pt(250, 6.5, 5e11, (endMs * 250) / 500));
  return {
    id: `demo--bert-mini-s${seed}`, group: 'bert-mini', seed, family: 'bert', params: 4e6, trainingFlopsPerToken: 6e6, curve,
    final: { step: 500, tokens: 500 * 1024, flops: 1e12, trainingMs: endMs }, plannedSteps: 500,
  };
}
const groupbertMini: SweepRunInput = {
  id: 'demo--groupbert-mini-s1', group: 'groupbert-mini', seed: 1, family: 'groupbert', params: 3e6, trainingFlopsPerToken: 7e6,
  curve: [pt(100, 6.5, 1e11, 20_000), pt(300, 5.5, 3e11, 60_000), pt(500, 4.5, 5e11, 100_000)],
  final: { step: 500, tokens: 500 * 1024, flops: 5e11, trainingMs: 100_000 }, plannedSteps: 500,
};
const groupbertWide: SweepRunInput = {
  id: 'demo--groupbert-wide-s1', group: 'groupbert-wide', seed: 1, family: 'groupbert', params: 5e6, trainingFlopsPerToken: 8e6,
  curve: [pt(100, 6.0, 2e11, 30_000), pt(300, 5.6, 6e11, 90_000), pt(500, 5.3, 1e12, 150_000)],
  final: { step: 500, tokens: 500 * 1024, flops: 1e12, trainingMs: 150_000 }, plannedSteps: 500,
};
const RUNS = [bertSeed(1), bertSeed(2), groupbertMini, groupbertWide];
const META = { sweep: 'demo', command: 'convbert sweep demo.sweep.json', date: '2026-12-04T23:00:00Z', machine: 'test box, 2 cores', engine: 'torch (torch-cpu)', versions: { app: '0.1.0', torch: '2.5.1' }, flopBudget: 1e12 };

test('the mean curve is over the evaluation steps every seed has; the final loss is mean ± half the range', () => {
  const report = buildSweepReport(RUNS);
  const bert = report.groups.find((g) => g.group === 'bert-mini')!;
  assert.deepEqual(bert.meanCurve.map((p) => p.step), [100, 300, 500], 'step 250 (seed 2 only) is not shared');
  [6.9, 6.1, 5.0].forEach((want, i) => assert.ok(near(bert.meanCurve[i]!.loss, want), `mean loss at ${bert.meanCurve[i]!.step}: ${bert.meanCurve[i]!.loss}`));
  assert.ok(near(bert.meanCurve[2]!.trainingMs, 100_000) && near(bert.meanCurve[2]!.flops, 1e12));
  assert.ok(bert.finalLoss && near(bert.finalLoss.mean, 5.0) && near(bert.finalLoss.spread, 0.1), JSON.stringify(bert.finalLoss));
  assert.deepEqual(bert.seeds, [1, 2]);
  assert.equal(bert.trainingMs, 100_000);
  assert.equal(bert.steps, 500);
  assert.ok(bert.complete);
  const one = report.groups.find((g) => g.group === 'groupbert-mini')!;
  assert.equal(one.finalLoss!.spread, 0, 'one seed: ± 0');
  // No step in common: an empty mean curve.
  assert.deepEqual(meanCurve([[pt(1, 5, 1, 1)], [pt(2, 4, 2, 2)]]), []);
});

test('crossings: reached at 0.40× the FLOPs and 0.80× the time (interpolated); not reached, with the gap in words', () => {
  const report = buildSweepReport(RUNS);
  assert.deepEqual(report.crossings.map((c) => `${c.groupbert}×${c.bert}`), ['groupbert-mini×bert-mini', 'groupbert-wide×bert-mini']);
  const [mini, wide] = report.crossings;
  assert.ok(mini!.flops.crossing.reached && near(mini!.flops.crossing.x, 4e11), JSON.stringify(mini!.flops));
  assert.ok(near(mini!.flops.ratio!, 0.4) && near(mini!.time.ratio!, 0.8), `${mini!.flops.ratio} ${mini!.time.ratio}`);
  assert.ok(mini!.time.crossing.reached && near(mini!.time.crossing.x, 80_000));
  assert.equal(mini!.sentence, "groupbert-mini reached bert-mini's final loss (5.00) at 0.40× its FLOPs and 0.80× its time.");
  assert.equal(wide!.flops.crossing.reached, false);
  assert.equal(wide!.flops.ratio, undefined);
  assert.equal(wide!.sentence, "groupbert-wide did not reach bert-mini's final loss (5.00) by the end of its budget: its final loss was 5.30, 0.30 (6 %) above.");
  assert.ok(report.summary.includes('GroupBERT-family groups reached the BERT-family group\'s final loss with fewer FLOPs in 1 of 2 pairings, with less than half the FLOPs in 1.'), report.summary.join('\n'));
});

test('a gap within the seeds\' spread and an incomplete run are said so', () => {
  const close: SweepRunInput = { ...groupbertWide, group: 'gb-close', id: 'demo--gb-close-s1', curve: [pt(100, 6, 2e11, 1), pt(500, 5.05, 1e12, 2)], final: { step: 400, tokens: 0, flops: 1e12, trainingMs: 2 } };
  const report = buildSweepReport([bertSeed(1), bertSeed(2), close]);
  assert.equal(
    report.crossings[0]!.sentence,
    "gb-close did not reach bert-mini's final loss (5.00) by its last evaluation (step 500 of 500): its final loss was 5.05, 0.05 (1.0 %) above, within the seeds' spread (±0.00 and ±0.10).",
  );
  assert.ok(report.notes.some((n) => n.startsWith('gb-close is not complete (demo--gb-close-s1: step 400 of 500)')), report.notes.join('\n'));
});

test('the Pareto front: cheaper-or-equal with a lower loss, or cheaper with an equal loss, dominates; identical points both stay', () => {
  const front = paretoFront([
    { id: 'A', cost: 1, loss: 5 },
    { id: 'B', cost: 1, loss: 5 }, // identical to A: neither beats the other
    { id: 'C', cost: 1, loss: 6 }, // same cost as A, higher loss: dominated
    { id: 'D', cost: 2, loss: 5 }, // same loss as A, dearer: dominated
    { id: 'E', cost: 2, loss: 4 }, // dearer than A but better: on the front
    { id: 'F', cost: 3, loss: 4.5 }, // dearer and worse than E: dominated
    { id: 'G', cost: Number.NaN, loss: 1 }, // not a point
  ]);
  assert.deepEqual(front, ['A', 'B', 'E']);
  const report = buildSweepReport(RUNS);
  assert.deepEqual(report.pareto, ['bert-mini', 'groupbert-mini']);
  assert.deepEqual(report.groups.map((g) => g.pareto), [true, true, false]);
});

test('bad input is a one-line RangeError', () => {
  assert.throws(() => buildSweepReport([{ ...groupbertMini, curve: [pt(2, 5, 1, 1), pt(1, 4, 2, 2)] }]), /run demo--groupbert-mini-s1: evaluation steps must increase, but step 1 comes after step 2/);
  assert.throws(() => buildSweepReport([{ ...groupbertMini, curve: [pt(1, Number.NaN, 1, 1)] }]), /non-finite loss/);
  assert.throws(() => buildSweepReport([groupbertMini, groupbertMini]), /listed twice/);
  assert.throws(() => buildSweepReport([groupbertMini, { ...bertSeed(1), id: 'x', group: 'groupbert-mini' }]), /different families/);
});

test('only one family, or no evaluations: no crossing table, and the report says why', () => {
  const report = buildSweepReport([bertSeed(1), { ...bertSeed(2), curve: [] }]);
  assert.equal(report.crossings.length, 0);
  assert.ok(report.summary.some((s) => s.startsWith('No crossing table')), report.summary.join('\n'));
  assert.ok(report.notes.some((n) => n.includes('demo--bert-mini-s2 has no evaluation yet')));
  const md = renderReportMarkdown(buildSweepReport([]), META);
  assert.match(md, /No run has an evaluation yet/);
  assert.equal(XMLValidator.validate(renderLossSvg(buildSweepReport([]), 'flops')), true);
});

test('report.md: the sweep, the group table, the Pareto front and the crossing table', () => {
  const md = renderReportMarkdown(buildSweepReport(RUNS), META);
  assert.match(md, /^# Sweep report: demo$/m);
  assert.match(md, /^- Command: `convbert sweep demo\.sweep\.json`$/m);
  assert.match(md, /^- Versions: app 0\.1\.0, torch 2\.5\.1$/m);
  assert.match(md, /^- FLOP budget per run: 1\.00 TFLOP/m);
  assert.match(md, /^\| \*\*bert-mini\*\* \| BERT \| 1, 2 \| 4\.00 M \| 6\.00 MFLOP \| 5\.000 ± 0\.100 \| 500 \| 512\.0 k \| 1\.00 TFLOP \| 1 min 40 s \| yes \|$/m);
  assert.match(md, /^\| groupbert-wide \| GroupBERT \| 1 \| 5\.00 M \| 8\.00 MFLOP \| 5\.300 ± 0\.000 \| 500 \| .* \| {2}\|$/m);
  assert.match(md, /^\| groupbert-mini \| bert-mini \| 5\.000 \| 400 GFLOP \| 0\.40× \| 1 min 20 s \| 0\.80× \| 4\.500 ± 0\.000 \|$/m);
  assert.match(md, /^\| groupbert-wide \| bert-mini \| 5\.000 \| not reached \| – \| not reached \| – \| 5\.300 ± 0\.000 \|$/m);
  assert.match(md, /Pareto front[\s\S]*\*\*bert-mini\*\*, \*\*groupbert-mini\*\*\./);
  assert.match(md, /!\[Validation loss against training FLOPs\]\(loss-vs-flops\.svg\)/);
  assert.match(md, /validation MLM loss/);
});

test('the SVG: well-formed XML, one path per run, log-x positions, axis titles, Pareto marks', () => {
  const report = buildSweepReport(RUNS);
  for (const axis of ['flops', 'time'] as const) {
    const svg = renderLossSvg(report, axis);
    assert.equal(XMLValidator.validate(svg), true, `${axis}: well-formed`);
    const doc = new XMLParser({ ignoreAttributes: false, isArray: (_name, _path, _leaf, attribute) => !attribute }).parse(svg);
    const root = doc.svg[0];
    const runs = root.g.find((g: Record<string, string>) => g['@_class'] === 'runs').path;
    assert.deepEqual(runs.map((p: Record<string, string>) => p['@_data-run']), RUNS.map((r) => r.id), `${axis}: one path per run`);
    const texts = (root.text as ({ '#text': string } | string)[]).map((t) => (typeof t === 'string' ? t : t['#text']));
    assert.ok(texts.includes(axis === 'flops' ? 'training FLOPs (log scale)' : 'training time (log scale)'), texts.join(' / '));
    assert.ok(texts.includes('validation MLM loss'));
    const marks = root.g.find((g: Record<string, string>) => g['@_class'] === 'pareto').circle;
    assert.deepEqual(marks.map((c: Record<string, string>) => c['@_data-group']), ['bert-mini', 'groupbert-mini']);
    // Seeds of a group share a colour; groups differ.
    const colors = runs.map((p: Record<string, string>) => p['@_stroke']);
    assert.equal(colors[0], colors[1]);
    assert.equal(new Set(colors).size, 3);
  }
  // Log-x: groupbert-mini's FLOPs 1e11, 3e11, 5e11 → x positions with (x3 − x2)/(x2 − x1) = log(5/3)/log(3).
  const svg = renderLossSvg(report, 'flops');
  const d = /data-run="demo--groupbert-mini-s1"[^>]* d="([^"]+)"/.exec(svg)![1]!;
  const xs = [...d.matchAll(/[ML]([\d.]+) /g)].map((m) => Number(m[1]));
  assert.equal(xs.length, 3);
  assert.ok(Math.abs((xs[2]! - xs[1]!) / (xs[1]! - xs[0]!) - Math.log(5 / 3) / Math.log(3)) < 0.01, xs.join(','));
  assert.match(svg, />1 TFLOP</);
});

test('tick labels and linear ticks', () => {
  assert.equal(flopsTick(2e11), '200 GFLOP');
  assert.equal(flopsTick(1e12), '1 TFLOP');
  assert.equal(timeTick(30), '30 s');
  assert.equal(timeTick(120), '2 min');
  assert.equal(timeTick(5400), '1.5 h');
  assert.equal(timeTick(0.5), '500 ms');
  assert.deepEqual(linearTicks(4.3, 7.2), [4.5, 5, 5.5, 6, 6.5, 7]);
});

const msg = (body: TrainerMessageBody): TrainerMessage => trainerMessage(body, 1_700_000_000_000);
const metrics = (step: number, stepMs: number, flops: number): TrainerMessage =>
  msg({ type: 'metrics', step, loss: 9, mlmLoss: 9, learningRate: 1e-3, gradNorm: 1, tokensPerSecond: (100 * 1000) / stepMs, stepMs, flopsPerSecond: (flops * 1000) / stepMs, memoryBytes: 0 });
const started = (step: number): TrainerMessage => msg({ type: 'started', runId: 'r', runDir: '/r', backend: { requested: 'cpu', name: 'cpu', skipped: [] }, seed: 1, step, totalSteps: 4, resumed: step > 0 });
const evalAt = (step: number, loss: number, nsp = false): TrainerMessage => msg({ type: 'eval', step, loss, mlmAccuracy: 0.2, ...(nsp ? { nspAccuracy: 0.5 } : {}) });

test('runEvalCurve: each kept evaluation with the totals through its step; a resume drops and replaces', () => {
  const events = [
    started(0), evalAt(0, 10), metrics(1, 100, 1e9), metrics(2, 100, 1e9), evalAt(2, 8), metrics(3, 100, 1e9), metrics(4, 100, 1e9), evalAt(4, 7),
    // Killed; resumed from the checkpoint at 2: steps 3 and 4 retrained (slower), evaluated again.
    started(2), metrics(3, 300, 1e9), metrics(4, 300, 1e9), evalAt(4, 6.5),
  ];
  const c = runEvalCurve(events);
  assert.deepEqual(c.points, [
    { step: 0, loss: 10, tokens: 0, flops: 0, trainingMs: 0 },
    { step: 2, loss: 8, tokens: 200, flops: 2e9, trainingMs: 200 },
    { step: 4, loss: 6.5, tokens: 400, flops: 4e9, trainingMs: 800 },
  ]);
  assert.deepEqual(c.final, { step: 4, tokens: 400, flops: 4e9, trainingMs: 800 });
  assert.equal(c.lossIncludesNsp, false);
  assert.equal(runEvalCurve([started(0), metrics(1, 100, 1e9), evalAt(1, 9, true)]).lossIncludesNsp, true);
  // An event carrying a separate MLM loss has it used, and the loss is then the MLM loss alone.
  const withMlm = { ...evalAt(1, 9, true), mlmLoss: 8.5 } as TrainerMessage;
  const m = runEvalCurve([started(0), metrics(1, 100, 1e9), withMlm]);
  assert.equal(m.points[0]!.loss, 8.5);
  assert.equal(m.lossIncludesNsp, false);
});

test('an NSP loss is named in the notes and on the chart\'s axis', () => {
  const report = buildSweepReport(RUNS.map((r) => ({ ...r, lossIncludesNsp: true })));
  assert.match(report.notes[0]!, /^The validation loss here is MLM \+ NSP/);
  assert.match(renderLossSvg(report, 'flops'), />validation loss \(MLM \+ NSP where the model has an NSP head\)</);
});

test('writeSweepReport writes report.md and both charts as SVG and PNG (PNG signature, 2× the SVG\'s size), no temporary files left', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sweep-report-'));
  try {
    const report = buildSweepReport(RUNS);
    const written = await writeSweepReport(dir, report, META);
    assert.deepEqual(written.warnings, []);
    assert.deepEqual(readdirSync(dir).sort(), Object.values(REPORT_FILES).sort());
    for (const name of [REPORT_FILES.flopsPng, REPORT_FILES.timePng]) {
      const png = readFileSync(path.join(dir, name));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}: PNG signature`);
      const svg = readFileSync(path.join(dir, name.replace('.png', '.svg')), 'utf8');
      const [w, h] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number) as [number, number];
      assert.equal(png.readUInt32BE(16), w * PNG_SCALE, `${name}: width`);
      assert.equal(png.readUInt32BE(20), h * PNG_SCALE, `${name}: height`);
    }
    assert.match(readFileSync(path.join(dir, REPORT_FILES.markdown), 'utf8'), /^# Sweep report: demo$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a PNG rasteriser the SVGs and report.md are still written, and a one-line warning says why', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sweep-report-'));
  try {
    const written = await writeSweepReport(dir, buildSweepReport(RUNS), META, () => Promise.reject(new Error('no binary for this platform')));
    assert.deepEqual(readdirSync(dir).sort(), [REPORT_FILES.flopsSvg, REPORT_FILES.timeSvg, REPORT_FILES.markdown].sort());
    assert.deepEqual(written.warnings, ['loss-vs-flops.png not written: no binary for this platform', 'loss-vs-time.png not written: no binary for this platform']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a curve already below the target at its first evaluation: "at most" the ratio of its first point', () => {
  const early: SweepRunInput = { ...groupbertMini, group: 'gb-early', id: 'demo--gb-early-s1', curve: [pt(100, 4.8, 2e11, 10_000), pt(500, 4.2, 1e12, 50_000)] };
  const report = buildSweepReport([bertSeed(1), bertSeed(2), early]);
  const c = report.crossings[0]!;
  assert.ok(c.flops.crossing.reached && c.flops.crossing.atStart && near(c.flops.ratio!, 0.2) && near(c.time.ratio!, 0.1));
  assert.equal(c.sentence, "gb-early was already at or below bert-mini's final loss (5.00) at its first evaluation: at most 0.20× its FLOPs and 0.10× its time.");
  assert.match(renderReportMarkdown(report, META), /^\| gb-early \| bert-mini \| 5\.000 \| ≤ 200 GFLOP \| ≤ 0\.20× \| ≤ 10\.0 s \| ≤ 0\.10× \| 4\.200 ± 0\.000 \|$/m);
});
