/**
 * The host ⇄ webview protocol, the dashboard's HTML shell and the dashboard's pure pieces (smoothing, colormap,
 * persisted view state), in Node: no browser needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardCsp, dashboardHtml, escapeHtml, isCspSourceList } from '../../src/extension/webview-html';
import {
  FROM_WEBVIEW_SCHEMAS,
  TO_WEBVIEW_SCHEMAS,
  WEBVIEW_PROTOCOL_VERSION,
  exportFileBytes,
  fromWebview,
  parseFromWebviewMessage,
  parseToWebviewMessage,
  runShortId,
  toWebview,
  transferablesOf,
  type FromWebviewMessage,
  type ProbeMessage,
  type ToWebviewMessage,
} from '../../src/protocol/webview';
import { viridis } from '../../webview/src/colormap';
import { emaDebiased } from '../../webview/src/smoothing';
import { defaultViewState, sanitizeViewState } from '../../webview/src/state';
import { costEntries, lossPoints, probe, run, TOKENS } from './fixtures';

const { groupbert, bert } = costEntries();
const probeMessage = toWebview(probe('r1', 100, { layers: 2, heads: 2, convLayers: 1 }).message) as ProbeMessage;
// A 1×1 transparent PNG.
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

const TO: ToWebviewMessage[] = [
  toWebview({ type: 'snapshot', runs: [run('r1', 'first', lossPoints(5, 1), { probeSteps: [100] })], selectedRunIds: ['r1'], costs: [groupbert, bert], theme: 'dark' }),
  toWebview({ type: 'snapshot', runs: [], selectedRunIds: [], costs: [] }),
  toWebview({ type: 'run', run: { id: 'r2', name: 'second', state: 'completed' } }),
  toWebview({ type: 'metrics', runId: 'r1', points: [{ step: 6, loss: 2.5, lr: 1e-4 }] }),
  toWebview({ type: 'eval', runId: 'r1', step: 6, loss: 2.7, accuracy: 0.31 }),
  toWebview({ type: 'probeIndex', runId: 'r1', steps: [100, 200] }),
  probeMessage,
  toWebview({ type: 'probeMissing', runId: 'r1', step: 200, reason: 'the probe file was deleted' }),
  toWebview({ type: 'costs', costs: [bert] }),
  toWebview({ type: 'theme', kind: 'high-contrast' }),
  toWebview({ type: 'showView', view: 'costs' }),
  toWebview({ type: 'sweeps', sweeps: [{ name: 'gb-vs-bert', runIds: ['gb-vs-bert--gb-s1', 'gb-vs-bert--bert-s1'], crossings: [{ groupbert: 'gb', bert: 'bert', target: 6.1, flops: 2e12, flopsRatio: 0.45 }, { groupbert: 'gb', bert: 'bert-big', target: 5 }] }] }),
];
const FROM: FromWebviewMessage[] = [
  fromWebview({ type: 'ready' }),
  fromWebview({ type: 'requestProbe', runId: 'r1', step: 200 }),
  fromWebview({ type: 'exportFile', kind: 'png', name: 'loss.png', data: PNG }),
  fromWebview({ type: 'exportFile', kind: 'csv', name: 'loss.csv', data: 'a,b\r\n1,2\r\n' }),
  fromWebview({ type: 'selectRuns', runIds: ['r1'] }),
  fromWebview({ type: 'log', level: 'warn', message: 'dropped a message' }),
];

function rejectTo(raw: unknown): string {
  const r = parseToWebviewMessage(raw);
  if (r.ok) assert.fail(`accepted ${r.message.type}`);
  return r.error;
}
function rejectFrom(raw: unknown): string {
  const r = parseFromWebviewMessage(raw);
  if (r.ok) assert.fail(`accepted ${r.message.type}`);
  return r.error;
}

test('every message type has a sample that survives a structured clone (typed arrays included)', () => {
  assert.deepEqual(new Set(TO.map((m) => m.type)), new Set(Object.keys(TO_WEBVIEW_SCHEMAS)));
  assert.deepEqual(new Set(FROM.map((m) => m.type)), new Set(Object.keys(FROM_WEBVIEW_SCHEMAS)));
  for (const m of TO) {
    const r = parseToWebviewMessage(structuredClone(m));
    assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.message, m);
  }
  for (const m of FROM) {
    const r = parseFromWebviewMessage(JSON.parse(JSON.stringify(m)));
    assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.message, m);
  }
  // Directions do not mix.
  for (const m of FROM) if (m.type !== 'log') assert.equal(parseToWebviewMessage(m).ok, false, m.type);
  for (const m of TO) assert.equal(parseFromWebviewMessage(m).ok, false, m.type);
});

test('a CostReport from core/cost is sent as it is', () => {
  const r = parseToWebviewMessage(toWebview({ type: 'costs', costs: [groupbert] }));
  assert.ok(r.ok);
  assert.equal(r.ok && r.message.type === 'costs' && r.message.costs[0]!.report.layers.length, groupbert.report.layers.length);
});

test('wrong versions, unknown types and non-objects are rejected with a reason', () => {
  assert.match(rejectTo({ ...TO[2], v: 2 }), /version 2.*speaks 1/);
  assert.match(rejectTo({ type: 'run' }), /no protocol version/);
  assert.match(rejectTo({ v: WEBVIEW_PROTOCOL_VERSION, type: 'explode' }), /unknown host → webview message type "explode"/);
  assert.match(rejectTo('hello'), /must be an object/);
  assert.match(rejectTo(null), /must be an object/);
  assert.match(rejectTo([1, 2]), /must be an object/);
  assert.match(rejectTo({ v: 1, type: 7 }), /no string `type`/);
  assert.match(rejectFrom({ v: 1, type: 'snapshot' }), /unknown webview → host message type/);
  assert.match(rejectTo({ ...TO[3], extra: true }), /`metrics` message/);
  assert.match(rejectTo({ v: 1, type: 'metrics', runId: 'r1', points: [] }), /points/);
  assert.match(rejectTo({ v: 1, type: 'metrics', runId: 'r1', points: [{ step: -1, loss: 1 }] }), /step/);
  assert.match(rejectTo({ v: 1, type: 'metrics', runId: 'r1', points: [{ step: 1, loss: NaN }] }), /points\/0\/loss is NaN/);
  assert.match(rejectTo({ v: 1, type: 'eval', runId: 'r1', step: 1, loss: 1, accuracy: 1.5 }), /accuracy/);
  assert.match(rejectTo({ v: 1, type: 'showView', view: 'settings' }), /`showView` message: \/view/);
  assert.match(rejectTo({ v: 1, type: 'showView' }), /`showView` message: \/view.*\(missing\)/);
  const snapshot = TO[0] as Extract<ToWebviewMessage, { type: 'snapshot' }>;
  assert.match(rejectTo({ ...snapshot, runs: [snapshot.runs[0], snapshot.runs[0]] }), /appears twice/);
  assert.match(rejectTo({ ...snapshot, costs: [groupbert, bert, bert] }), /costs/);
  const badReport = { ...groupbert.report, layers: 'many' };
  assert.match(rejectTo({ ...snapshot, costs: [{ label: 'x', report: badReport }] }), /layers/);
});

test('a probe is checked against its shapes; ArrayBuffers become Float32Arrays; non-finite floats are refused', () => {
  const t = TOKENS.length;
  const layer0 = probeMessage.layers[0]!;
  const withLayer = (layer: unknown) => ({ ...probeMessage, layers: [layer] });
  assert.match(rejectTo(withLayer({ ...layer0, attention: { heads: 3, probs: layer0.attention!.probs } })), /expected heads × T × T = 3 × 13 × 13 = 507/);
  assert.match(rejectTo(withLayer({ ...layer0, conv: { mixing: new Float32Array(t) } })), /conv.mixing has 13 numbers, expected T × T = 169/);
  assert.match(rejectTo(withLayer({ ...layer0, meanDistance: [1] })), /one per head/);
  assert.match(rejectTo(withLayer({ layer: 0, meanDistance: [1] })), /meanDistance without attention/);
  assert.match(rejectTo(withLayer({ ...layer0, attention: { heads: 2, probs: Array.from(layer0.attention!.probs) } })), /expected a Float32Array \(or an ArrayBuffer of float32s\), got an array of 338/);
  assert.match(rejectTo(withLayer({ ...layer0, attention: { heads: 2, probs: new Float64Array(2 * t * t) } })), /got Float64Array/);
  const nan = new Float32Array(layer0.attention!.probs);
  nan[5] = NaN;
  assert.match(rejectTo(withLayer({ ...layer0, attention: { heads: 2, probs: nan } })), /attention\/probs\[5\] is NaN/);
  assert.match(rejectTo({ ...probeMessage, layers: [layer0, layer0] }), /repeats a layer/);
  assert.match(rejectTo({ ...probeMessage, tokens: [] }), /tokens/);
  assert.match(rejectTo({ ...probeMessage, realLength: 14 }), /realLength 14 is more than the 13 tokens/);

  const asBuffers = withLayer({
    ...layer0,
    attention: { heads: 2, probs: layer0.attention!.probs.slice().buffer },
    conv: { mixing: layer0.conv!.mixing.slice().buffer, kernel: layer0.conv!.kernel!.slice().buffer, meanDistance: 1.5 },
  });
  const r = parseToWebviewMessage(asBuffers);
  assert.ok(r.ok, r.ok ? '' : r.error);
  const parsed = r.ok && r.message.type === 'probe' ? r.message.layers[0]! : assert.fail('not a probe');
  assert.ok(parsed.attention!.probs instanceof Float32Array);
  assert.deepEqual(Array.from(parsed.attention!.probs), Array.from(layer0.attention!.probs));
  assert.deepEqual(Array.from(parsed.conv!.kernel!), Array.from(layer0.conv!.kernel!));
  assert.equal(parsed.conv!.kernelStart, -3, 'a kernel without kernelStart is centred');
  assert.equal(parsed.conv!.meanDistance, 1.5);

  const buffers = transferablesOf(probeMessage);
  assert.equal(buffers.length, 2 + 2 * 1, 'attention of two layers, mixing and kernel of one');
  assert.deepEqual(transferablesOf(TO[3]!), []);
});

test('exportFile: names must match the kind, PNGs must be data URLs, and the host gets the bytes', () => {
  assert.match(rejectFrom({ ...FROM[2], name: 'loss.csv' }), /does not end in .png/);
  assert.match(rejectFrom({ ...FROM[2], name: '../etc/passwd.png' }), /name/);
  assert.match(rejectFrom({ ...FROM[2], name: 'a b.png' }), /name/);
  assert.match(rejectFrom({ ...FROM[2], data: 'data:text/html;base64,AAAA' }), /PNG must be sent as/);
  assert.match(rejectFrom({ ...FROM[2], data: `${PNG}<script>` }), /PNG must be sent as/);
  const png = exportFileBytes(FROM[2] as Extract<FromWebviewMessage, { type: 'exportFile' }>);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(new TextDecoder().decode(exportFileBytes(FROM[3] as Extract<FromWebviewMessage, { type: 'exportFile' }>)), 'a,b\r\n1,2\r\n');
});

test('a parser never throws, whatever it is given', () => {
  const hostile = [
    undefined,
    0,
    Symbol('x'),
    () => 1,
    new Proxy({}, { get: () => assert.fail('read') }),
    Object.defineProperty({ v: 1 }, 'type', { get: () => assert.fail('getter'), enumerable: true }),
    { v: 1, type: 'snapshot', runs: new Array(10).fill({}), selectedRunIds: [], costs: [] },
    { v: 1, type: '__proto__' },
    { v: 1, type: 'toString' },
  ];
  for (const raw of hostile) {
    assert.doesNotThrow(() => parseToWebviewMessage(raw));
    assert.doesNotThrow(() => parseFromWebviewMessage(raw));
    assert.equal(parseToWebviewMessage(raw).ok, false);
  }
});

test('dashboardHtml: the strict CSP, one nonce\'d script and stylesheet, escaped values', () => {
  const nonce = 'abcdefghijklmnopqrstuv==';
  const html = dashboardHtml({ scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/x/dashboard.js', styleUri: 'https://file+.vscode-resource.vscode-cdn.net/x/dashboard.css', cspSource: 'https://*.vscode-cdn.net', nonce, title: 'Runs <&> "x"' });
  const csp = dashboardCsp('https://*.vscode-cdn.net', nonce);
  assert.equal(
    csp,
    `default-src 'none'; img-src https://*.vscode-cdn.net data:; style-src https://*.vscode-cdn.net 'nonce-${nonce}'; script-src 'nonce-${nonce}'; font-src https://*.vscode-cdn.net; connect-src 'none'`,
  );
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`));
  assert.equal(html.match(/<script/g)?.length, 1);
  assert.match(html, new RegExp(`<script nonce="${nonce}" src="https://file\\+\\.vscode-resource\\.vscode-cdn\\.net/x/dashboard\\.js"></script>`));
  assert.match(html, /<link rel="stylesheet" href="[^"]+dashboard\.css" nonce=/);
  assert.ok(html.includes('<title>Runs &lt;&amp;&gt; &quot;x&quot;</title>'));
  assert.doesNotMatch(html, /\son[a-z]+=|javascript:|<style|unsafe-/i, 'no inline handlers, inline styles or unsafe sources');
  assert.throws(() => dashboardHtml({ scriptUri: 'a', styleUri: 'b', cspSource: 'x', nonce: 'short', title: '' }), /nonce/);
  for (const bad of ["x; script-src 'unsafe-inline'", "'unsafe-inline'", "'self' 'unsafe-eval'", 'a,b', 'https://x.net\nscript-src *', '', "'self'  https://x.net"]) {
    assert.throws(() => dashboardHtml({ scriptUri: 'a', styleUri: 'b', cspSource: bad, nonce, title: '' }), /cspSource/, JSON.stringify(bad));
  }
  // The web workbench's cspSource is a list.
  assert.match(dashboardHtml({ scriptUri: 'a', styleUri: 'b', cspSource: "'self' https://*.vscode-cdn.net", nonce, title: '' }), /img-src &#39;self&#39; https:\/\/\*\.vscode-cdn\.net data:;/);
  assert.ok(isCspSourceList('http://127.0.0.1:8080') && isCspSourceList('vscode-webview://abc/path/'));
  assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
});

/** TensorBoard's smoothing, written out independently of `webview/src/smoothing.ts`. */
function referenceEma(values: number[], w: number): number[] {
  const out: number[] = [];
  let acc = 0;
  let n = 0;
  for (const v of values) {
    acc = acc * w + (1 - w) * v;
    n++;
    out.push(acc / (1 - w ** n));
  }
  return out;
}

