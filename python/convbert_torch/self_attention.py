"""Multi-head self-attention (src/core/model/attention.ts, src/core/ops/attention.ts): separate q, k, v
projections, softmax(q/√d·kᵀ + mask)·v per head (−10000 on padded keys, queries not masked), dropout on the
probabilities, output projection."""
from __future__ import annotations

import math
from typing import Any, Dict

import torch
import torch.nn.functional as F
from torch import Tensor

from .functional import AttentionProbe, ForwardContext, dense

HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')


def attention_module(ctx: ForwardContext, prefix: str, m: Dict[str, Any], u: Tensor, layer: int, module: str) -> Tensor:
    B, T, H = u.shape
    h = int(m['heads'])
    d = H // h

    def heads(name: str) -> Tensor:
        return dense(u, ctx.p(f'{prefix}/{name}/kernel'), ctx.p_opt(f'{prefix}/{name}/bias')).view(B, T, h, d).transpose(1, 2)

    q, k, v = heads('query'), heads('key'), heads('value')
    rate = float(ctx.model['attentionDropout']) if ctx.training else 0.0
    if ctx.probes is None and HAS_SDPA:
        # torch ≥ 2.0: fused kernels; the same maths up to rounding (the scale is applied to q·kᵀ, not q).
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=ctx.mask_bias.to(q.dtype), dropout_p=rate)
    else:
        scores = torch.matmul(q * (1.0 / math.sqrt(d)), k.transpose(-1, -2)) + ctx.mask_bias
        probs = torch.softmax(scores, dim=-1)
        if ctx.probes is not None:
            ctx.probes.append(AttentionProbe(layer, module, probs.detach()))
        if rate > 0:
            probs = F.dropout(probs, rate, True)
        context = torch.matmul(probs.to(v.dtype), v)
    context = context.transpose(1, 2).reshape(B, T, H)
    return dense(context, ctx.p(f'{prefix}/output/kernel'), ctx.p_opt(f'{prefix}/output/bias'))
