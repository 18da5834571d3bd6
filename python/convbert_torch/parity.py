"""Parity CLI for test/integration/torch-parity.test.ts: computes, from given weights and batches, what the TF.js
model and optimizer compute, and writes it as safetensors.

  python3 -m convbert_torch.parity REQUEST.json

REQUEST: {"jobs": [JOB, ...]} or one JOB:
  spec          the resolved spec (resolveSpec output)
  weights       safetensors with every parameter by TF.js name
  batches       safetensors files, one batch each (input_ids, token_type_ids, attention_mask, masked_positions,
                masked_labels, masked_weights, nsp_labels)
  out           where the result goes (safetensors)
  initSeed      optional: also the initial weights of build_model(spec, initSeed) (init/<name>)
  probe         optional true: also the attention probabilities on batches[0] (attention/<layer>/<module>
                [B, heads, T, T], model.probe)
  split         optional k > 1: also the gradient of batches[0] computed in k row chunks, each dividing its loss
                sums by the whole batch's counts (mlm_denominator / nsp_denominator), summed (split_loss,
                split_grad/<name>)
  steps         optional: optimizer steps, step t on batches[t % len], learning rate learningRates[t]
  optimizer     {type, beta1, beta2, epsilon, biasCorrection, weightDecay, gradientClipNorm}
  learningRates [lr per step]
Result: loss, mlm_loss, nsp_loss, mlm_accuracy, nsp_accuracy, mlm_count (float32 [1] each, heads present),
mlm_logits [B·P, V], grad/<name>; with steps: step_losses, step_grad_norms, step_applied [steps] and final/<name>
(the weights after the last step), m/<name>, v/<name>, and nan_step_unchanged (1 when a step with a NaN gradient
then reports applied False and changes nothing).
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

import torch
from torch import Tensor

from .model import build_model
from .optim import Optimizer
from .safetensors import load_file, save_file

SCALARS = ('loss', 'mlm_loss', 'nsp_loss', 'mlm_accuracy', 'nsp_accuracy', 'mlm_count')


def run_job(job: Dict[str, Any]) -> None:
    model = build_model(job['spec'])
    model.load_tensors(load_file(job['weights']))
    batches: List[Dict[str, Tensor]] = [load_file(p) for p in job['batches']]
    params = model.params
    result: Dict[str, Tensor] = {}

    model.zero_grad(set_to_none=True)
    out = model(batches[0], training=False, return_logits=True)
    out['loss'].backward()
    for k in SCALARS:
        if k in out:
            result[k] = out[k].detach().float().reshape(1)
    if 'mlm_logits' in out:
        result['mlm_logits'] = out['mlm_logits'].detach().float()
    for n, p in params.items():
        result[f'grad/{n}'] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)

    if job.get('initSeed') is not None:
        fresh = build_model(job['spec'], seed=int(job['initSeed']))
        again = build_model(job['spec'], seed=int(job['initSeed']))
        for n, p in fresh.params.items():
            if not torch.equal(p, again.params[n]):
                raise ValueError(f'{n}: the initial values differ between two builds with the same seed')
            result[f'init/{n}'] = p.detach().clone()

    if job.get('probe'):
        b0 = batches[0]
        for probe in model.probe(b0['input_ids'], b0.get('token_type_ids'), b0.get('attention_mask')):
            result[f'attention/{probe.layer}/{probe.module}'] = probe.probs.float().contiguous()

    k = int(job.get('split', 0) or 0)
    if k > 1:
        b0 = batches[0]
        B = b0['input_ids'].shape[0]
        mlm_den = b0['masked_weights'].float().sum()
        model.zero_grad(set_to_none=True)
        total = torch.zeros(())
        for rows in torch.arange(B).chunk(k):
            chunk = {name: t[rows] for name, t in b0.items()}
            part = model(chunk, training=False, mlm_denominator=mlm_den, nsp_denominator=B)
            part['loss'].backward()
            total = total + part['loss'].detach()
        result['split_loss'] = total.reshape(1)
        for n, p in params.items():
            result[f'split_grad/{n}'] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)

    steps = int(job.get('steps', 0) or 0)
    if steps > 0:
        o = job['optimizer']
        opt = Optimizer(params, type=o['type'], beta1=o['beta1'], beta2=o['beta2'], epsilon=o['epsilon'],
                        bias_correction=o['biasCorrection'], weight_decay=o['weightDecay'],
                        gradient_clip_norm=o['gradientClipNorm'], foreach=o.get('foreach'))
        losses, norms, applied = [], [], []
        for t in range(steps):
            model.zero_grad(set_to_none=True)
            loss = model(batches[t % len(batches)], training=False)['loss']
            loss.backward()
            norm, ok = opt.step(float(job['learningRates'][t]))
            losses.append(float(loss))
            norms.append(norm)
            applied.append(1 if ok else 0)
        result['step_losses'] = torch.tensor(losses, dtype=torch.float32)
        result['step_grad_norms'] = torch.tensor(norms, dtype=torch.float32)
        result['step_applied'] = torch.tensor(applied, dtype=torch.int32)
        for n, p in params.items():
            result[f'final/{n}'] = p.detach().clone()
        result.update(opt.export_state())
        # A non-finite gradient norm changes nothing: weights, moments and the update count stay.
        before = {k: t.clone() for k, t in opt.export_state().items()}
        for p in params.values():
            p.grad = torch.zeros_like(p)
        next(iter(params.values())).grad.view(-1)[0] = float('nan')  # type: ignore[union-attr]
        norm, ok = opt.step(1e-3)
        unchanged = not ok and opt.updates == steps and all(torch.equal(p, result[f'final/{n}']) for n, p in params.items())
        unchanged = unchanged and all(torch.equal(t, before[k]) for k, t in opt.export_state().items())
        result['nan_step_unchanged'] = torch.tensor([1 if unchanged else 0], dtype=torch.int32)
    save_file(result, job['out'], {'torch': torch.__version__})


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print('usage: python3 -m convbert_torch.parity REQUEST.json', file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    with open(argv[0]) as f:
        request = json.load(f)
    for job in request['jobs'] if 'jobs' in request else [request]:
        run_job(job)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, KeyError, OSError) as e:
        print(f'parity: {type(e).__name__}: {e}', file=sys.stderr)
        sys.exit(1)
