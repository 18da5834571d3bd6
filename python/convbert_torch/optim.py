"""AdamW and LAMB over named parameters, exactly as src/core/train/optimizer.ts:

  g ← g · min(1, clip/‖g‖)                     global-norm clipping over all gradients (off when clip = 0)
  m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
  m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)                  with bias correction; m̂ = m, v̂ = v without
  u = m̂/(√v̂ + ε) + λ·w                          decoupled weight decay λ, not for LayerNorm γ/β and biases
  AdamW: w ← w − η·u
  LAMB:  w ← w − η·r·u, r = ‖w‖/‖u‖ per tensor   r = 1 when either norm is 0, and for LayerNorm γ/β and biases

A non-finite global gradient norm changes nothing (`applied` False). Parameters without a gradient are left alone.
The moments are float32, whatever the parameters' dtype.
"""
from __future__ import annotations

import math
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

NORM_OR_BIAS = re.compile(r'(^|[/_.])(gamma|beta|bias)$', re.IGNORECASE)


def is_norm_or_bias(name: str) -> bool:
    """LayerNorm γ/β and biases, by the last part of the name (optimizer.ts isNormOrBias, the same regex)."""
    return NORM_OR_BIAS.search(name) is not None


class Optimizer:
    def __init__(
        self,
        params: Mapping[str, Tensor],
        type: str = 'adamw',
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-6,
        bias_correction: bool = True,
        weight_decay: float = 0.0,
        gradient_clip_norm: float = 0.0,
        foreach: Optional[bool] = None,
    ) -> None:
        if type not in ('adamw', 'lamb'):
            raise ValueError(f'optimizer type must be adamw or lamb, got {type!r}')
        for key, value in (('beta1', beta1), ('beta2', beta2)):
            if not 0 <= value < 1:
                raise ValueError(f'optimizer {key} must be in [0, 1), got {value}')
        if not (epsilon >= 0 and weight_decay >= 0 and gradient_clip_norm >= 0):
            raise ValueError('optimizer epsilon, weightDecay and gradientClipNorm must be >= 0')
        self.type = type
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.bias_correction = bool(bias_correction)
        self.weight_decay = float(weight_decay)
        self.gradient_clip_norm = float(gradient_clip_norm)
        self.params: Dict[str, Tensor] = dict(params)
        self.decay: Dict[str, bool] = {n: not is_norm_or_bias(n) for n in self.params}
        self.m: Dict[str, Tensor] = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in self.params.items()}
        self.v: Dict[str, Tensor] = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in self.params.items()}
        self.updates = 0
        # Multi-tensor kernels (one launch per op for all tensors) where torch has them; the same arithmetic as the
        # per-tensor loop. Default: on when every parameter is float32.
        has_foreach = all(hasattr(torch, f) for f in ('_foreach_mul_', '_foreach_addcmul_', '_foreach_sqrt', '_foreach_norm', '_foreach_div', '_foreach_add_'))
        all_fp32 = all(p.dtype == torch.float32 for p in self.params.values())
        self.foreach = has_foreach and all_fp32 if foreach is None else bool(foreach) and has_foreach and all_fp32

    @classmethod
    def from_spec(cls, params: Mapping[str, Tensor], training: Mapping[str, object]) -> 'Optimizer':
        """From a resolved spec's `training` part (optimizer.ts optimizerConfigFromSpec)."""
        o = training['optimizer']
        assert isinstance(o, Mapping)
        return cls(
            params,
            type=str(o['type']),
            beta1=float(o['beta1']),  # type: ignore[arg-type]
            beta2=float(o['beta2']),  # type: ignore[arg-type]
            epsilon=float(o['epsilon']),  # type: ignore[arg-type]
            bias_correction=bool(o['biasCorrection']),
            weight_decay=float(training['weightDecay']),  # type: ignore[arg-type]
            gradient_clip_norm=float(training['gradientClipNorm']),  # type: ignore[arg-type]
        )

    @property
    def step_count(self) -> int:
        return self.updates

    @torch.no_grad()
    def grad_norm(self) -> Tuple[float, List[Tuple[str, Tensor, Tensor]]]:
        pairs = [(n, p, p.grad) for n, p in self.params.items() if p.grad is not None]
        if not pairs:
            return 0.0, []
        squares = torch.stack([g.float().pow(2).sum() for _, _, g in pairs])
        return math.sqrt(float(squares.sum())), pairs  # one host read, as the TS optimizer

    @torch.no_grad()
    def step(self, lr: float) -> Tuple[float, bool]:
        """One update with learning rate `lr` from the parameters' `.grad`: (global gradient norm, applied)."""
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f'learning rate must be finite and >= 0, got {lr}')
        norm, pairs = self.grad_norm()
        if not pairs:
            return 0.0, True
        if not math.isfinite(norm):
            return norm, False
        clip = self.gradient_clip_norm
        scale = clip / norm if clip > 0 and norm > clip else 1.0
        b1, b2, eps, wd = self.beta1, self.beta2, self.epsilon, self.weight_decay
        t = self.updates + 1
        c1 = 1 - b1 ** t if self.bias_correction else 1.0
        c2 = 1 - b2 ** t if self.bias_correction else 1.0
        if self.foreach:
            self._update_foreach(pairs, lr, scale, c1, c2)
            self.updates = t
            return norm, True
        for name, w, raw in pairs:
            g = raw.float()
            if scale != 1.0:
                g = g * scale
            m, v = self.m[name], self.v[name]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat = m if c1 == 1 else m / c1
            v_hat = v if c2 == 1 else v / c2
            update = m_hat / (v_hat.sqrt() + eps)
            w32 = w.float()
            decay = self.decay[name]
            if decay and wd > 0:
                update = update + w32 * wd
            delta = update * lr
            if self.type == 'lamb' and decay:
                w_norm = torch.linalg.vector_norm(w32)
                u_norm = torch.linalg.vector_norm(update)
                trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / torch.clamp(u_norm, min=1e-30), torch.ones_like(w_norm))
                delta = delta * trust
            w.copy_((w32 - delta).to(w.dtype))
        self.updates = t
        return norm, True

    def _update_foreach(self, pairs: List[Tuple[str, Tensor, Tensor]], lr: float, scale: float, c1: float, c2: float) -> None:
        b1, b2, eps, wd = self.beta1, self.beta2, self.epsilon, self.weight_decay
        names = [n for n, _, _ in pairs]
        ws = [w for _, w, _ in pairs]
        gs = [g.float() for _, _, g in pairs]
        if scale != 1.0:
            gs = torch._foreach_mul(gs, scale)
        ms = [self.m[n] for n in names]
        vs = [self.v[n] for n in names]
        torch._foreach_mul_(ms, b1)
        torch._foreach_add_(ms, gs, alpha=1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - b2)
        m_hat = ms if c1 == 1 else torch._foreach_div(ms, c1)
        v_hat = vs if c2 == 1 else torch._foreach_div(vs, c2)
        denom = torch._foreach_sqrt(v_hat)
        torch._foreach_add_(denom, eps)
        updates = torch._foreach_div(m_hat, denom)
        decayed = [i for i, n in enumerate(names) if self.decay[n]]
        if decayed and wd > 0:
            torch._foreach_add_([updates[i] for i in decayed], [ws[i] for i in decayed], alpha=wd)
        deltas = torch._foreach_mul(updates, lr)
        if self.type == 'lamb' and decayed:
            w_norms = torch._foreach_norm([ws[i] for i in decayed])
            u_norms = torch._foreach_norm([updates[i] for i in decayed])
            for i, wn, un in zip(decayed, w_norms, u_norms):
                trust = torch.where((wn > 0) & (un > 0), wn / torch.clamp(un, min=1e-30), torch.ones_like(wn))
                deltas[i].mul_(trust)
        torch._foreach_sub_(ws, deltas)

    def export_state(self) -> Dict[str, Tensor]:
        """`m/<name>` and `v/<name>` (float32, on the parameters' device); the update count is `updates`."""
        out: Dict[str, Tensor] = {}
        for n in self.params:
            out[f'm/{n}'] = self.m[n]
            out[f'v/{n}'] = self.v[n]
        return out

    @torch.no_grad()
    def import_state(self, tensors: Mapping[str, Tensor], updates: int, type: Optional[str] = None) -> None:
        """Restores moments (`m/<name>`, `v/<name>` for every parameter, nothing else) and the update count."""
        if type is not None and type != self.type:
            raise ValueError(f'optimizer state is for {type}, this optimizer is {self.type}')
        if not isinstance(updates, int) or updates < 0:
            raise ValueError(f'optimizer state step must be a whole number >= 0, got {updates}')
        expected = set()
        for n, p in self.params.items():
            for which in ('m', 'v'):
                key = f'{which}/{n}'
                expected.add(key)
                t = tensors.get(key)
                if t is None:
                    raise ValueError(f'optimizer state has no {key}')
                if tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"{key}: shape {list(t.shape)} does not match the variable's {list(p.shape)}")
        extra = [k for k in tensors if k not in expected]
        if extra:
            raise ValueError(f'optimizer state has moments of unknown variables: {", ".join(extra[:5])}')
        for n in self.params:
            self.m[n].copy_(tensors[f'm/{n}'].to(self.m[n].device, torch.float32))
            self.v[n].copy_(tensors[f'v/{n}'].to(self.v[n].device, torch.float32))
        self.updates = updates
