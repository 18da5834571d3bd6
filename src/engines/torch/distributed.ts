/** The torch engine's scale-out options: their checks, the world size, and the launcher's arguments (no heavy imports). */
import type { DistributedOptions } from '../engine';

/** Checks distributed options: one line per problem, for the CLI and the editor. */
export function checkDistributed(d: DistributedOptions | undefined): string | undefined {
  if (!d) return undefined;
  const positive = (v: number | undefined, name: string) => (v !== undefined && (!Number.isInteger(v) || v < 1) ? `${name} must be a whole number ≥ 1 (got ${v})` : undefined);
  const bad = positive(d.nprocPerNode, '--nproc-per-node') ?? positive(d.nnodes, '--nnodes');
  if (bad) return bad;
  if ((d.nnodes ?? 1) > 1 && !d.rdzvEndpoint) return '--nnodes above 1 needs --rdzv-endpoint HOST:PORT (the first node)';
  if (d.rdzvEndpoint !== undefined && !/^[A-Za-z0-9_.\-[\]:]+:\d{1,5}$/.test(d.rdzvEndpoint)) return `--rdzv-endpoint must be HOST:PORT (got ${d.rdzvEndpoint})`;
  if (d.nodeRank !== undefined && (!Number.isInteger(d.nodeRank) || d.nodeRank < 0 || d.nodeRank >= (d.nnodes ?? 1))) return `--node-rank must be in 0…${(d.nnodes ?? 1) - 1}`;
  return undefined;
}

export function worldSizeOf(d: DistributedOptions): number {
  return (d.nprocPerNode ?? 1) * (d.nnodes ?? 1);
}

/** `python -m convbert_torch.launch`'s arguments for these options. */
export function launchArgs(d: DistributedOptions): string[] {
  const args: string[] = [];
  if ((d.nprocPerNode ?? 1) > 1) args.push('--nproc-per-node', String(d.nprocPerNode));
  if ((d.nnodes ?? 1) > 1) args.push('--nnodes', String(d.nnodes));
  if (d.rdzvEndpoint) args.push('--rdzv-endpoint', d.rdzvEndpoint);
  if (d.nodeRank !== undefined) args.push('--node-rank', String(d.nodeRank));
  return args;
}
