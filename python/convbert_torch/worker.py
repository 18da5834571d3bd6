"""The worker: one rank of the worker group, serving the protocol of docs/torch-engine.md ("Worker protocol").

Rank 0 reads one JSON request per line on stdin and answers one JSON line on the real stdout (kept as a private
file; `sys.stdout` and file descriptor 1 point at stderr, so nothing else can reach the protocol). Ranks > 0 never
read stdin or write stdout. Each request is checked on rank 0 first (a malformed or invalid request is answered
`ok: false` there and never reaches the other ranks), then broadcast on the control group, executed by every rank,
and the ranks agree on the outcome (all_gather of each rank's error, if any) before rank 0 answers:

- every rank succeeded → `ok: true` with the command's answer;
- every rank failed (the same error everywhere: bad spec, out of memory on every GPU) → `ok: false`, the group
  keeps serving;
- some ranks failed and others did not → `ok: false`, then the group exits 1 (their states may differ).

Errors are one line (`error`) with a `hint`; CUDA out-of-memory names the device and its memory. Tracebacks go to
stderr only. End of stdin makes every rank exit 0.

Evaluation splits the validation batches over the ranks (batch j on rank j mod W) and all-reduces the sums, so the
result is the one-process result (up to summation order) in 1/W of the time.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

import torch

from . import device as devices
from .data import ShardError, Shards
from .distributed import World, world_from_env

COMMANDS = ('init', 'step', 'evaluate', 'probe', 'save', 'load', 'shutdown')
EXIT = '__exit__'
#: Commands that run collectives on the compute group (a failure on some ranks only leaves the group inconsistent).
COLLECTIVE = ('init', 'step', 'evaluate', 'load')


def reference_blas() -> bool:
    """Whether this process mapped Debian's reference BLAS (`…/blas/libblas.so.3`) rather than an optimised one."""
    try:
        with open('/proc/self/maps') as f:
            return any('/blas/libblas.so' in line for line in f)
    except OSError:
        return False


class RequestError(Exception):
    """A request the worker answers with ok: false (bad arguments, state, files): message and hint."""

    def __init__(self, message: str, hint: str = '') -> None:
        super().__init__(message)
        self.hint = hint


def _finite(x: float) -> Optional[float]:
    """JSON has no NaN/Infinity: non-finite numbers are sent as null."""
    return x if math.isfinite(x) else None


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _need(req: Dict[str, Any], key: str, kind: Tuple[type, ...], what: str, optional: bool = False) -> Any:
    value = req.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kind):
        raise RequestError(f'{req.get("cmd")}: "{key}" must be {what}, got {json.dumps(value)[:40]}')
    return value


def _int_list(req: Dict[str, Any], key: str, optional: bool = False) -> Optional[List[int]]:
    value = _need(req, key, (list,), 'a list of integers', optional)
    if value is None:
        return None
    if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value):
        raise RequestError(f'{req.get("cmd")}: "{key}" must be a list of integers ≥ 0')
    return value