test('EMA smoothing is TensorBoard-debiased: the first value is kept, constants stay constant', () => {
  const values = lossPoints(300, 3).map((p) => p.loss!);
  for (const w of [0.3, 0.6, 0.9, 0.99]) {
    const got = emaDebiased(values, w);
    const want = referenceEma(values, w);
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-9, `w=${w} i=${i}: ${v} vs ${want[i]}`));
    assert.equal(got[0], values[0]);
  }
  assert.deepEqual(Array.from(emaDebiased([5, 5, 5, 5], 0.95)).map((v) => Number(v.toFixed(12))), [5, 5, 5, 5]);
  assert.deepEqual(Array.from(emaDebiased([1, 2, 3], 0)), [1, 2, 3]);
  const gap = emaDebiased([1, NaN, 3], 0.5);
  assert.ok(Number.isNaN(gap[1]));
  assert.equal(gap[2], referenceEma([1, 3], 0.5)[1]);
});

test('viridis: the matplotlib endpoints and midpoint, and monotone lightness', () => {
  const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 4);
  assert.ok(close(viridis(0), [68, 1, 84]), `0 → ${viridis(0)}`);
  assert.ok(close(viridis(0.5), [33, 145, 140]), `0.5 → ${viridis(0.5)}`);
  assert.ok(close(viridis(1), [253, 231, 37]), `1 → ${viridis(1)}`);
  let last = -1;
  for (let i = 0; i <= 20; i++) {
    const [r, g, b] = viridis(i / 20);
    const luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    assert.ok(luma > last, `lightness rises at ${i / 20}`);
    last = luma;
  }
  assert.deepEqual(viridis(-1), viridis(0));
  assert.deepEqual(viridis(NaN), viridis(0));
});

