"""Device, precision and feature detection: what this torch can do here, found by trying, never assumed.

- device `auto` = CUDA → Apple MPS → CPU; an explicit device that is not there is an error with a hint;
- precision `fp32` (TF32 matmul off), `tf32` (CUDA's TF32 matmul/cuDNN flags on; elsewhere it is fp32, said so),
  `bf16` (autocast to bfloat16 around the forward pass, master weights and optimizer state stay fp32; refused with a
  clear message where this torch cannot autocast that device to bf16);
- `compile`: `torch.compile` when this torch has it and it was asked for, else the reason why not;
- features: `compile`, `fusedAdamW` (torch.optim.AdamW accepts `fused=`), `bf16`, `nccl`.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Dict, List, Optional

import torch

DEVICES = ('auto', 'cuda', 'mps', 'cpu')
PRECISIONS = ('fp32', 'tf32', 'bf16')


class SetupError(Exception):
    """A request the worker cannot honour here: one-line message plus a hint (answered as ok: false)."""

    def __init__(self, message: str, hint: str = '') -> None:
        super().__init__(message)
        self.hint = hint


def mps_available() -> bool:
    backend = getattr(torch.backends, 'mps', None)
    try:
        return bool(backend is not None and backend.is_available())
    except Exception:  # pragma: no cover - platform dependent
        return False


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


def nccl_available() -> bool:
    try:
        import torch.distributed as dist

        return bool(dist.is_available() and dist.is_nccl_available())
    except Exception:
        return False


def has_compile() -> bool:
    return callable(getattr(torch, 'compile', None))


def has_fused_adamw() -> bool:
    """torch.optim.AdamW takes `fused=` (torch ≥ 2.0); the fused kernel itself needs CUDA tensors."""
    try:
        return 'fused' in inspect.signature(torch.optim.AdamW.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def bf16_autocast_supported(device_type: str) -> bool:
    """Whether this torch autocasts `device_type` to bfloat16 (constructing and entering the context is the test)."""
    if device_type == 'cuda':
        checker = getattr(torch.cuda, 'is_bf16_supported', None)
        try:
            if checker is not None and not checker():
                return False
        except Exception:
            return False
    autocast = getattr(torch, 'autocast', None)
    if autocast is None:
        return False
    try:
        with autocast(device_type=device_type, dtype=torch.bfloat16):
            a = torch.ones(2, 2, device=device_type)
            out = a @ a
        return out.dtype == torch.bfloat16
    except Exception:
        return False


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    if requested not in DEVICES:
        raise SetupError(f'unknown device "{requested}"', f'use one of {", ".join(DEVICES)}')
    if requested == 'auto':
        if cuda_available():
            requested = 'cuda'
        elif mps_available():
            requested = 'mps'
        else:
            requested = 'cpu'
    if requested == 'cuda':
        if not cuda_available():
            raise SetupError(
                f'device cuda was asked for but this torch ({torch.__version__}) sees no CUDA device',
                'install a CUDA build of torch, check nvidia-smi and CUDA_VISIBLE_DEVICES, or use device auto/cpu',
            )
        count = torch.cuda.device_count()
        index = local_rank % max(1, count)
        torch.cuda.set_device(index)
        return torch.device('cuda', index)
    if requested == 'mps':
        if not mps_available():
            raise SetupError('device mps was asked for but this torch has no usable Apple MPS backend', 'use device auto or cpu')
        return torch.device('mps')
    return torch.device('cpu')


def device_info(device: torch.device) -> Dict[str, Any]:
    if device.type == 'cuda':
        return {'type': 'cuda', 'name': torch.cuda.get_device_name(device), 'count': torch.cuda.device_count()}
    if device.type == 'mps':
        return {'type': 'mps', 'name': 'Apple MPS', 'count': 1}
    import platform

    return {'type': 'cpu', 'name': platform.processor() or platform.machine() or 'cpu', 'count': 1}


def device_memory_limit(device: torch.device) -> Optional[int]:
    if device.type == 'cuda':
        try:
            return int(torch.cuda.get_device_properties(device).total_memory)
        except Exception:
            return None
    return None


def _rss_bytes() -> int:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return 0


def _peak_rss_bytes() -> int:
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == 'darwin' else int(peak) * 1024
    except Exception:  # pragma: no cover
        return _rss_bytes()


def reset_peak_memory(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def memory_bytes(device: torch.device) -> Dict[str, int]:
    """Device memory in use and its peak since the last reset (CUDA); MPS: allocated; CPU: the process's RSS and peak RSS."""
    if device.type == 'cuda':
        return {'memoryBytes': int(torch.cuda.memory_allocated(device)), 'peakMemoryBytes': int(torch.cuda.max_memory_allocated(device))}
    if device.type == 'mps':
        mps = getattr(torch, 'mps', None)
        current = getattr(mps, 'current_allocated_memory', None) if mps is not None else None
        used = int(current()) if callable(current) else _rss_bytes()
        return {'memoryBytes': used, 'peakMemoryBytes': used}
    rss = _rss_bytes()
    return {'memoryBytes': rss, 'peakMemoryBytes': max(rss, _peak_rss_bytes())}


