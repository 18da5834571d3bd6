"""The worker group's process groups, on the env:// contract (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE), which torchrun and our own launcher (launch.py) both set.

Two groups:
- the *control* group (the default group, gloo, a long timeout): rank 0 broadcasts each protocol request on it.
  The other ranks wait there between requests, for as long as the trainer is idle (paused runs), so its timeout
  is days, not seconds; a peer that dies closes its sockets and the wait fails at once anyway;
- the *compute* group (gloo on the CPU, NCCL on CUDA), created at `init` once the device is known, with a short
  timeout (`CONVBERT_DIST_TIMEOUT` seconds, default 60) so a collective whose peer is gone fails fast: DDP's
  gradient all-reduce, the evaluation sums, the broadcast of loaded weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, List, Optional

import torch

COMPUTE_TIMEOUT_S = 60.0
CONTROL_TIMEOUT = timedelta(days=7)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == '':
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f'{name}={value!r} is not an integer') from None


def compute_timeout() -> timedelta:
    text = os.environ.get('CONVBERT_DIST_TIMEOUT')
    try:
        seconds = float(text) if text else COMPUTE_TIMEOUT_S
    except ValueError:
        seconds = COMPUTE_TIMEOUT_S
    return timedelta(seconds=max(1.0, seconds))


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    control: Any = None
    compute: Any = None
    backend: Optional[str] = None
    _closed: bool = field(default=False, repr=False)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # -- requests --------------------------------------------------------------------------------------------------
    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (control group); identity for one process."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box: List[Any] = [obj if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    # -- compute -----------------------------------------------------------------------------------------------------
    def init_compute(self, device: torch.device) -> None:
        """Creates the compute group for `device` (collective: every rank calls it)."""
        if not self.distributed or self.compute is not None:
            return
        import torch.distributed as dist

        backend = 'nccl' if device.type == 'cuda' and dist.is_nccl_available() else 'gloo'
        if backend == 'nccl':
            os.environ.setdefault('TORCH_NCCL_ASYNC_ERROR_HANDLING', '1')
            os.environ.setdefault('NCCL_ASYNC_ERROR_HANDLING', '1')
        self.compute = dist.new_group(backend=backend, timeout=compute_timeout())
        self.backend = backend

    def compute_device(self, device: torch.device) -> torch.device:
        """Where tensors of compute-group collectives must live (NCCL: the GPU; gloo: the CPU)."""
        return device if self.backend == 'nccl' else torch.device('cpu')

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum over ranks of `t` (a new tensor on `t`'s device)."""
        if not self.distributed:
            return t
        import torch.distributed as dist

        dev = self.compute_device(t.device)
        x = t.detach().to(dev).clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM, group=self.compute)
        return x.to(t.device)

    def broadcast_tensor_(self, t: torch.Tensor) -> None:
        """Overwrites `t` on every rank with rank 0's values (compute group)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        dev = self.compute_device(t.device)
        in_place = t.device == dev and t.is_contiguous()
        x = t.detach() if in_place else t.detach().to(dev).contiguous()
        dist.broadcast(x, src=0, group=self.compute)
        if not in_place:
            with torch.no_grad():
                t.copy_(x)

    def close(self) -> None:
        if self._closed or not self.distributed:
            return
        self._closed = True
        try:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
        except Exception:
            pass


def world_from_env() -> World:
    """The world the environment describes; for more than one rank, joins the control group (gloo, env://)."""
    size = _env_int('WORLD_SIZE', 1)
    rank = _env_int('RANK', 0)
    local_rank = _env_int('LOCAL_RANK', rank)
    local_size = _env_int('LOCAL_WORLD_SIZE', size)
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f'RANK={rank} WORLD_SIZE={size} is not a valid rank')
    world = World(rank=rank, size=size, local_rank=local_rank, local_size=local_size)
    if size > 1:
        import torch.distributed as dist

        if not dist.is_available():
            raise RuntimeError(f'this torch ({torch.__version__}) was built without torch.distributed: it cannot run {size} ranks')
        dist.init_process_group(backend='gloo', init_method='env://', rank=rank, world_size=size, timeout=CONTROL_TIMEOUT)
        world.control = dist.group.WORLD
    return world
