"""The GroupBERT convolution module (src/core/model/conv.ts):

  v = (u·W_val + b_val) ⊙ σ(u·W_gate + b_gate)     GLU (skipped with glu: false)
  v ← v ⊙ mask                                      zero the padded positions
  c = groupedConv(v) (+ b)                           k taps, contiguous groups of g channels, same/causal padding
  n = LN(c)                                          with norm
  out = swish(n)·W_o + b_o

The grouped convolution is im2col per group followed by one batched GEMM over the groups (torch.bmm), with the
kernel in the TF.js im2col layout [G, k·g, g]: kernel[gr, t·g + i, o] connects input channel gr·g + i at tap t to
output channel gr·g + o.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .functional import ForwardContext, dense, layer_norm


def conv_padding(kernel_size: int, padding: str) -> Tuple[int, int]:
    """Zero padding (before, after): causal k−1 before; same ⌊(k−1)/2⌋ before, the rest after."""
    if padding == 'causal':
        return kernel_size - 1, 0
    before = (kernel_size - 1) // 2
    return before, kernel_size - 1 - before


def grouped_conv1d(x: Tensor, kernel: Tensor, kernel_size: int, padding: str) -> Tensor:
    """x [B, T, C], kernel [G, K·Cg, Cout_g] → [B, T, G·Cout_g] (cross-correlation, stride 1, no bias)."""
    B, T, C = x.shape
    G, KCg, Cout = kernel.shape
    K = kernel_size
    Cg = KCg // K
    if G * Cg != C:
        raise ValueError(f'grouped_conv1d: kernel {list(kernel.shape)} does not match {C} channels with kernel size {K}')
    before, after = conv_padding(K, padding)
    xp = F.pad(x, (0, 0, before, after)) if before or after else x  # pad the sequence axis
    taps = xp.unfold(1, K, 1)  # [B, T, C, K]
    cols = taps.reshape(B, T, G, Cg, K).permute(2, 0, 1, 4, 3).reshape(G, B * T, K * Cg)
    y = torch.bmm(cols, kernel.to(cols.dtype))  # [G, B·T, Cout_g] (autocast casts both the same way)
    return y.view(G, B, T, Cout).permute(1, 2, 0, 3).reshape(B, T, G * Cout)


def conv_module(ctx: ForwardContext, prefix: str, m: Dict[str, Any], u: Tensor) -> Tensor:
    v = u
    if m['glu']:
        value = dense(u, ctx.p(f'{prefix}/glu_value/kernel'), ctx.p(f'{prefix}/glu_value/bias'))
        gate = dense(u, ctx.p(f'{prefix}/glu_gate/kernel'), ctx.p(f'{prefix}/glu_gate/bias'))
        v = value * torch.sigmoid(gate)
    v = v * ctx.token_mask.unsqueeze(-1).to(v.dtype)
    c = grouped_conv1d(v, ctx.p(f'{prefix}/grouped/kernel'), int(m['kernelSize']), str(m['padding']))
    bias = ctx.p_opt(f'{prefix}/grouped/bias')
    if bias is not None:
        c = c + bias
    if m['norm']:
        c = layer_norm(c, ctx.p(f'{prefix}/inner_norm/gamma'), ctx.p(f'{prefix}/inner_norm/beta'), ctx.model['layerNormEps'])
    return dense(F.silu(c), ctx.p(f'{prefix}/output/kernel'), ctx.p(f'{prefix}/output/bias'))