def validate(req: Any) -> Dict[str, Any]:
    """The request's shape (types of its arguments), checked on rank 0 before it is broadcast."""
    if not isinstance(req, dict):
        raise RequestError('a request must be a JSON object', 'send {"id": …, "cmd": …}')
    cmd = req.get('cmd')
    if cmd not in COMMANDS:
        raise RequestError(f'unknown command {json.dumps(cmd)[:40]}', f'commands: {", ".join(COMMANDS)}')
    number = (int, float)
    if cmd == 'init':
        _need(req, 'spec', (dict,), 'the resolved spec (an object)')
        _need(req, 'shards', (str,), 'the shards folder')
        _need(req, 'device', (str,), f'one of {", ".join(devices.DEVICES)}', optional=True)
        _need(req, 'precision', (str,), f'one of {", ".join(devices.PRECISIONS)}', optional=True)
        _need(req, 'compile', (bool,), 'true or false', optional=True)
        _need(req, 'seed', (int,), 'an integer', optional=True)
    elif cmd == 'step':
        step = _need(req, 'step', (int,), 'the 0-based step')
        if step < 0:
            raise RequestError(f'step: "step" must be ≥ 0, got {step}')
        lr = _need(req, 'lr', number, 'the learning rate')
        if not (math.isfinite(lr) and lr >= 0):
            raise RequestError(f'step: "lr" must be finite and ≥ 0, got {lr}')
        _need(req, 'seed', (int,), 'an integer')
    elif cmd == 'probe':
        ids = _int_list(req, 'ids')
        types = _int_list(req, 'tokenTypeIds', optional=True)
        if not ids:
            raise RequestError('probe: "ids" is empty')
        if types is not None and len(types) != len(ids):
            raise RequestError(f'probe: {len(types)} tokenTypeIds for {len(ids)} ids')
        n = _need(req, 'realLength', (int,), 'an integer', optional=True)
        if n is not None and not 0 <= n <= len(ids):
            raise RequestError(f'probe: realLength {n} is outside 0…{len(ids)}')
        _need(req, 'path', (str,), 'a file path')
    elif cmd == 'save':
        _need(req, 'path', (str,), 'a file path')
    elif cmd == 'load':
        _need(req, 'path', (str,), 'a file path')
        opt = _need(req, 'optimizer', (dict,), 'an object {type, step}')
        if not isinstance(opt.get('type'), str) or not isinstance(opt.get('step'), int) or isinstance(opt.get('step'), bool) or opt['step'] < 0:
            raise RequestError('load: "optimizer" must be {type: string, step: integer ≥ 0}')
    return req


@dataclass
class State:
    """What init built."""

    spec: Dict[str, Any]
    setup: devices.Setup
    shards: Shards
    model: Any  # PretrainingModel
    forward: Callable[..., Dict[str, torch.Tensor]]  # compiled or plain model, no DDP (evaluation)
    train_forward: Callable[..., Dict[str, torch.Tensor]]  # DDP (W > 1) around `forward`
    ddp: Any
    optimizer: Any
    batch_size: int
    accumulation: int
    optimizer_type: str


def unused_parameters(model: Any, shards: Shards, dev: torch.device) -> Dict[str, torch.Tensor]:
    """The parameters that get no gradient from the loss (found with one backward pass on one training row)."""
    batch = shards.batch('train', 0, 1, dev)
    out = model(batch, True)
    out['loss'].backward()
    unused = {n: p for n, p in model.params.items() if p.grad is None}
    for p in model.params.values():
        p.grad = None
    return unused


