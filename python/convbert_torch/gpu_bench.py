"""The torch engine's GPU benchmark (bench/gpu.sh runs it; issue #11):

  PYTHONPATH=python python3 -m convbert_torch.gpu_bench [--device cuda|cpu] [--steps 10] [--warmup 3]
      [--models bert-base,groupbert-base] [--settings fp32:32,bf16:256,bf16-compile:256] [--spec-dir bench/gpu]
      [--engines ours,plain] [--json FILE] [--threads N] [--seed 1]

For each setting (precision, compile, batch B) and model (a resolved spec in `--spec-dir`, written by
`npx tsx bench/gpu-specs.ts` with the cost model's training FLOPs per sequence, so no Node.js is needed here), it
times two training loops over the same model (build_model) on the same synthetic batches:

- `ours`: the torch engine's real step path, the worker (worker.py) driven in-process through its `init` and
  `step` commands on a shards folder written here with numpy per docs/torch-engine.md ("Shards"): the data reader,
  autocast, the global MLM denominator, our AdamW (optim.py) with clipping and the decay exclusions, the loss read back;
- `plain`: the reference, a plain PyTorch loop: the same model and batches (read with the same shards reader),
  torch.optim.AdamW (fused where this torch has it on CUDA) with the same decay exclusions, the same autocast,
  torch.nn.utils.clip_grad_norm_, torch.compile where the setting asks for it, no accumulation.

Warm-up steps are not timed; each timed step is bracketed by torch.cuda.synchronize and the median is reported:
tokens/s = B·S / step, TFLOP/s = cost-model FLOPs per sequence · B / step, peak memory = the largest
torch.cuda.max_memory_allocated of a timed step (CPU: the process's peak RSS), and per setting and loop the
GroupBERT/BERT step-time ratio beside the FLOP ratio. Out of memory in a cell prints OOM there and goes on; a
setting that needs torch.compile on a torch without it prints "n/a: torch X has no torch.compile".
Exit status: 0, 1 when a cell failed for another reason (the message is in the cell), 2 for bad arguments or no
CUDA device with --device cuda.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from . import device as devices
from .data import Shards
from .distributed import World
from .model import build_model
from .optim import is_norm_or_bias
from .worker import Worker, validate

#: The settings of issue #11: name → (precision, compile, default B).
SETTINGS: Dict[str, Tuple[str, bool, int]] = {
    'fp32': ('fp32', False, 32),
    'tf32': ('tf32', False, 32),
    'bf16': ('bf16', False, 256),
    'bf16-compile': ('bf16', True, 256),
}
DEFAULT_SETTINGS = 'fp32:32,bf16:256,bf16-compile:256'
DEFAULT_MODELS = 'bert-base,groupbert-base'
ENGINES = ('ours', 'plain')
LEARNING_RATE = 1e-4
SPEC_FORMAT = 'convbert-gpu-bench-spec'


class UsageError(Exception):
    """Bad arguments or inputs: one line, exit 2."""


@dataclass(frozen=True)
class Setting:
    name: str
    precision: str
    compile: bool
    batch: int


@dataclass
class BenchSpec:
    name: str
    spec: Dict[str, Any]
    sequence_length: int
    masked: int
    flops_per_sequence: float
    params: int


@dataclass
class Cell:
    """One (setting, model, engine) measurement, or why there is none (`status`: ok, oom, n/a, error)."""

    setting: str
    model: str
    engine: str
    batch: int
    status: str = 'ok'
    message: str = ''
    step_seconds: List[float] = field(default_factory=list)
    median_s: float = 0.0
    tokens_per_s: float = 0.0
    tflops: float = 0.0
    flops_per_sequence: float = 0.0
    peak_memory_bytes: int = 0
    losses: List[float] = field(default_factory=list)
    warmup_s: float = 0.0
    compiled: bool = False

    def to_json(self) -> Dict[str, Any]:
        return {
            'setting': self.setting, 'model': self.model, 'engine': self.engine, 'batch': self.batch, 'status': self.status,
            'message': self.message, 'stepSeconds': self.step_seconds, 'medianStepSeconds': self.median_s,
            'tokensPerSecond': self.tokens_per_s, 'tflops': self.tflops, 'flopsPerSequence': self.flops_per_sequence,
            'peakMemoryBytes': self.peak_memory_bytes, 'losses': self.losses, 'warmupSeconds': self.warmup_s,
            'compiled': self.compiled,
        }


# -- inputs ---------------------------------------------------------------------------------------------------------
def parse_settings(text: str) -> List[Setting]:
    out: List[Setting] = []
    for part in [p.strip() for p in text.split(',') if p.strip()]:
        name, _, b = part.partition(':')
        if name not in SETTINGS:
            raise UsageError(f'unknown setting "{name}" (settings: {", ".join(SETTINGS)}; write NAME or NAME:B)')
        precision, compile_, default_b = SETTINGS[name]
        try:
            batch = int(b) if b else default_b
        except ValueError:
            raise UsageError(f'setting "{part}": the batch after ":" must be an integer') from None
        if batch < 1:
            raise UsageError(f'setting "{part}": the batch must be ≥ 1')
        out.append(Setting(name, precision, compile_, batch))
    if not out:
        raise UsageError('--settings is empty')
    return out


def load_spec(spec_dir: str, name: str) -> BenchSpec:
    path = os.path.join(spec_dir, f'{name}.json')
    try:
        with open(path) as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise UsageError(f'no spec {path} (write the specs with `npx tsx bench/gpu-specs.ts`, or pass --spec-dir)') from None
    except (OSError, ValueError) as e:
        raise UsageError(f'cannot read {path}: {str(e).splitlines()[0][:120]}') from None
    if not isinstance(obj, dict) or obj.get('format') != SPEC_FORMAT or not isinstance(obj.get('spec'), dict):
        raise UsageError(f'{path} is not a GPU bench spec (format "{SPEC_FORMAT}", from bench/gpu-specs.ts)')
    flops = obj.get('trainingFlopsPerSequence')
    S, P = obj.get('sequenceLength'), obj.get('maskedPerSequence')
    if not isinstance(flops, (int, float)) or not isinstance(S, int) or not isinstance(P, int) or flops <= 0:
        raise UsageError(f'{path}: trainingFlopsPerSequence, sequenceLength and maskedPerSequence must be positive numbers')
    training = obj['spec'].get('training', {})
    if training.get('sequenceLength') != S or training.get('maxPredictions') != P:
        raise UsageError(f'{path}: sequenceLength/maskedPerSequence do not match the spec\'s training section')
    return BenchSpec(name, obj['spec'], S, P, float(flops), int(obj.get('params', 0)))


# -- synthetic shards (docs/torch-engine.md, "Shards") ------------------------------------------------------------
def synthetic_rows(n: int, S: int, P: int, vocab: int, nsp: bool, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Full-length sequences ([CLS] … [SEP] … [SEP], two segments, no padding) with P masked positions each, all of
    weight 1: the shapes the cost model counts (S tokens, P predictions per sequence)."""
    ids = rng.integers(5, vocab, size=(n, S), dtype=np.int64)
    ids[:, 0], ids[:, S // 2], ids[:, S - 1] = 2, 3, 3
    types = np.zeros((n, S), np.int64)
    types[:, S // 2 + 1:] = 1
    inner = S - 2
    if P > inner:
        raise UsageError(f'{P} predictions do not fit in sequences of {S}')
    positions = np.sort(np.argsort(rng.random((n, inner)), axis=1)[:, :P] + 1, axis=1)
    labels = np.take_along_axis(ids, positions, axis=1)
    np.put_along_axis(ids, positions, 4, axis=1)  # [MASK]
    out = {
        'input_ids': ids, 'token_type_ids': types, 'attention_mask': np.ones((n, S), np.int64),
        'masked_positions': positions, 'masked_labels': labels, 'masked_weights': np.ones((n, P), np.int64),
    }
    if nsp:
        out['nsp_labels'] = rng.integers(0, 2, size=n, dtype=np.int64)
    return out


def write_shards(folder: str, spec: BenchSpec, batch: int, steps: int, seed: int) -> None:
    """A shards folder for `steps` steps of `batch` sequences (one process, no accumulation) and one validation batch."""
    model = spec.spec['model']
    vocab = int(model['vocabSize'])
    nsp = bool(model['heads']['nsp'])
    token = 'uint16' if vocab <= 65536 else 'int32'
    dtypes = {'input_ids': token, 'token_type_ids': 'uint8', 'attention_mask': 'uint8', 'masked_positions': 'int32',
              'masked_labels': token, 'masked_weights': 'uint8'}
    if nsp:
        dtypes['nsp_labels'] = 'uint8'
    rng = np.random.default_rng(seed)
    files: List[Dict[str, Any]] = []
    index: Dict[str, Any] = {'format': 'convbert-shards', 'version': 1, 'key': '0' * 64, 'contentSha256': '0' * 64,
                             'sequenceLength': spec.sequence_length, 'maxPredictions': spec.masked, 'nsp': nsp,
                             'vocabSize': vocab, 'arrays': dtypes}
    for split, n in (('train', steps * batch), ('validation', batch)):
        rows = synthetic_rows(n, spec.sequence_length, spec.masked, vocab, nsp, rng)
        os.makedirs(os.path.join(folder, split), exist_ok=True)
        for name, dt in dtypes.items():
            rel = f'{split}/{name}.00000.bin'
            raw = np.ascontiguousarray(rows[name]).astype(np.dtype(dt).newbyteorder('<')).tobytes()
            with open(os.path.join(folder, rel), 'wb') as f:
                f.write(raw)
            files.append({'path': rel, 'bytes': len(raw)})
        index[split] = {'sequences': n, 'sequencesPerShard': max(1, n), 'shards': 1}
    index['validation']['fromTraining'] = False
    index.update({'steps': steps, 'sequencesPerStep': batch, 'batchSize': batch, 'gradientAccumulation': 1, 'worldSize': 1,
                  'evalBatches': 1, 'files': files, 'createdAt': '1970-01-01T00:00:00Z', 'createdBy': 'convbert_torch.gpu_bench'})
    with open(os.path.join(folder, 'index.json'), 'w') as f:
        json.dump(index, f)


def run_spec(spec: BenchSpec, batch: int) -> Dict[str, Any]:
    """The resolved spec with this batch, no accumulation."""
    out = json.loads(json.dumps(spec.spec))
    out['training']['batchSize'] = batch
    out['training']['gradientAccumulation'] = 1
    return out


# -- the two loops --------------------------------------------------------------------------------------------------
def synchronize(dev: torch.device) -> None:
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)


StepFn = Callable[[int], float]  # step index → loss


def time_steps(step: StepFn, dev: torch.device, warmup: int, steps: int, cell: Cell) -> None:
    """Runs warm-up + timed steps; fills the cell's step times, losses (every step) and peak memory."""
    synchronize(dev)
    t0 = time.perf_counter()
    for i in range(warmup):
        cell.losses.append(step(i))
    synchronize(dev)
    cell.warmup_s = time.perf_counter() - t0
    peak = 0
    for i in range(warmup, warmup + steps):
        devices.reset_peak_memory(dev)
        synchronize(dev)
        t = time.perf_counter()
        loss = step(i)
        synchronize(dev)
        cell.step_seconds.append(time.perf_counter() - t)
        cell.losses.append(loss)
        peak = max(peak, devices.memory_bytes(dev)['peakMemoryBytes'])
    cell.peak_memory_bytes = peak


def ours(spec: Dict[str, Any], shards: str, device: str, setting: Setting, seed: int, cell: Cell, warmup: int, steps: int) -> None:
    """The worker's real init and step, in-process (one rank, no protocol stream)."""
    worker: Optional[Worker] = Worker(World(), None)
    try:
        assert worker is not None
        init = validate({'id': 1, 'cmd': 'init', 'spec': spec, 'shards': shards, 'device': device,
                         'precision': setting.precision, 'compile': setting.compile, 'seed': seed})
        worker.prepare(init)
        answer = worker.execute(init)
        cell.compiled = bool(answer['compile'])
        dev = worker.live().setup.device

        def step(i: int) -> float:
            assert worker is not None
            req = validate({'id': 2 + i, 'cmd': 'step', 'step': i, 'lr': LEARNING_RATE, 'seed': seed + i})
            worker.prepare(req)
            return float(worker.execute(req)['loss'])

        time_steps(step, dev, warmup, steps, cell)
    finally:
        worker = None


def plain(spec: Dict[str, Any], shards_dir: str, device: str, setting: Setting, seed: int, cell: Cell, warmup: int, steps: int) -> None:
    """The reference: a plain PyTorch loop over the same model and batches (torch.optim.AdamW, autocast)."""
    setup = devices.setup(device, setting.precision, setting.compile)
    dev = setup.device
    training = spec['training']
    batch = int(training['batchSize'])
    shards = Shards(shards_dir)
    torch.manual_seed(seed)
    model = build_model(spec, seed=seed, device=dev)
    params = list(model.params.items())
    groups = [
        {'params': [p for n, p in params if not is_norm_or_bias(n)], 'weight_decay': float(training['weightDecay'])},
        {'params': [p for n, p in params if is_norm_or_bias(n)], 'weight_decay': 0.0},
    ]
    o = training['optimizer']
    kwargs: Dict[str, Any] = {'lr': LEARNING_RATE, 'betas': (float(o['beta1']), float(o['beta2'])), 'eps': float(o['epsilon'])}
    if dev.type == 'cuda' and devices.has_fused_adamw():
        kwargs['fused'] = True
    opt = torch.optim.AdamW(groups, **kwargs)
    clip = float(training.get('gradientClipNorm') or 0)
    forward = devices.maybe_compile(model, setup.compile)
    cell.compiled = setup.compile
    all_params = [p for _, p in params]

    def step(i: int) -> float:
        data = shards.micro_batch(i, 0, 0, batch, 1, 1, dev)
        opt.zero_grad(set_to_none=True)
        torch.manual_seed(seed + i)  # the worker's dropout seed for micro-batch 0 of rank 0
        with setup.autocast():
            out = forward(data, True)
        out['loss'].backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(all_params, clip)
        opt.step()
        return float(out['loss'].detach())

    time_steps(step, dev, warmup, steps, cell)


LOOPS = {'ours': ours, 'plain': plain}


def release(device: str, compiled: bool) -> None:
    gc.collect()
    if compiled:
        dynamo = getattr(torch, '_dynamo', None)
        if dynamo is not None and hasattr(dynamo, 'reset'):
            dynamo.reset()
    if device == 'cuda':
        torch.cuda.empty_cache()


def measure(engine: str, spec: BenchSpec, setting: Setting, shards: str, device: str, seed: int, warmup: int, steps: int) -> Cell:
    cell = Cell(setting.name, spec.name, engine, setting.batch, flops_per_sequence=spec.flops_per_sequence)
    if setting.compile and not devices.has_compile():
        cell.status, cell.message = 'n/a', f'n/a: torch {torch.__version__} has no torch.compile'
        return cell
    try:
        LOOPS[engine](run_spec(spec, setting.batch), shards, device, setting, seed, cell, warmup, steps)
    except Exception as e:  # noqa: BLE001 - every failure is a cell, the run goes on
        if devices.is_out_of_memory(e):
            cell.status, cell.message = 'oom', 'OOM'
        else:
            traceback.print_exc(file=sys.stderr)
            text = str(e).strip().splitlines()[0] if str(e).strip() else ''
            cell.status, cell.message = 'error', f'error: {type(e).__name__}: {text}'[:160]
        cell.step_seconds = []
    finally:
        release(device, setting.compile)
    if cell.status == 'ok':
        cell.median_s = statistics.median(cell.step_seconds)
        cell.tokens_per_s = setting.batch * spec.sequence_length / cell.median_s
        cell.tflops = spec.flops_per_sequence * setting.batch / cell.median_s / 1e12
    return cell


# -- output ---------------------------------------------------------------------------------------------------------
def describe_device(dev: torch.device) -> List[str]:
    lines = [f'torch {torch.__version__}, Python {platform.python_version()}, numpy {np.__version__}']
    if dev.type == 'cuda':
        props = torch.cuda.get_device_properties(dev)
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        lines.insert(0, f'device: {torch.cuda.get_device_name(dev)} ({props.total_memory / 2**30:.1f} GiB, compute capability '
                        f'{props.major}.{props.minor}, {torch.cuda.device_count()} visible), CUDA {torch.version.cuda}, cuDNN {cudnn}')
    else:
        mem = ''
        try:
            with open('/proc/meminfo') as f:
                kib = int(f.readline().split()[1])
            mem = f', {kib / 2**20:.1f} GiB memory'
        except (OSError, ValueError, IndexError):
            pass
        lines.insert(0, f'device: cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs{mem}, {torch.get_num_threads()} torch threads)')
    feats = devices.features_for(dev)
    lines.append('features: ' + ', '.join(f'{k} {"yes" if v else "no"}' for k, v in feats.items()))
    return lines


def gib(n: int) -> str:
    return f'{n / 2**30:.2f} GiB'


def table(cells: List[Cell], dev: torch.device) -> List[str]:
    mem = 'peak memory' if dev.type == 'cuda' else 'peak RSS'
    out = [f'| setting | B | model | loop | step ms (median) | tokens/s | TFLOP/s | {mem} | ours/plain |', '|---|---|---|---|---|---|---|---|---|']
    by_key = {(c.setting, c.batch, c.model, c.engine): c for c in cells}
    for c in cells:
        if c.status != 'ok':
            out.append(f'| {c.setting} | {c.batch} | {c.model} | {c.engine} | {c.message} | | | | |')
            continue
        vs = ''
        other = by_key.get((c.setting, c.batch, c.model, 'plain'))
        if c.engine == 'ours' and other is not None and other.status == 'ok':
            vs = f'{other.median_s / c.median_s:.2f}'
        out.append(f'| {c.setting} | {c.batch} | {c.model} | {c.engine} | {c.median_s * 1e3:.1f} | {c.tokens_per_s:,.0f} | '
                   f'{c.tflops:.3g} | {gib(c.peak_memory_bytes)} | {vs} |')
    return out


def ratios(cells: List[Cell], specs: Dict[str, BenchSpec], models: List[str]) -> List[str]:
    """GroupBERT/BERT step time beside the FLOP ratio, for each setting and loop (the first BERT-like model against
    each other one)."""
    if len(models) < 2:
        return []
    base = models[0]
    out = [f'| setting | B | loop | model | step time / {base} | FLOPs / {base} |', '|---|---|---|---|---|---|']
    by_key = {(c.setting, c.batch, c.model, c.engine): c for c in cells}
    seen: List[Tuple[str, int, str]] = []
    for c in cells:
        key = (c.setting, c.batch, c.engine)
        if key in seen:
            continue
        seen.append(key)
        for other in models[1:]:
            a, b = by_key.get((c.setting, c.batch, base, c.engine)), by_key.get((c.setting, c.batch, other, c.engine))
            flop = specs[other].flops_per_sequence / specs[base].flops_per_sequence
            time_ratio = f'{b.median_s / a.median_s:.2f}' if a and b and a.status == 'ok' and b.status == 'ok' else 'n/a'
            out.append(f'| {c.setting} | {c.batch} | {c.engine} | {other} | {time_ratio} | {flop:.3f} |')
    return out


def main(argv: Optional[List[str]] = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default_specs = os.path.normpath(os.path.join(here, '..', '..', 'bench', 'gpu'))
    parser = argparse.ArgumentParser(prog='bench/gpu.sh', description='Training-step throughput of the torch engine and of a plain PyTorch loop (issue #11).')
    parser.add_argument('--device', default='cuda', choices=('cuda', 'cpu'), help='cuda (default) or cpu (smoke test)')
    parser.add_argument('--steps', type=int, default=10, help='timed steps per cell (median reported; default 10)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed warm-up steps per cell (default 3; compilation happens here)')
    parser.add_argument('--models', default=DEFAULT_MODELS, help=f'spec names in --spec-dir, the first is the base of the ratios (default {DEFAULT_MODELS})')
    parser.add_argument('--settings', default=DEFAULT_SETTINGS, help=f'NAME[:B],… of {", ".join(SETTINGS)} (default {DEFAULT_SETTINGS})')
    parser.add_argument('--spec-dir', default=default_specs, help='folder of <model>.json written by bench/gpu-specs.ts (default bench/gpu)')
    parser.add_argument('--engines', default=','.join(ENGINES), help='ours,plain (default both)')
    parser.add_argument('--json', default=None, help='also write every cell as JSON to this file')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (default: torch\'s choice)')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    try:
        if args.steps < 1 or args.warmup < 0:
            raise UsageError('--steps must be ≥ 1 and --warmup ≥ 0')
        settings = parse_settings(args.settings)
        models = [m.strip() for m in args.models.split(',') if m.strip()]
        engines = [e.strip() for e in args.engines.split(',') if e.strip()]
        bad = [e for e in engines if e not in ENGINES]
        if not models or not engines or bad:
            raise UsageError(f'--models and --engines must name something (engines: {", ".join(ENGINES)})')
        specs = {m: load_spec(args.spec_dir, m) for m in models}
    except UsageError as e:
        print(f'gpu_bench: {e}', file=sys.stderr)
        return 2
    if args.device == 'cuda' and not devices.cuda_available():
        print(f'gpu_bench: no CUDA device: this torch ({torch.__version__}, CUDA {torch.version.cuda}) sees none. '
              'Run it on an NVIDIA machine with a CUDA build of torch (check nvidia-smi, CUDA_VISIBLE_DEVICES), or pass --device cpu.', file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dev = devices.resolve_device(args.device)
    for line in describe_device(dev):
        print(line, flush=True)
    print(f'S and FLOPs from {args.spec_dir}: ' + ', '.join(f'{s.name} {s.params:,} parameters, {s.flops_per_sequence / 1e9:.3f} GFLOP per sequence '
                                                           f'(S = {s.sequence_length}, {s.masked} masked)' for s in specs.values()))
    print(f'{args.warmup} warm-up + {args.steps} timed steps per cell (median); ours = the worker\'s step, plain = a plain PyTorch loop (torch.optim.AdamW)\n', flush=True)
    cells: List[Cell] = []
    tmp = tempfile.mkdtemp(prefix='convbert-gpu-bench-')
    try:
        written: Dict[Tuple[str, int], str] = {}
        for setting in settings:
            for m in models:
                key = (m, setting.batch)
                if key not in written:
                    folder = os.path.join(tmp, f'{m}-b{setting.batch}')
                    write_shards(folder, specs[m], setting.batch, args.warmup + args.steps, args.seed)
                    written[key] = folder
                for engine in engines:
                    cell = measure(engine, specs[m], setting, written[key], args.device, args.seed, args.warmup, args.steps)
                    cells.append(cell)
                    what = cell.message or f'{cell.median_s * 1e3:.1f} ms/step, {cell.tokens_per_s:,.0f} tokens/s, {cell.tflops:.3g} TFLOP/s, peak {gib(cell.peak_memory_bytes)} (warm-up {cell.warmup_s:.1f} s)'
                    print(f'  {setting.name} B={setting.batch} {m} {engine}: {what}', flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    for line in table(cells, dev):
        print(line)
    print()
    for line in ratios(cells, specs, models):
        print(line)
    print('\nTFLOP/s = the cost model\'s training FLOPs (bench/gpu/*.json, computeCost) / median step time; '
          'ours/plain = plain step time / ours (above 1: ours is faster).', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'torch': torch.__version__, 'device': devices.device_info(dev), 'cells': [c.to_json() for c in cells]}, f, indent=1)
    return 1 if any(c.status == 'error' for c in cells) else 0


if __name__ == '__main__':
    sys.exit(main())