test('issue #12: metric points carry cumulative tokens, FLOPs and training time; negative or non-finite ones are refused', () => {
  const point = { step: 7, loss: 2.5, lr: 1e-4, tokens: 28672, flops: 2.1e10, trainingMs: 1400.5 };
  const ok = parseToWebviewMessage(toWebview({ type: 'metrics', runId: 'r1', points: [point] }));
  assert.ok(ok.ok && ok.message.type === 'metrics' && ok.message.points[0]!.flops === 2.1e10);
  assert.ok(parseToWebviewMessage(toWebview({ type: 'snapshot', runs: [run('r1', 'first', [point])], selectedRunIds: ['r1'], costs: [] })).ok);
  for (const field of ['tokens', 'flops', 'trainingMs'] as const) {
    assert.match(rejectTo({ v: 1, type: 'metrics', runId: 'r1', points: [{ ...point, [field]: -1 }] }), new RegExp(`points/0/${field}`));
    assert.match(rejectTo({ v: 1, type: 'metrics', runId: 'r1', points: [{ ...point, [field]: Number.POSITIVE_INFINITY }] }), new RegExp(`points/0/${field}`));
    assert.match(rejectTo({ v: 1, type: 'snapshot', runs: [run('r1', 'first', [{ ...point, [field]: Number.NaN }])], selectedRunIds: [], costs: [] }), new RegExp(`${field} is NaN`));
  }
});

