"""Starts the worker group: `python3 -m convbert_torch.launch [--nproc-per-node N] [--nnodes M --rdzv-endpoint
HOST:PORT --node-rank K] [--launcher auto|torchrun|spawn] [-- <worker args>]`.

- World size 1 runs the worker in this process.
- Otherwise `torchrun` (`python3 -m torch.distributed.run`) where it works — torch ≥ 2.0, or `--launcher torchrun`
  (Debian's torch 1.13 torchrun crashes at start) — else this launcher starts the node's ranks itself on the env://
  contract (MASTER_ADDR, MASTER_PORT — a free port on one node, the rendezvous endpoint across nodes —, RANK,
  WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE).
- Global rank 0 inherits stdin and stdout (the protocol); the other ranks get no stdin and write stdout to stderr.
- When a rank (or torchrun) exits non-zero, the launcher stops the others (SIGTERM, SIGKILL after a grace period),
  writes one `{"event": "log", "level": "error", …}` line on stdout saying which rank failed and how, and exits with
  that code (128 + N for a rank killed by signal N). SIGTERM and SIGINT are forwarded to the ranks.
- The ranks die with the launcher (Linux: PR_SET_PDEATHSIG), so no rank outlives a killed launcher.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

GRACE_S = 5.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith('linux'):
        try:
            import ctypes

            libc = ctypes.CDLL('libc.so.6', use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def torch_version() -> Tuple[int, int]:
    try:
        import torch

        parts = torch.__version__.split('+')[0].split('.')
        return int(parts[0]), int(''.join(c for c in parts[1] if c.isdigit()) or 0)
    except Exception:
        return (0, 0)


def parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    argv = list(argv)
    worker_args: List[str] = []
    if '--' in argv:
        i = argv.index('--')
        argv, worker_args = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog='python3 -m convbert_torch.launch', description='Starts the convbert torch worker group.')
    p.add_argument('--nproc-per-node', '--nproc_per_node', dest='nproc', type=int, default=1, help='ranks on this node (default 1)')
    p.add_argument('--nnodes', type=int, default=1, help='nodes (default 1)')
    p.add_argument('--node-rank', '--node_rank', dest='node_rank', type=int, default=0, help='this node\'s index (spawn launcher; torchrun assigns it)')
    p.add_argument('--rdzv-endpoint', '--rdzv_endpoint', dest='rdzv', default=None, help='HOST:PORT of the rendezvous (node 0), needed for more than one node')
    p.add_argument('--rdzv-id', '--rdzv_id', dest='rdzv_id', default='convbert', help='torchrun rendezvous id')
    p.add_argument('--launcher', choices=('auto', 'torchrun', 'spawn'), default='auto')
    args = p.parse_args(argv)
    if args.nproc < 1 or args.nnodes < 1:
        p.error('--nproc-per-node and --nnodes must be ≥ 1')
    if not 0 <= args.node_rank < args.nnodes:
        p.error(f'--node-rank must be in 0…{args.nnodes - 1}')
    if args.nnodes > 1 and not args.rdzv:
        p.error('more than one node needs --rdzv-endpoint HOST:PORT')
    return args, worker_args


def choose_launcher(requested: str) -> str:
    if requested != 'auto':
        return requested
    return 'torchrun' if torch_version() >= (2, 0) else 'spawn'


def event(message: str, level: str = 'error') -> None:
    """One protocol line on stdout (the launcher shares rank 0's stdout)."""
    try:
        sys.stdout.write(json.dumps({'event': 'log', 'level': level, 'message': message}) + '\n')
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f'was killed by {signal.Signals(-returncode).name}'
        except ValueError:
            return f'was killed by signal {-returncode}'
    return f'exited with code {returncode}'


class Group:
    """Child processes supervised together: the first to fail stops the rest."""

    def __init__(self) -> None:
        self.procs: List[Tuple[str, subprocess.Popen]] = []  # type: ignore[type-arg]
        self.stopping = False
        self.signalled: Optional[int] = None

    def start(self, label: str, cmd: List[str], env: Dict[str, str], protocol: bool) -> None:
        kwargs = {
            'env': env,
            'stdin': None if protocol else subprocess.DEVNULL,
            'stdout': None if protocol else sys.stderr.fileno(),
            'preexec_fn': _die_with_parent if os.name == 'posix' else None,
        }
        self.procs.append((label, subprocess.Popen(cmd, **kwargs)))  # type: ignore[call-overload]

    def signal_all(self, sig: int) -> None:
        for _, p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except OSError:
                    pass

    def stop(self) -> None:
        self.signal_all(signal.SIGTERM)
        deadline = time.time() + GRACE_S
        while time.time() < deadline and any(p.poll() is None for _, p in self.procs):
            time.sleep(0.05)
        self.signal_all(signal.SIGKILL)
        for _, p in self.procs:
            try:
                p.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                pass

    def forward(self, sig: int, _frame: object) -> None:
        self.signalled = sig
        self.signal_all(sig)

    def supervise(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.forward)
        while True:
            codes = [(label, p.poll()) for label, p in self.procs]
            failed = [(label, rc) for label, rc in codes if rc is not None and rc != 0]
            if failed:
                time.sleep(0.1)  # a peer that fails because of the first failure: report the cause, not the echo
                failed = [(label, p.poll()) for label, p in self.procs if p.poll() not in (None, 0)]
                label, rc = next(((lb, c) for lb, c in failed if c is not None and c < 0), failed[0])  # type: ignore[misc]
                assert rc is not None
                what = '; '.join(f'{lb} {describe_exit(c)}' for lb, c in failed if c is not None)
                if self.signalled is None:
                    others = [lb for lb, q in self.procs if q.poll() is None]
                    print(f'convbert launch: {what}; stopping {", ".join(others) or "nothing else"}', file=sys.stderr, flush=True)
                    self.stop()
                    event(f'the worker group failed: {what}; the other ranks were stopped')
                else:
                    self.stop()
                return exit_code(rc)
            if all(rc is not None for _, rc in codes):
                return 128 + self.signalled if self.signalled else 0
            time.sleep(0.05)


def worker_command(worker_args: List[str]) -> List[str]:
    return [sys.executable, '-m', 'convbert_torch.worker', *worker_args]


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if here not in paths:
        env['PYTHONPATH'] = os.pathsep.join([here, *paths])
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def spawn(args: argparse.Namespace, worker_args: List[str]) -> int:
    world = args.nproc * args.nnodes
    if args.nnodes > 1:
        host, _, port = args.rdzv.rpartition(':')
        if not host or not port.isdigit():
            raise SystemExit(f'convbert launch: --rdzv-endpoint must be HOST:PORT, got {args.rdzv!r}')
    else:
        host, port = '127.0.0.1', str(free_port())
    group = Group()
    for local in range(args.nproc):
        rank = args.node_rank * args.nproc + local
        env = child_env()
        env.update({
            'MASTER_ADDR': host, 'MASTER_PORT': port, 'RANK': str(rank), 'WORLD_SIZE': str(world),
            'LOCAL_RANK': str(local), 'LOCAL_WORLD_SIZE': str(args.nproc), 'GROUP_RANK': str(args.node_rank),
        })
        # The node's cores shared among its ranks, for torch's own threads and the BLAS's (OpenBLAS runs its own pool).
        for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
            if var not in os.environ:
                env[var] = str(max(1, (os.cpu_count() or 1) // args.nproc))
        group.start(f'rank {rank}', worker_command(worker_args), env, protocol=rank == 0)
    return group.supervise()


def torchrun(args: argparse.Namespace, worker_args: List[str]) -> int:
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(args.nproc), '--nnodes', str(args.nnodes), '--max_restarts', '0']
    if args.nnodes > 1:
        cmd += ['--rdzv_backend', 'c10d', '--rdzv_endpoint', args.rdzv, '--rdzv_id', args.rdzv_id]
    else:
        cmd += ['--standalone']
    cmd += ['-m', 'convbert_torch.worker', *worker_args]
    group = Group()
    # torchrun's workers inherit its stdin/stdout: rank 0 answers there, the others point stdout at stderr.
    group.start('torchrun', cmd, child_env(), protocol=True)
    return group.supervise()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, worker_args = parse(sys.argv[1:] if argv is None else argv)
    world = args.nproc * args.nnodes
    if world == 1:
        from . import worker

        return worker.main(worker_args)
    how = choose_launcher(args.launcher)
    print(f'convbert launch: {world} ranks ({args.nnodes} node{"s" if args.nnodes > 1 else ""} × {args.nproc}) with {how}', file=sys.stderr, flush=True)
    return torchrun(args, worker_args) if how == 'torchrun' else spawn(args, worker_args)


if __name__ == '__main__':
    sys.exit(main())
