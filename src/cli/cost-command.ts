import Table from 'cli-table3';
import { computeCost, type CostReport, type ModuleCost } from '../core/cost';
import type { ResolvedSpec } from '../core/spec/resolve';
import { bytes, exact, percent, si } from '../format';
import type { CliIo } from './io';

export interface CostFlags {
  seq?: number;
  batch?: number;
  json?: boolean;
  summary?: boolean;
}

export function costCommand(io: CliIo, file: string, spec: ResolvedSpec, flags: CostFlags): void {
  const report = computeCost(spec, {
    sequenceLength: flags.seq ?? spec.training.sequenceLength,
    batchSize: flags.batch ?? spec.training.batchSize,
  });
  if (flags.json) {
    io.out(`${JSON.stringify({ file, name: spec.name, cost: report }, null, 2)}\n`);
    return;
  }
  io.out(renderCostTable(io, spec, report, flags.summary ?? false));
}

function perToken(n: number, report: CostReport): number {
  return n / report.tokensPerStep;
}

export function renderCostTable(io: CliIo, spec: ResolvedSpec, report: CostReport, summary: boolean): string {
  const { bold, dim, cyan } = io.color;
  const t = report.totals;
  const fwdTotal = t.forward.matmul;
  const table = new Table({
    head: ['part', 'params', 'share', 'fwd matmul FLOPs/token', 'share', 'fwd elementwise/token', 'train FLOPs/token', 'activations'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: io.isTTY ? ['cyan'] : [], border: io.isTTY ? ['grey'] : [], compact: true },
    chars: io.isTTY ? {} : { top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+', bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+', left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+', right: '|', 'right-mid': '+', middle: '|' },
  });
  const row = (label: string, c: { params: number; forward: { matmul: number; elementwise: number }; backward: { matmul: number; elementwise: number }; activationBytes: number }) => [
    label,
    si(c.params),
    percent(c.params, t.params),
    si(perToken(c.forward.matmul, report)),
    percent(c.forward.matmul, fwdTotal),
    si(perToken(c.forward.elementwise, report)),
    si(perToken(c.forward.matmul + c.forward.elementwise + c.backward.matmul + c.backward.elementwise, report)),
    bytes(c.activationBytes),
  ];
  table.push(row('embeddings', report.embeddings));
  for (const layer of report.layers) {
    table.push(row(bold(`layer ${String(layer.index).padStart(2, '0')}`), layer));
    if (!summary) for (const m of layer.modules) table.push(row(dim(`  ${moduleLabel(m)}`), m));
  }
  for (const head of report.heads) table.push(row(head.name, head));

  const lines = [
    `${bold(spec.name)}  ${dim(`S=${report.sequenceLength}, batch ${report.batchSize}, ${report.tokensPerStep} tokens/step`)}`,
    table.toString(),
    `${cyan('parameters')}               ${exact(t.params)} (encoder ${exact(t.encoderParams)})`,
    `${cyan('encoder fwd matmul FLOPs')}  ${exact(t.encoderForwardMatmulFlopsPerToken)} per token (${si(t.encoderForwardMatmulFlopsPerToken, 'FLOP')})`,
    `${cyan('training FLOPs')}           ${si(t.trainingFlopsPerStep, 'FLOP')} per step, ${si(t.trainingFlopsPerToken, 'FLOP')} per token (fwd + bwd, matmul + elementwise)`,
    `${cyan('training memory')}          ${bytes(report.memory.totalBytes)} = weights ${bytes(report.memory.weightsBytes)} + gradients ${bytes(report.memory.gradientBytes)} + optimizer ${bytes(report.memory.optimizerBytes)} + activations ${bytes(report.memory.activationBytes)} (estimate)`,
    dim(report.convention),
    '',
  ];
  return lines.join('\n');
}

function moduleLabel(m: ModuleCost): string {
  return m.kind;
}
