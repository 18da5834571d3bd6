"""Training-step timing of the PyTorch model, for bench/train.bench.ts:

  PYTHONPATH=python python3 -m convbert_torch.bench CONFIG.json

It builds the model of a resolved spec (build_model: the same model, names and maths as the TF.js one), and times
`warmupSteps` + `steps` optimizer steps (our AdamW/LAMB, optim.py) on random token batches, each step
`accumulation` micro-batches whose gradients are averaged, then global-norm clipping.

CONFIG: {"model": <ResolvedModel>, "sequenceLength", "microBatch", "accumulation", "maskedPerSequence", "steps",
"warmupSteps", "optimizer": {type?, beta1, beta2, epsilon, biasCorrection?}, "weightDecay", "gradientClipNorm",
"learningRate", "torchThreads", "seed", "paramsOnly", "device"? (default cpu)}.
It prints one JSON line: parameters (total and per cost-model module), step times, median, best, losses, peak RSS
(or peak device memory on CUDA), torch version, thread settings and the BLAS library actually mapped.

Run it with OpenBLAS and one torch thread, as the bench does:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=2 PYTHONPATH=python \\
    /usr/bin/python3 -m convbert_torch.bench cfg.json
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from typing import Any, Dict, List

import torch
from torch import Tensor

from .model import build_model
from .optim import Optimizer


def random_batch(gen: torch.Generator, B: int, T: int, P: int, V: int, nsp: bool, device: torch.device) -> Dict[str, Tensor]:
    """Random token ids (not the 5 special ids), P distinct masked positions per sequence, random labels."""
    positions = torch.stack([torch.randperm(T - 1, generator=gen)[:P] + 1 for _ in range(B)])
    batch = {
        'input_ids': torch.randint(5, V, (B, T), generator=gen),
        'token_type_ids': torch.zeros(B, T, dtype=torch.long),
        'attention_mask': torch.ones(B, T, dtype=torch.long),
        'masked_positions': positions,
        'masked_labels': torch.randint(5, V, (B, P), generator=gen),
        'masked_weights': torch.ones(B, P),
    }
    if nsp:
        batch['nsp_labels'] = torch.randint(0, 2, (B,), generator=gen)
    return {k: v.to(device) for k, v in batch.items()}


def blas_in_use() -> str:
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split()[-1] for line in f if 'blas' in line.lower() and '.so' in line}
        names = sorted({os.path.basename(p) for p in libs if p.startswith('/')})
        return ', '.join(names) or 'unknown'
    except OSError:
        return 'unknown'


def run(cfg: Dict[str, Any]) -> Dict[str, Any]:
    torch.set_num_threads(int(cfg.get('torchThreads', 1)))
    seed = int(cfg.get('seed', 1))
    device = torch.device(str(cfg.get('device', 'cpu')))
    model = build_model(cfg['model'], seed=seed, device=device)
    counts: Dict[str, int] = {}
    for p in model.shapes:
        counts[p.module] = counts.get(p.module, 0) + p.size
    result: Dict[str, Any] = {
        'torch': torch.__version__,
        'torchThreads': torch.get_num_threads(),
        'openblasThreads': os.environ.get('OPENBLAS_NUM_THREADS'),
        'params': model.parameter_count(),
        'paramsByModule': counts,
    }
    if cfg.get('paramsOnly'):
        result['blas'] = blas_in_use()
        return result

    B, T, P, acc = int(cfg['microBatch']), int(cfg['sequenceLength']), int(cfg['maskedPerSequence']), int(cfg['accumulation'])
    V, nsp = int(cfg['model']['vocabSize']), bool(cfg['model']['heads']['nsp'])
    o = cfg['optimizer']
    opt = Optimizer(model.params, type=str(o.get('type', 'adamw')), beta1=o['beta1'], beta2=o['beta2'], epsilon=o['epsilon'],
                    bias_correction=bool(o.get('biasCorrection', True)), weight_decay=float(cfg['weightDecay']),
                    gradient_clip_norm=float(cfg['gradientClipNorm']))
    gen = torch.Generator().manual_seed(seed)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times: List[float] = []
    losses: List[float] = []
    for step in range(int(cfg['warmupSteps']) + int(cfg['steps'])):
        batches = [random_batch(gen, B, T, P, V, nsp, device) for _ in range(acc)]
        sync()
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        for b in batches:
            loss = model(b, training=True)['loss'] / acc
            loss.backward()
            total += loss.detach()
        opt.step(float(cfg['learningRate']))
        losses.append(float(total))
        ms = (time.perf_counter() - t0) * 1000
        if step >= int(cfg['warmupSteps']):
            times.append(ms)
    peak = torch.cuda.max_memory_allocated(device) if device.type == 'cuda' else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result.update({
        'blas': blas_in_use(),
        'stepMs': times,
        'medianStepMs': statistics.median(times),
        'bestStepMs': min(times),
        'losses': losses,
        'peakRssBytes': peak,
    })
    return result


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        cfg = json.load(f)
    print(json.dumps(run(cfg)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