class Worker:
    def __init__(self, world: World, protocol: Optional[IO[str]]) -> None:
        self.world = world
        self.protocol = protocol
        self.state: Optional[State] = None
        #: Rank 0's tensors read while checking a `load` request, used when it runs.
        self.pending: Optional[Dict[str, torch.Tensor]] = None

    # -- output ------------------------------------------------------------------------------------------------------
    def send(self, obj: Dict[str, Any]) -> None:
        if self.protocol is None:
            return
        self.protocol.write(json.dumps(_clean(obj), separators=(',', ':')) + '\n')
        self.protocol.flush()

    def log(self, level: str, message: str) -> None:
        if self.world.rank == 0:
            self.send({'event': 'log', 'level': level, 'message': message})
        else:
            print(f'[rank {self.world.rank}] {level}: {message}', file=sys.stderr, flush=True)

    # -- loop --------------------------------------------------------------------------------------------------------
    def read_request(self) -> Optional[Dict[str, Any]]:
        """Rank 0: the next valid request (answering invalid ones itself), or the exit request at end of input."""
        while True:
            line = sys.stdin.readline()
            if not line:
                return {'cmd': EXIT}
            if not line.strip():
                continue
            rid: Any = None
            try:
                try:
                    req = json.loads(line)
                except ValueError as e:
                    raise RequestError(f'malformed request: not JSON ({str(e)[:80]})', 'send one JSON object per line') from None
                if isinstance(req, dict):
                    rid = req.get('id')
                validate(req)
                self.prepare(req)
                return req
            except Exception as e:  # noqa: BLE001 - every failure here is an answer
                self.pending = None
                self.send(self.failure(rid, e))

    def serve(self) -> int:
        while True:
            req = self.read_request() if self.world.rank == 0 else None
            if self.world.distributed:
                # Rank 0's private tensors never travel with the request.
                req = self.world.broadcast_object(req)
            assert req is not None
            cmd = req['cmd']
            if cmd == EXIT:
                return 0
            error: Optional[BaseException] = None
            answer: Dict[str, Any] = {}
            try:
                answer = self.execute(req)
            except Exception as e:  # noqa: BLE001
                error = e
                traceback.print_exc(file=sys.stderr)
                if devices.is_out_of_memory(e) and torch.cuda.is_available():
                    for p in (self.state.model.params.values() if self.state else []):
                        p.grad = None
                    torch.cuda.empty_cache()
            finally:
                self.pending = None
            errors = self.agree(error)
            rid = req.get('id')
            failed = [(r, e) for r, e in enumerate(errors) if e is not None]
            if not failed:
                self.send({'id': rid, 'ok': True, **answer})
                if cmd == 'shutdown':
                    return 0
                continue
            if self.world.rank == 0:
                if error is not None:
                    reply = self.failure(rid, error)
                else:
                    r, text = failed[0]
                    reply = {'id': rid, 'ok': False, 'error': f'rank {r}: {text[0]}', 'hint': text[1]}
                split = len(failed) < self.world.size and cmd in COLLECTIVE
                if split:
                    reply['hint'] = (reply.get('hint') or '') + (' ' if reply.get('hint') else '') + \
                        f'(ranks {", ".join(str(r) for r, _ in failed)} of {self.world.size} failed: the worker group stops)'
                self.send(reply)
            if len(failed) < self.world.size and cmd in COLLECTIVE:
                return 1

    def agree(self, error: Optional[BaseException]) -> List[Optional[Tuple[str, str]]]:
        """Every rank's (error, hint) or None, on every rank."""
        mine = None if error is None else self.describe(error)
        if not self.world.distributed:
            return [mine]
        import torch.distributed as dist

        out: List[Any] = [None] * self.world.size
        dist.all_gather_object(out, mine, group=self.world.control)
        return out

    def describe(self, e: BaseException) -> Tuple[str, str]:
        if devices.is_out_of_memory(e):
            dev = self.state.setup.device if self.state else None
            limit = devices.device_memory_limit(dev) if dev is not None else None
            where = f'{devices.device_info(dev)["name"]}' if dev is not None else 'the device'
            size = f' ({limit / 2**30:.1f} GiB)' if limit else ''
            return (f'out of memory on {where}{size}: {str(e).splitlines()[0][:200]}',
                    'lower training.batchSize (raise gradientAccumulation to keep the step), use precision bf16, or a smaller model')
        hint = getattr(e, 'hint', '')
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not isinstance(e, (RequestError, ShardError, devices.SetupError)):
            text = f'{type(e).__name__}: {text}' if not isinstance(e, ValueError) else text
            hint = hint or 'see the worker log (stderr) for the traceback'
        return text[:500], hint

    def failure(self, rid: Any, e: BaseException) -> Dict[str, Any]:
        text, hint = self.describe(e)
        return {'id': rid, 'ok': False, 'error': text, 'hint': hint}

    # -- commands ----------------------------------------------------------------------------------------------------
    def live(self) -> State:
        if self.state is None:
            raise RequestError('the worker has not been initialised', 'send init first')
        return self.state

    def prepare(self, req: Dict[str, Any]) -> None:
        """Rank 0's checks that need the state or files, before the request is broadcast."""
        cmd = req['cmd']
        if cmd in ('step', 'evaluate', 'probe', 'save', 'load'):
            st = self.live()
            if cmd == 'load':
                self.pending = self.read_checkpoint(st, req)
        if cmd == 'init' and self.state is not None:
            raise RequestError('the worker is already initialised', 'start a new worker group for another run')

    def execute(self, req: Dict[str, Any]) -> Dict[str, Any]:
        cmd = req['cmd']
        handler = getattr(self, f'cmd_{cmd}')
        return handler(req)

    def cmd_shutdown(self, req: Dict[str, Any]) -> Dict[str, Any]:
        return {}

    def cmd_init(self, req: Dict[str, Any]) -> Dict[str, Any]:
        from .model import build_model
        from .optim import Optimizer

        spec: Dict[str, Any] = req['spec']
        training = spec.get('training')
        if not isinstance(training, dict):
            raise RequestError('init: the spec has no training section (expected the resolved spec)')
        b = training.get('batchSize')
        A = training.get('gradientAccumulation', 1)
        if not isinstance(b, int) or b < 1 or not isinstance(A, int) or A < 1:
            raise RequestError('init: training.batchSize and training.gradientAccumulation must be integers ≥ 1')
        setup = devices.setup(req.get('device') or 'auto', req.get('precision') or 'fp32', bool(req.get('compile', False)), self.world.local_rank)
        if setup.device.type == 'cpu' and self.world.rank == 0 and reference_blas():
            self.log('warn', 'PyTorch is using the reference BLAS (libblas3), about 10x slower than OpenBLAS: install libopenblas0-pthread (Debian/Ubuntu), or run a PyTorch build with its own BLAS')
        W = self.world.size
        shards = Shards(req['shards'])
        shards.check_spec(spec, b, A, W)
        seed = int(req.get('seed') or 0)
        torch.manual_seed(seed)
        model = build_model(spec, seed=seed, device=setup.device)
        optimizer = Optimizer.from_spec(model.params, training)
        forward: Callable[..., Dict[str, torch.Tensor]] = devices.maybe_compile(model, setup.compile)
        train_forward = forward
        ddp = None
        self.world.init_compute(setup.device)
        if W > 1:
            from torch.nn.parallel import DistributedDataParallel

            kwargs: Dict[str, Any] = {'process_group': self.world.compute, 'broadcast_buffers': False}
            if setup.device.type == 'cuda':
                kwargs['device_ids'] = [setup.device.index]
            unused = unused_parameters(model, shards, setup.device)
            if unused:
                # Parameters no loss reaches (a pooler without NSP): DDP would wait for their gradients forever.
                # They are left out of DDP; without a gradient, the optimizer leaves them alone, as TF.js does.
                ids = {id(p) for p in unused.values()}
                # DDP matches `<module name>.<parameter name>`, the root module's name being '' (hence both forms).
                names = [n for n, p in forward.named_parameters() if id(p) in ids]  # type: ignore[union-attr]
                ignore = names + [f'.{n}' for n in names]
                DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(forward, ignore)
                self.log('debug', f'parameters without a gradient, left out of DDP: {", ".join(sorted(unused))}')
            # DDP also broadcasts rank 0's initial weights (they are equal anyway: same seed, same generator).
            ddp = DistributedDataParallel(forward, **kwargs)  # type: ignore[arg-type]
            train_forward = ddp
        opt_type = str(training.get('optimizer', {}).get('type', 'adamw'))
        self.state = State(spec, setup, shards, model, forward, train_forward, ddp, optimizer, b, A, opt_type)
        for note in setup.notes:
            self.log('warn', note)
        val = shards.splits['validation'].sequences
        evals = training.get('evalBatches')
        if isinstance(evals, int) and val != evals * b:
            self.log('info', f'the validation split has {val} sequences; evaluation uses all of them (the spec asks for {evals} batches of {b})')
        return {
            'parameterCount': int(sum(p.numel() for p in model.params.values())),
            'worldSize': W,
            **setup.report(),
        }

    def cmd_step(self, req: Dict[str, Any]) -> Dict[str, Any]:
        st = self.live()
        step, lr, seed = int(req['step']), float(req['lr']), int(req['seed'])
        W, rank, b, A = self.world.size, self.world.rank, st.batch_size, st.accumulation
        dev = st.setup.device
        for p in st.model.params.values():
            p.grad = None
        devices.reset_peak_memory(dev)
        parts = torch.zeros(3, dtype=torch.float64, device=dev)
        for i in range(A):
            count = st.shards.micro_batch_count(step, i, b, W, A)
            batch = st.shards.micro_batch(step, i, rank, b, W, A, dev)
            torch.manual_seed(seed + 1_000_003 * rank + 7_919 * i)
            sync = st.ddp is None or i == A - 1
            with (contextlib.nullcontext() if sync else st.ddp.no_sync()):
                with st.setup.autocast():
                    # A compiled model gets the divisors as tensors: a Python float that changes every step would
                    # make torch.compile specialise (recompile) on each new value.
                    mlm_den: Any = torch.tensor(float(count), device=dev) if st.setup.compile else float(count)
                    out = st.train_forward(batch, True, mlm_den, float(W * b))
                (out['loss'] * (W / A)).backward()
            zero = torch.zeros((), device=dev)
            parts += torch.stack([out['loss'].detach(), out.get('mlm_loss', zero).detach(), out.get('nsp_loss', zero).detach()]).double()
        parts = self.world.all_reduce_sum(parts) / A
        grad_norm, applied = st.optimizer.step(lr)
        loss, mlm, nsp = (float(x) for x in parts.cpu().tolist())
        return {'loss': loss, 'mlmLoss': mlm, 'nspLoss': nsp, 'gradNorm': float(grad_norm), 'applied': bool(applied), **devices.memory_bytes(dev)}

    @torch.no_grad()
    def cmd_evaluate(self, req: Dict[str, Any]) -> Dict[str, Any]:
        st = self.live()
        dev = st.setup.device
        if st.shards.splits['validation'].sequences == 0:
            raise RequestError('the shards have no validation sequences', 'prepare the shards with evalBatches ≥ 1')
        # [mlm loss sum, masked tokens, right predictions, NSP loss sum, NSP right, sequences]
        sums = torch.zeros(6, dtype=torch.float64, device=dev)
        for start, n in st.shards.validation_batches(st.batch_size, self.world.rank, self.world.size):
            batch = st.shards.batch('validation', start, n, dev)
            with st.setup.autocast():
                out = st.forward(batch, False)
            zero = torch.zeros((), device=dev)
            count = out.get('mlm_count', zero).double()
            seqs = out.get('nsp_count', zero).double()
            sums += torch.stack([
                out.get('mlm_loss', zero).double() * count, count, out.get('mlm_correct', zero).double(),
                out.get('nsp_loss', zero).double() * seqs, out.get('nsp_correct', zero).double(), seqs,
            ])
        mlm_sum, count, right, nsp_sum, nsp_right, seqs = self.world.all_reduce_sum(sums).cpu().tolist()
        mlm = mlm_sum / count if count > 0 else 0.0
        nsp = nsp_sum / seqs if seqs > 0 else 0.0
        result: Dict[str, Any] = {'loss': mlm + nsp, 'mlmLoss': mlm, 'mlmAccuracy': right / count if count > 0 else 0.0}
        if seqs > 0:
            result['nspLoss'] = nsp
            result['nspAccuracy'] = nsp_right / seqs
        return result

    @torch.no_grad()
    def cmd_probe(self, req: Dict[str, Any]) -> Dict[str, Any]:
        st = self.live()
        if self.world.rank != 0:
            return {}
        from .safetensors import save_file

        ids: List[int] = req['ids']
        T = len(ids)
        max_positions = st.spec.get('model', {}).get('maxPositions')
        if isinstance(max_positions, int) and T > max_positions:
            raise RequestError(f'probe: {T} tokens exceed model.maxPositions {max_positions}')
        n = req.get('realLength')
        n = T if n is None else int(n)
        dev = st.setup.device
        tensor = lambda xs: torch.tensor([xs], dtype=torch.int64, device=dev)  # noqa: E731
        types = req.get('tokenTypeIds') or [0] * T
        mask = torch.tensor([[1.0 if i < n else 0.0 for i in range(T)]], device=dev)
        probes = st.model.probe(tensor(ids), tensor(types), mask)
        tensors: Dict[str, torch.Tensor] = {}
        listing: List[Dict[str, Any]] = []
        for p in probes:
            probs = p.probs[0].detach().float().cpu().contiguous()
            tensors[f'attention/{p.layer}/{p.module}'] = probs
            listing.append({'layer': p.layer, 'module': p.module, 'heads': int(probs.shape[0])})
        # The conv probes derive from the grouped conv kernels alone (src/core/train/probes.ts convMixing): they ride along.
        for name, w in st.model.params.items():
            if name.endswith('/grouped/kernel'):
                tensors[f'weights/{name}'] = w.detach().float().cpu().contiguous()
        save_file(tensors, req['path'])
        return {'attention': listing}

    def cmd_save(self, req: Dict[str, Any]) -> Dict[str, Any]:
        st = self.live()
        answer = {'optimizer': {'type': st.optimizer_type, 'step': int(st.optimizer.updates)}}
        if self.world.rank != 0:
            return answer
        from .safetensors import save_file

        tensors: Dict[str, torch.Tensor] = {}
        for name, p in st.model.params.items():
            tensors[f'weights/{name}'] = p.detach().float().cpu()
        for key, t in st.optimizer.export_state().items():
            tensors[f'optimizer/{key}'] = t.detach().float().cpu()
        save_file(tensors, req['path'])
        return answer

    def read_checkpoint(self, st: State, req: Dict[str, Any]) -> Dict[str, torch.Tensor]:
        """Rank 0, before broadcasting `load`: reads and checks the file (names, shapes, optimizer type)."""
        from .safetensors import load_file

        opt = req['optimizer']
        if opt['type'] != st.optimizer_type:
            raise RequestError(f'load: the checkpoint\'s optimizer is {opt["type"]}, this run uses {st.optimizer_type}', 'resume with the spec the checkpoint was trained with')
        try:
            tensors = load_file(req['path'], 'cpu')
        except FileNotFoundError:
            raise RequestError(f'load: no checkpoint at {req["path"]}') from None
        except ValueError as e:
            raise RequestError(f'load: {e}', 'the checkpoint file is damaged: resume from an earlier checkpoint') from None
        params = st.model.params
        for kind in ('weights/', 'optimizer/m/', 'optimizer/v/'):
            have = {k[len(kind):] for k in tensors if k.startswith(kind)}
            missing = [n for n in params if n not in have]
            extra = sorted(have - set(params))
            if missing:
                raise RequestError(f'load: the checkpoint has no {kind}{missing[0]}' + (f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''), 'it was saved for another model')
            if extra:
                raise RequestError(f'load: the checkpoint has {kind}{extra[0]}, which this model does not', 'it was saved for another model')
            for n, p in params.items():
                t = tensors[kind + n]
                if tuple(t.shape) != tuple(p.shape):
                    raise RequestError(f'load: {kind}{n} has shape {list(t.shape)}, the model {list(p.shape)}', 'it was saved for another model')
                if not t.is_floating_point():
                    raise RequestError(f'load: {kind}{n} is {t.dtype}, not floating point')
        return tensors

    @torch.no_grad()
    def cmd_load(self, req: Dict[str, Any]) -> Dict[str, Any]:
        st = self.live()
        params = st.model.params
        src = self.pending if self.world.rank == 0 else None
        moments: Dict[str, torch.Tensor] = {}
        for name, p in params.items():
            if src is not None:
                p.copy_(src[f'weights/{name}'].to(p.device, p.dtype))
            self.world.broadcast_tensor_(p.data)
            for which in ('m', 'v'):
                t = src[f'optimizer/{which}/{name}'].to(p.device, torch.float32) if src is not None else torch.zeros(p.shape, dtype=torch.float32, device=p.device)
                self.world.broadcast_tensor_(t)
                moments[f'{which}/{name}'] = t
        st.optimizer.import_state(moments, int(req['optimizer']['step']), req['optimizer']['type'])
        return {}


