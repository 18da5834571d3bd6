"""Embeddings (src/core/model/embeddings.ts): word + position + token type, LayerNorm, dropout."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .functional import ForwardContext, layer_norm


def embeddings(ctx: ForwardContext, input_ids: Tensor, token_type_ids: Optional[Tensor]) -> Tensor:
    """input_ids, token_type_ids [B, S] (integers) → [B, S, H]."""
    m = ctx.model
    S = input_ids.shape[1]
    if S > m['maxPositions']:
        raise ValueError(f"embeddings: sequence length {S} exceeds maxPositions {m['maxPositions']}")
    x = ctx.p('embeddings/word')[input_ids] + ctx.p('embeddings/position')[:S]
    if m['tokenTypes'] > 0:
        table = ctx.p('embeddings/token_type')
        x = x + (table[token_type_ids] if token_type_ids is not None else table[0])
    x = layer_norm(x, ctx.p('embeddings/norm/gamma'), ctx.p('embeddings/norm/beta'), m['layerNormEps'])
    return ctx.dropout(x, m['hiddenDropout'])
