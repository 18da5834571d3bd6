"""Feed-forward modules (src/core/model/ffn.ts): `ffn` act(u·W₁ + b₁)·W₂ + b₂; `gffn` act(u·W₁ + b₁), the grouped
down-projection (G contiguous chunks of I/G, chunk g times its [I/G, H/G] block into output channels
[g·H/G, (g+1)·H/G), one batched GEMM over the groups) + b₂, then the H×H mixer when mixer and G > 1."""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor

from .functional import ForwardContext, activate, dense
from .parameters import gffn_has_mixer


def grouped_dense(x: Tensor, kernel: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """x [..., G·in_g] · blockdiag(kernel[0], …) (+ bias) → [..., G·out_g]; kernel [G, in_g, out_g]."""
    G, ki, ko = kernel.shape
    lead = x.shape[:-1]
    if G == 1:
        return dense(x, kernel.reshape(ki, ko), bias)
    xg = x.reshape(-1, G, ki).transpose(0, 1)  # [G, N, in_g]
    y = torch.bmm(xg, kernel.to(xg.dtype)).transpose(0, 1).reshape(*lead, G * ko)
    return y + bias if bias is not None else y


def ffn_module(ctx: ForwardContext, prefix: str, m: Dict[str, Any], u: Tensor) -> Tensor:
    h = activate(dense(u, ctx.p(f'{prefix}/up/kernel'), ctx.p(f'{prefix}/up/bias')), ctx.model['activation'])
    return dense(h, ctx.p(f'{prefix}/down/kernel'), ctx.p(f'{prefix}/down/bias'))


def gffn_module(ctx: ForwardContext, prefix: str, m: Dict[str, Any], u: Tensor) -> Tensor:
    h = activate(dense(u, ctx.p(f'{prefix}/up/kernel'), ctx.p(f'{prefix}/up/bias')), ctx.model['activation'])
    z = grouped_dense(h, ctx.p(f'{prefix}/down/kernel'), ctx.p(f'{prefix}/down/bias'))
    if not gffn_has_mixer(m):
        return z
    return dense(z, ctx.p(f'{prefix}/mixer/kernel'), ctx.p(f'{prefix}/mixer/bias'))