def _protocol_stream(rank: int) -> Optional[IO[str]]:
    """Keeps the real stdout for the protocol (rank 0) and points fd 1 and sys.stdout at stderr on every rank."""
    sys.stdout.flush()
    keep: Optional[IO[str]] = None
    if rank == 0:
        keep = io.TextIOWrapper(os.fdopen(os.dup(1), 'wb', buffering=0), encoding='utf-8', write_through=True)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return keep


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python3 -m convbert_torch.worker', description='One rank of the convbert torch worker group (stdio protocol on rank 0).')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads per rank (default: torch\'s choice)')
    args = parser.parse_args(argv)
    rank = int(os.environ.get('RANK', '0') or 0)
    protocol = _protocol_stream(rank)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        world = world_from_env()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        if protocol is not None:
            protocol.write(json.dumps({'event': 'log', 'level': 'error', 'message': f'the worker group could not start: {str(e).splitlines()[0] if str(e) else type(e).__name__}'}) + '\n')
            protocol.flush()
        return 1
    worker = Worker(world, protocol)
    started = time.time()
    try:
        code = worker.serve()
    except KeyboardInterrupt:
        code = 130
    finally:
        print(f'[rank {world.rank}] worker exits after {time.time() - started:.1f} s', file=sys.stderr, flush=True)
    if code == 0:
        world.close()
    return code


if __name__ == '__main__':
    sys.exit(main())
