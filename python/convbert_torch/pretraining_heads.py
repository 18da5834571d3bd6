"""Pretraining heads (src/core/model/heads.ts): the MLM head at the masked positions only (gather first, then
LN(act(x·W_t + b_t)), logits = t·E_wordᵀ + b with the decoder tied to the word embedding), the pooler
tanh(h_CLS·W_p + b_p) and the NSP classifier (on h_CLS without a pooler)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .functional import ForwardContext, activate, dense, layer_norm


def flat_positions(positions: Tensor, sequence_length: int) -> Tensor:
    """Row indices b·S + position into the flattened [B·S, H] states, built on the positions' device."""
    B = positions.shape[0]
    rows = torch.arange(B, device=positions.device, dtype=torch.long).unsqueeze(1) * sequence_length
    return (positions.long() + rows).reshape(-1)


def mlm_head(ctx: ForwardContext, hidden: Tensor, masked_positions: Tensor) -> Tensor:
    """hidden [B, S, H], masked_positions [B, P] → logits [B·P, V] (row b·P + j is position masked_positions[b, j])."""
    B, S, H = hidden.shape
    x = hidden.reshape(B * S, H).index_select(0, flat_positions(masked_positions, S))
    t = activate(dense(x, ctx.p('mlm/transform/kernel'), ctx.p('mlm/transform/bias')), ctx.model['activation'])
    t = layer_norm(t, ctx.p('mlm/transform/norm/gamma'), ctx.p('mlm/transform/norm/beta'), ctx.model['layerNormEps'])
    return torch.nn.functional.linear(t, ctx.p('embeddings/word'), ctx.p('mlm/bias'))


def pooler_and_nsp(ctx: ForwardContext, hidden: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """hidden [B, S, H] → pooled [B, H] (with a pooler) and NSP logits [B, 2] (with an NSP head)."""
    heads = ctx.model['heads']
    if not heads['pooler'] and not heads['nsp']:
        return None, None
    cls = hidden[:, 0]
    pooled = torch.tanh(dense(cls, ctx.p('pooler/kernel'), ctx.p('pooler/bias'))) if heads['pooler'] else None
    nsp = dense(pooled if pooled is not None else cls, ctx.p('nsp/kernel'), ctx.p('nsp/bias')) if heads['nsp'] else None
    return pooled, nsp