@dataclass
class Setup:
    """What init actually uses, and the messages that say where that differs from the request."""

    device: torch.device
    precision: str
    compile: bool
    features: Dict[str, bool]
    notes: List[str] = field(default_factory=list)

    def autocast(self) -> ContextManager[Any]:
        if self.precision == 'bf16':
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def report(self) -> Dict[str, Any]:
        return {
            'device': device_info(self.device),
            'precision': self.precision,
            'compile': self.compile,
            'torch': torch.__version__,
            'features': self.features,
        }


def features_for(device: torch.device) -> Dict[str, bool]:
    return {
        'compile': has_compile(),
        'fusedAdamW': has_fused_adamw() and device.type == 'cuda',
        'bf16': bf16_autocast_supported(device.type),
        'nccl': nccl_available(),
    }


def setup(device: str = 'auto', precision: str = 'fp32', compile: bool = False, local_rank: int = 0) -> Setup:
    """Resolves the request into what runs here; raises SetupError for what cannot (bf16 without support)."""
    dev = resolve_device(device, local_rank)
    if precision not in PRECISIONS:
        raise SetupError(f'unknown precision "{precision}"', f'use one of {", ".join(PRECISIONS)}')
    feats = features_for(dev)
    notes: List[str] = []
    used = precision
    if precision == 'bf16' and not feats['bf16']:
        raise SetupError(
            f'precision bf16 is not supported on {dev.type} by this torch ({torch.__version__})',
            'use precision fp32 (or tf32 on CUDA), or a torch build with bf16 autocast for this device',
        )
    tf32 = precision == 'tf32' and dev.type == 'cuda'
    if precision == 'tf32' and dev.type != 'cuda':
        used = 'fp32'
        notes.append(f'precision tf32 is a CUDA setting: on {dev.type} the run uses fp32')
    if dev.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    compiled = False
    if compile:
        if not feats['compile']:
            notes.append(f'torch {torch.__version__} has no torch.compile (torch ≥ 2.0): the model runs eagerly')
        elif dev.type == 'mps':
            notes.append('torch.compile is not used on MPS: the model runs eagerly')
        else:
            compiled = True
    return Setup(device=dev, precision=used, compile=compiled, features=feats, notes=notes)


def maybe_compile(module: torch.nn.Module, enabled: bool) -> Callable[..., Any]:
    if not enabled:
        return module
    return torch.compile(module)  # type: ignore[attr-defined]


def is_out_of_memory(error: BaseException) -> bool:
    oom = getattr(torch.cuda, 'OutOfMemoryError', None)
    if oom is not None and isinstance(error, oom):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ('out of memory' in text.lower() or 'MPS backend out of memory' in text)
