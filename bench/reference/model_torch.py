#!/usr/bin/env python3
"""PyTorch reference of ConvBERT Studio's pretraining model, for `bench/train.bench.ts`.

It builds the model of a *resolved* spec (the JSON that `resolveSpec` gives in TypeScript, written by the bench),
module for module as src/core/model does it, and times training steps on random token batches:

  embeddings    word + position + token type -> LayerNorm -> dropout(hiddenDropout)
  layer module  pre-norm:  x <- x + Drop(module(LN(x)))      post-norm: x <- LN(x + Drop(module(x)))
                attention  separate q/k/v (bias: qkvBias), softmax(q.k^T/sqrt(d) - 10000*padded_key),
                           dropout(attentionDropout) on the probabilities, output projection (bias: projectionBias)
                conv       GLU (value * sigmoid(gate), two HxH), zero padded positions, grouped 1-D conv
                           (contiguous groups of channelsPerGroup, same/causal zero padding, bias), inner LN, swish, HxH out
                gffn       act(H->I), grouped I->H (G contiguous blocks, bias), HxH mixer when mixer and G > 1
                ffn        act(H->I) -> H
  final norm    LayerNorm after the last layer (pre-norm only)
  MLM head      gather the masked positions first, LN(act(x W_t + b_t)), logits = t . E_word^T + b (tied decoder)
  pooler / NSP  tanh(h_CLS W_p + b_p) -> 2 classes (NSP on h_CLS when there is no pooler)
  loss          weighted mean MLM cross-entropy over the real masked tokens + mean NSP cross-entropy
  optimizer     AdamW (decay on everything but LayerNorms and biases), global-norm clipping, gradients averaged
                over `accumulation` micro-batches per step

Usage: python3 model_torch.py CONFIG.json   (one JSON object on the last stdout line)
Run it with OpenBLAS and one torch thread, as the bench does:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=2 /usr/bin/python3 model_torch.py cfg.json
"""
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MASK_VALUE = -10000.0


def activation(kind):
    if kind == 'gelu':
        return lambda x: F.gelu(x)
    if kind == 'gelu_tanh':
        return lambda x: F.gelu(x, approximate='tanh')
    if kind == 'relu':
        return F.relu
    if kind == 'swish':
        return F.silu
    raise ValueError(f'unknown activation {kind}')


def conv_padding(k, padding):
    if padding == 'causal':
        return k - 1, 0
    before = (k - 1) // 2
    return before, k - 1 - before


class Attention(nn.Module):
    def __init__(self, H, m, model):
        super().__init__()
        self.heads = m['heads']
        self.query = nn.Linear(H, H, bias=m['qkvBias'])
        self.key = nn.Linear(H, H, bias=m['qkvBias'])
        self.value = nn.Linear(H, H, bias=m['qkvBias'])
        self.output = nn.Linear(H, H, bias=m['projectionBias'])
        self.drop = model['attentionDropout']

    def forward(self, u, ctx):
        B, T, H = u.shape
        h = self.heads
        d = H // h
        q = self.query(u).view(B, T, h, d).transpose(1, 2)
        k = self.key(u).view(B, T, h, d).transpose(1, 2)
        v = self.value(u).view(B, T, h, d).transpose(1, 2)
        scores = torch.matmul(q * (1.0 / math.sqrt(d)), k.transpose(-1, -2)) + ctx['mask_bias']
        p = torch.softmax(scores, dim=-1)
        p = F.dropout(p, self.drop, self.training)
        out = torch.matmul(p, v).transpose(1, 2).reshape(B, T, H)
        return self.output(out)


