"""The encoder (src/core/model/encoder.ts): each layer's modules in order, each a residual branch with its own
LayerNorm — pre-norm x ← x + Drop(module(LN(x))), post-norm x ← LN(x + Drop(module(x))) — and with pre-norm a
final LayerNorm after the last layer."""
from __future__ import annotations

from typing import Any, Dict

from torch import Tensor

from .self_attention import attention_module
from .functional import ForwardContext, layer_norm
from .grouped_conv import conv_module
from .feed_forward import ffn_module, gffn_module
from .parameters import module_prefixes


def apply_module(ctx: ForwardContext, prefix: str, m: Dict[str, Any], u: Tensor, layer: int) -> Tensor:
    t = m['type']
    if t == 'attention':
        return attention_module(ctx, prefix, m, u, layer, prefix[prefix.index('/') + 1:])
    if t == 'conv':
        return conv_module(ctx, prefix, m, u)
    if t == 'gffn':
        return gffn_module(ctx, prefix, m, u)
    if t == 'ffn':
        return ffn_module(ctx, prefix, m, u)
    raise ValueError(f'{prefix}: unknown module type {t!r}')


def encoder_layer(ctx: ForwardContext, layer: Dict[str, Any], x: Tensor) -> Tensor:
    model = ctx.model
    eps = model['layerNormEps']
    pre = model['normPlacement'] == 'pre'
    for prefix, m in zip(module_prefixes(layer, model['numLayers']), layer['modules']):
        gamma, beta = ctx.p(f'{prefix}/norm/gamma'), ctx.p(f'{prefix}/norm/beta')
        if pre:
            branch = apply_module(ctx, prefix, m, layer_norm(x, gamma, beta, eps), int(layer['index']))
            x = x + ctx.dropout(branch, model['hiddenDropout'])
        else:
            branch = apply_module(ctx, prefix, m, x, int(layer['index']))
            x = layer_norm(x + ctx.dropout(branch, model['hiddenDropout']), gamma, beta, eps)
    return x


def encoder(ctx: ForwardContext, x: Tensor) -> Tensor:
    for layer in ctx.model['layers']:
        x = encoder_layer(ctx, layer, x)
    if ctx.model['normPlacement'] == 'pre':
        x = layer_norm(x, ctx.p('final_norm/gamma'), ctx.p('final_norm/beta'), ctx.model['layerNormEps'])
    return x