test('persisted view state is read field by field; garbage gets defaults', () => {
  assert.equal(sanitizeViewState({ v: 1, xAxis: 'flops' }).xAxis, 'flops');
  assert.equal(sanitizeViewState({ v: 1, xAxis: 'parsecs' }).xAxis, 'step');
  assert.equal(defaultViewState().xAxis, 'step');
  assert.deepEqual(sanitizeViewState(undefined), defaultViewState());
  assert.deepEqual(sanitizeViewState({ v: 2, tab: 'costs' }), defaultViewState());
  const s = sanitizeViewState({ v: 1, tab: 'attention', smoothing: 5, logX: 'yes', costPass: 'backward', costDisplay: 'pie', attention: { runId: 'r', layer: 2, head: -7, step: 300 } });
  assert.equal(s.tab, 'attention');
  assert.equal(s.smoothing, 0.99);
  assert.equal(s.logX, false);
  assert.equal(s.costPass, 'backward');
  assert.equal(s.costDisplay, 'chart');
  assert.deepEqual(s.attention, { runId: 'r', layer: 2, head: -1, step: 300 });
  assert.deepEqual(sanitizeViewState(JSON.parse(JSON.stringify(s))), s);
});

test('runShortId: a timestamped id\'s suffix, a sweep run\'s name and seed, else the last 8 characters', () => {
  assert.equal(runShortId('20250101-120000-123-3fa9c1'), '3fa9c1');
  assert.equal(runShortId('gb-vs-bert--groupbert-mini-noconv-s12'), 'groupbert-mini-noconv-s12');
  assert.equal(runShortId('e2e-sweep--bert-s1'), 'bert-s1');
  assert.equal(runShortId('run-a'), 'run-a');
});
