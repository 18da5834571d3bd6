"""`build_model(spec, seed)`: the pretraining model of a resolved spec in PyTorch, a port of src/core/model
(build.ts): embeddings, encoder, MLM head at the masked positions (decoder tied to the word embedding), pooler and
NSP head, with exactly the TF.js model's parameter names, shapes and order (`model.params`).

The parameters are registered on the module under their TF.js names (`layer03/conv/glu_gate/kernel`), so
`named_parameters()`, optimizers, DDP and `state_dict()` see them in the TF.js order.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .functional import MASK_VALUE, AttentionProbe, ForwardContext
from .embedding import embeddings
from .encoder_layers import encoder
from .pretraining_heads import mlm_head, pooler_and_nsp
from .parameters import ModelSpec, ParamSpec, count_parameters, model_of, parameter_shapes

Number = Union[int, float, Tensor]


def name_hash(name: str) -> int:
    """FNV-1a of a name (the per-parameter stream of params.ts initialValues)."""
    h = 0x811C9DC5
    data = name.encode('utf-16-le')
    for i in range(0, len(data), 2):  # UTF-16 code units, as JavaScript's charCodeAt
        h = ((h ^ (data[i] | data[i + 1] << 8)) * 0x01000193) & 0xFFFFFFFF
    return h


def initial_values(p: ParamSpec, seed: int) -> Tensor:
    """The initial float32 values of one parameter (CPU), from (seed, name): the same distributions as params.ts
    (truncated normal redrawn outside ±2σ, zeros, ones, Glorot-uniform with the reference's fans), drawn from a
    torch generator (not the TF.js values). Independent of the order and of the other parameters."""
    init = p.init
    if init.kind == 'zeros':
        return torch.zeros(p.shape)
    if init.kind == 'ones':
        return torch.ones(p.shape)
    g = torch.Generator().manual_seed((int(seed) & 0x7FFFFFFF) * 0x100000000 + name_hash(p.name))
    if init.kind == 'truncatedNormal':
        z = torch.randn(p.size, generator=g)
        bad = z.abs() > 2
        while bool(bad.any()):
            z[bad] = torch.randn(int(bad.sum()), generator=g)
            bad = z.abs() > 2
        return (z * init.std).reshape(p.shape)
    if init.kind == 'glorotUniform':
        limit = math.sqrt(6.0 / (init.fan_in + init.fan_out))
        return (torch.rand(p.size, generator=g) * (2 * limit) - limit).reshape(p.shape)
    raise ValueError(f'{p.name}: unknown initializer {init.kind!r}')


def _weighted_accuracy(logits: Tensor, labels: Tensor, weights: Optional[Tensor]) -> Tensor:
    right = (logits.argmax(-1) == labels).to(torch.float32)
    if weights is None:
        return right.sum()
    return (right * weights).sum()


def _safe_denominator(d: Number, like: Tensor) -> Tensor:
    t = torch.as_tensor(d, dtype=torch.float32, device=like.device)
    return torch.where(t > 0, t, torch.ones_like(t))


class PretrainingModel(nn.Module):
    """The BERT / GroupBERT pretraining model with TF.js-named parameters."""

    def __init__(self, spec: Dict[str, Any], seed: int = 0) -> None:
        super().__init__()
        self.spec: ModelSpec = model_of(spec)
        self.shapes: List[ParamSpec] = parameter_shapes(self.spec)
        for p in self.shapes:
            self.register_parameter(p.name, nn.Parameter(initial_values(p, seed)))

    @property
    def params(self) -> Dict[str, nn.Parameter]:
        """Every parameter by TF.js name, in the TF.js order (the module's own, registered parameters)."""
        return dict(self._parameters)  # type: ignore[arg-type]

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def expected_parameter_count(self) -> int:
        return count_parameters(self.shapes)

    @torch.no_grad()
    def load_tensors(self, tensors: Mapping[str, Tensor], strict: bool = True) -> None:
        """Copies weights by TF.js name (any dtype/device); with `strict`, every parameter must be there and nothing else."""
        params = self.params
        if strict:
            missing = [n for n in params if n not in tensors]
            extra = [n for n in tensors if n not in params]
            if missing or extra:
                raise ValueError(f'weights do not match the model: missing {missing[:5]}, unknown {extra[:5]}')
        for name, t in tensors.items():
            p = params.get(name)
            if p is None:
                continue
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f'{name}: shape {list(t.shape)} does not match the model\'s {list(p.shape)}')
            p.copy_(t.to(device=p.device, dtype=p.dtype))

    def _context(self, batch: Mapping[str, Tensor], training: bool, dtype: torch.dtype, probes: bool) -> ForwardContext:
        ids = batch['input_ids']
        mask = batch.get('attention_mask')
        token_mask = mask.to(dtype) if mask is not None else torch.ones(ids.shape, dtype=dtype, device=ids.device)
        B, S = ids.shape
        return ForwardContext(
            model=self.spec,
            params=self._parameters,  # type: ignore[arg-type]
            training=training,
            token_mask=token_mask,
            mask_bias=((1.0 - token_mask) * MASK_VALUE).view(B, 1, 1, S),
            probes=[] if probes else None,
        )

    def _hidden(self, ctx: ForwardContext, batch: Mapping[str, Tensor]) -> Tensor:
        ids = batch['input_ids'].long()
        types = batch.get('token_type_ids')
        return encoder(ctx, embeddings(ctx, ids, types.long() if types is not None else None))

    def forward(  # type: ignore[override]
        self,
        batch: Mapping[str, Tensor],
        training: bool = False,
        mlm_denominator: Optional[Number] = None,
        nsp_denominator: Optional[Number] = None,
        return_logits: bool = False,
    ) -> Dict[str, Tensor]:
        """Losses and accuracies of one batch (src/core/model/build.ts lossOf).

        batch: `input_ids`, `token_type_ids`, `attention_mask` [B, S]; `masked_positions`, `masked_labels`,
        `masked_weights` [B, P]; `nsp_labels` [B] (integers of any width; weights any float/int type).
        `mlm_denominator` / `nsp_denominator` replace the batch's own counts (Σ masked weights, B) as the divisors
        of the loss sums (a rank of a group divides by the global count: docs/torch-engine.md).
        Returns `loss`, `mlm_loss`, `nsp_loss`, `mlm_count` (Σ weights), `mlm_correct` (weighted right
        predictions), `mlm_accuracy`, `nsp_count`, `nsp_correct`, `nsp_accuracy` (heads present), and with
        `return_logits` the `mlm_logits` [B·P, V] and `nsp_logits` [B, 2].
        """
        ctx = self._context(batch, training, self._parameters['embeddings/word'].dtype, probes=False)  # type: ignore[union-attr]
        hidden = self._hidden(ctx, batch)
        heads = self.spec['heads']
        out: Dict[str, Tensor] = {}
        parts: List[Tensor] = []
        positions = batch.get('masked_positions')
        if heads['mlm'] and positions is not None and positions.shape[1] > 0:
            if batch.get('masked_labels') is None:
                raise ValueError('loss: the batch has masked positions but no masked labels')
            logits = mlm_head(ctx, hidden, positions)
            labels = batch['masked_labels'].reshape(-1).long()
            w = batch.get('masked_weights')
            weights = w.reshape(-1).to(torch.float32) if w is not None else torch.ones(labels.shape, device=labels.device)
            ce = F.cross_entropy(logits.float(), labels, reduction='none')
            count = weights.sum()
            out['mlm_loss'] = (ce * weights).sum() / _safe_denominator(count if mlm_denominator is None else mlm_denominator, ce)
            out['mlm_count'] = count.detach()
            with torch.no_grad():
                out['mlm_correct'] = _weighted_accuracy(logits, labels, weights)
                out['mlm_accuracy'] = out['mlm_correct'] / torch.clamp(count, min=1e-9)
            if return_logits:
                out['mlm_logits'] = logits
            parts.append(out['mlm_loss'])
        _, nsp_logits = pooler_and_nsp(ctx, hidden)
        nsp_labels = batch.get('nsp_labels')
        if nsp_logits is not None and nsp_labels is not None:
            labels = nsp_labels.reshape(-1).long()
            ce = F.cross_entropy(nsp_logits.float(), labels, reduction='none')
            n = torch.tensor(float(labels.shape[0]), device=ce.device)
            out['nsp_loss'] = ce.sum() / _safe_denominator(n if nsp_denominator is None else nsp_denominator, ce)
            out['nsp_count'] = n
            with torch.no_grad():
                out['nsp_correct'] = _weighted_accuracy(nsp_logits, labels, None)
                out['nsp_accuracy'] = out['nsp_correct'] / n
            if return_logits:
                out['nsp_logits'] = nsp_logits
            parts.append(out['nsp_loss'])
        if not parts:
            raise ValueError('loss: the batch has no labels for any head of the model (masked positions or NSP labels)')
        out['loss'] = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        return out

    @torch.no_grad()
    def probe(self, input_ids: Tensor, token_type_ids: Optional[Tensor] = None, attention_mask: Optional[Tensor] = None) -> List[AttentionProbe]:
        """Attention probabilities [B, heads, T, T] of every attention module (inference, no dropout), in order."""
        batch: Dict[str, Tensor] = {'input_ids': input_ids}
        if token_type_ids is not None:
            batch['token_type_ids'] = token_type_ids
        if attention_mask is not None:
            batch['attention_mask'] = attention_mask
        ctx = self._context(batch, False, self._parameters['embeddings/word'].dtype, probes=True)  # type: ignore[union-attr]
        self._hidden(ctx, batch)
        return list(ctx.probes or [])


def build_model(spec: Dict[str, Any], seed: int = 0, device: Optional[Union[str, torch.device]] = None) -> PretrainingModel:
    """The model of a resolved spec with freshly initialised float32 parameters (on `device`, default CPU).
    Raises ModelSpecError for a spec the model cannot be built from."""
    model = PretrainingModel(spec, seed)
    return model.to(device) if device is not None else model
