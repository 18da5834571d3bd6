"""What every module's forward pass shares (src/core/model/common.ts and the maths of src/core/ops): the forward
context, dense layers on [in, out] kernels, LayerNorm, the activations, dropout."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

# Added to the scores of padded keys (src/core/ops/attention.ts MASK_VALUE).
MASK_VALUE = -10000.0


@dataclass
class AttentionProbe:
    layer: int
    module: str
    probs: Tensor  # [B, heads, T, T]


@dataclass
class ForwardContext:
    model: Dict[str, Any]
    params: Dict[str, Tensor]
    training: bool
    token_mask: Tensor  # [B, S], 1 real, 0 padding, in the activations' dtype
    mask_bias: Tensor  # [B, 1, 1, S]: MASK_VALUE at padded keys
    probes: Optional[List[AttentionProbe]] = field(default=None)

    def p(self, name: str) -> Tensor:
        t = self.params.get(name)
        if t is None:
            raise KeyError(f'model: no parameter {name!r}')
        return t

    def p_opt(self, name: str) -> Optional[Tensor]:
        return self.params.get(name)

    def dropout(self, x: Tensor, rate: float) -> Tensor:
        if not self.training or not rate > 0:
            return x
        return F.dropout(x, rate, True)


def dense(x: Tensor, kernel: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """y = x·kernel (+ bias); kernel [in, out] as in TF.js."""
    return F.linear(x, kernel.t(), bias)


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Tensor:
    """(x − mean)/√(var + eps)·γ + β over the last axis (biased variance, as core/ops/norm.ts). Mixed dtypes (a
    bf16 activation under autocast, float32 γ/β) normalise in float32, as CUDA autocast does."""
    if x.dtype != gamma.dtype:
        return F.layer_norm(x.float(), (x.shape[-1],), gamma.float(), beta.float(), eps)
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps)


def _gelu_tanh(x: Tensor) -> Tensor:
    try:
        return F.gelu(x, approximate='tanh')
    except TypeError:  # torch < 1.12
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def activate(x: Tensor, kind: str) -> Tensor:
    """The spec's FFN / MLM-transform activation: gelu is the exact erf form, gelu_tanh the approximation."""
    if kind == 'gelu':
        return F.gelu(x)
    if kind == 'gelu_tanh':
        return _gelu_tanh(x)
    if kind == 'relu':
        return F.relu(x)
    if kind == 'swish':
        return F.silu(x)
    raise ValueError(f'unknown activation {kind!r}')