class Conv(nn.Module):
    def __init__(self, H, m, model):
        super().__init__()
        self.glu = m['glu']
        if self.glu:
            self.glu_value = nn.Linear(H, H)
            self.glu_gate = nn.Linear(H, H)
        self.pad = conv_padding(m['kernelSize'], m['padding'])
        self.grouped = nn.Conv1d(H, H, m['kernelSize'], groups=H // m['channelsPerGroup'], bias=m['bias'])
        self.inner_norm = nn.LayerNorm(H, eps=model['layerNormEps']) if m['norm'] else None
        self.output = nn.Linear(H, H)

    def forward(self, u, ctx):
        v = self.glu_value(u) * torch.sigmoid(self.glu_gate(u)) if self.glu else u
        v = v * ctx['token_mask'].unsqueeze(-1)
        c = self.grouped(F.pad(v.transpose(1, 2), self.pad)).transpose(1, 2)
        if self.inner_norm is not None:
            c = self.inner_norm(c)
        return self.output(F.silu(c))


class GroupedFFN(nn.Module):
    def __init__(self, H, m, model):
        super().__init__()
        I, G = m['intermediateSize'], m['groups']
        self.G = G
        self.act = activation(model['activation'])
        self.up = nn.Linear(H, I)
        self.down_kernel = nn.Parameter(torch.randn(G, I // G, H // G) * model['initializerRange'])
        self.down_bias = nn.Parameter(torch.randn(H) * model['initializerRange'])
        self.mixer = nn.Linear(H, H) if (m['mixer'] and G > 1) else None

    def forward(self, u, ctx):
        B, T, _ = u.shape
        h = self.act(self.up(u))
        G = self.G
        hg = h.reshape(B * T, G, -1).transpose(0, 1)  # [G, N, I/G]
        z = torch.bmm(hg, self.down_kernel).transpose(0, 1).reshape(B, T, -1) + self.down_bias
        return self.mixer(z) if self.mixer is not None else z


class FFN(nn.Module):
    def __init__(self, H, m, model):
        super().__init__()
        self.act = activation(model['activation'])
        self.up = nn.Linear(H, m['intermediateSize'])
        self.down = nn.Linear(m['intermediateSize'], H)

    def forward(self, u, ctx):
        return self.down(self.act(self.up(u)))


MODULES = {'attention': Attention, 'conv': Conv, 'gffn': GroupedFFN, 'ffn': FFN}


def module_names(modules):
    """`conv`, `gffn1`, `attention`, `gffn2`: a type that repeats in a layer is numbered from 1 (as in TypeScript)."""
    total, seen, out = {}, {}, []
    for m in modules:
        total[m['type']] = total.get(m['type'], 0) + 1
    for m in modules:
        seen[m['type']] = seen.get(m['type'], 0) + 1
        out.append(f"{m['type']}{seen[m['type']]}" if total[m['type']] > 1 else m['type'])
    return out


class Residual(nn.Module):
    """One layer module with its own LayerNorm, pre- or post-norm."""

    def __init__(self, H, m, model):
        super().__init__()
        self.module = MODULES[m['type']](H, m, model)
        self.norm = nn.LayerNorm(H, eps=model['layerNormEps'])
        self.pre = model['normPlacement'] == 'pre'
        self.drop = model['hiddenDropout']

    def forward(self, x, ctx):
        if self.pre:
            return x + F.dropout(self.module(self.norm(x), ctx), self.drop, self.training)
        return self.norm(x + F.dropout(self.module(x, ctx), self.drop, self.training))


class PretrainingModel(nn.Module):
    def __init__(self, model):
        super().__init__()
        H, V = model['hiddenSize'], model['vocabSize']
        self.cfg = model
        self.act = activation(model['activation'])
        eps = model['layerNormEps']
        self.word = nn.Embedding(V, H)
        self.position = nn.Embedding(model['maxPositions'], H)
        self.token_type = nn.Embedding(model['tokenTypes'], H) if model['tokenTypes'] > 0 else None
        self.emb_norm = nn.LayerNorm(H, eps=eps)
        digits = max(2, len(str(model['numLayers'] - 1)))
        self.names = []
        self.layers = nn.ModuleList()
        for layer in model['layers']:
            mods = nn.ModuleList([Residual(H, m, model) for m in layer['modules']])
            self.layers.append(mods)
            self.names.append([f"layer{str(layer['index']).zfill(digits)}/{n}" for n in module_names(layer['modules'])])
        self.final_norm = nn.LayerNorm(H, eps=eps) if model['normPlacement'] == 'pre' else None
        heads = model['heads']
        self.mlm = heads['mlm']
        if self.mlm:
            self.transform = nn.Linear(H, H)
            self.transform_norm = nn.LayerNorm(H, eps=eps)
            self.mlm_bias = nn.Parameter(torch.zeros(V))
        self.pooler = nn.Linear(H, H) if heads['pooler'] else None
        self.nsp = nn.Linear(H, 2) if heads['nsp'] else None
        std = model['initializerRange']
        for name, p in self.named_parameters():
            if p.dim() >= 2 and 'grouped' not in name:
                nn.init.trunc_normal_(p, std=std, a=-2 * std, b=2 * std)

    def parameter_counts(self):
        """Parameters per cost-model module (`embeddings`, `layer03/conv`, `final_norm`, `mlm_head`, `pooler`, `nsp_head`)."""
        n = lambda mods: sum(p.numel() for m in mods if m is not None for p in m.parameters())  # noqa: E731
        out = {'embeddings': n([self.word, self.position, self.token_type, self.emb_norm])}
        for names, mods in zip(self.names, self.layers):
            for name, mod in zip(names, mods):
                out[name] = n([mod])
        if self.final_norm is not None:
            out['final_norm'] = n([self.final_norm])
        if self.mlm:
            out['mlm_head'] = n([self.transform, self.transform_norm]) + self.mlm_bias.numel()
        if self.pooler is not None:
            out['pooler'] = n([self.pooler])
        if self.nsp is not None:
            out['nsp_head'] = n([self.nsp])
        return out

    def forward(self, batch):
        ids, types, mask = batch['input_ids'], batch['token_type_ids'], batch['attention_mask']
        B, T = ids.shape
        x = self.word(ids) + self.position.weight[:T]
        if self.token_type is not None:
            x = x + self.token_type(types)
        x = F.dropout(self.emb_norm(x), self.cfg['hiddenDropout'], self.training)
        token_mask = mask.to(x.dtype)
        ctx = {'token_mask': token_mask, 'mask_bias': ((1.0 - token_mask) * MASK_VALUE).view(B, 1, 1, T)}
        for mods in self.layers:
            for mod in mods:
                x = mod(x, ctx)
        if self.final_norm is not None:
            x = self.final_norm(x)
        losses = []
        if self.mlm:
            H = x.shape[-1]
            rows = (batch['masked_positions'] + torch.arange(B).unsqueeze(1) * T).reshape(-1)
            h = x.reshape(B * T, H).index_select(0, rows)
            t = self.transform_norm(self.act(self.transform(h)))
            logits = torch.matmul(t, self.word.weight.t()) + self.mlm_bias
            w = batch['masked_weights'].reshape(-1)
            ce = F.cross_entropy(logits, batch['masked_labels'].reshape(-1), reduction='none')
            losses.append((ce * w).sum() / w.sum().clamp_min(1e-9))
        if self.nsp is not None:
            cls = x[:, 0]
            pooled = torch.tanh(self.pooler(cls)) if self.pooler is not None else cls
            losses.append(F.cross_entropy(self.nsp(pooled), batch['nsp_labels']))
        return sum(losses)


def random_batch(gen, B, T, P, V, nsp):
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
    return batch


def blas_in_use():
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split()[-1] for line in f if 'blas' in line.lower() and '.so' in line}
        names = sorted({os.path.basename(p) for p in libs if p.startswith('/')})
        return ', '.join(names) or 'unknown'
    except OSError:
        return 'unknown'


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    torch.set_num_threads(int(cfg.get('torchThreads', 1)))
    torch.manual_seed(int(cfg.get('seed', 1)))
    model_cfg = cfg['model']
    model = PretrainingModel(model_cfg)
    counts = model.parameter_counts()
    params = sum(p.numel() for p in model.parameters())
    result = {
        'torch': torch.__version__,
        'torchThreads': torch.get_num_threads(),
        'openblasThreads': os.environ.get('OPENBLAS_NUM_THREADS'),
        'params': params,
        'paramsByModule': counts,
    }
    if cfg.get('paramsOnly'):
        result['blas'] = blas_in_use()
        print(json.dumps(result))
        return

    B, T, P, acc = cfg['microBatch'], cfg['sequenceLength'], cfg['maskedPerSequence'], cfg['accumulation']
    V, nsp = model_cfg['vocabSize'], model_cfg['heads']['nsp']
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and 'norm' not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and 'norm' not in n)]
    opt_cfg = cfg['optimizer']
    opt = torch.optim.AdamW(
        [{'params': decay, 'weight_decay': cfg['weightDecay']}, {'params': no_decay, 'weight_decay': 0.0}],
        lr=cfg['learningRate'], betas=(opt_cfg['beta1'], opt_cfg['beta2']), eps=opt_cfg['epsilon'],
    )
    gen = torch.Generator().manual_seed(int(cfg.get('seed', 1)))
    model.train()
    times, losses = [], []
    for step in range(cfg['warmupSteps'] + cfg['steps']):
        batches = [random_batch(gen, B, T, P, V, nsp) for _ in range(acc)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for b in batches:
            loss = model(b) / acc
            loss.backward()
            total += float(loss.detach())
        if cfg['gradientClipNorm'] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['gradientClipNorm'])
        opt.step()
        ms = (time.perf_counter() - t0) * 1000
        if step >= cfg['warmupSteps']:
            times.append(ms)
        losses.append(total)
    result.update({
        'blas': blas_in_use(),
        'stepMs': times,
        'medianStepMs': statistics.median(times),
        'bestStepMs': min(times),
        'losses': losses,
        'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })
    print(json.dumps(result))


if __name__ == '__main__':
    main()
