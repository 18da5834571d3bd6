"""Test helpers: a tiny resolved spec, a shards folder written with numpy per the contract, and a client that drives
the worker group over its stdio protocol (through `python3 -m convbert_torch.launch`)."""
from __future__ import annotations

import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, 'fixtures', 'groupbert-tiny-spec.json')

sys.path.insert(0, PYTHON_DIR)


def write_shards(folder: str, arrays: Dict[str, Dict[str, np.ndarray]], *, sequences_per_step: int, steps: int, vocab_size: int,
                 sequences_per_shard: int, batch_size: int, accumulation: int, world_size: int, eval_batches: int) -> Dict[str, Any]:
    """A shards folder per docs/torch-engine.md, written here independently of the reader (convbert_torch.data):
    `<split>/<array>.<k:05d>.bin` raw little-endian C-order rows, shard k = rows [k·R, (k+1)·R), and index.json."""
    import hashlib
    import math

    token = 'uint16' if vocab_size <= 65536 else 'int32'
    dtypes = {'input_ids': token, 'token_type_ids': 'uint8', 'attention_mask': 'uint8', 'masked_positions': 'int32',
              'masked_labels': token, 'masked_weights': 'uint8'}
    nsp = 'nsp_labels' in arrays['train']
    if nsp:
        dtypes['nsp_labels'] = 'uint8'
    files: List[Dict[str, Any]] = []
    content = hashlib.sha256()
    index: Dict[str, Any] = {'format': 'convbert-shards', 'version': 1, 'key': '0' * 64,
                             'sequenceLength': int(arrays['train']['input_ids'].shape[1]),
                             'maxPredictions': int(arrays['train']['masked_positions'].shape[1]),
                             'nsp': nsp, 'vocabSize': vocab_size, 'arrays': dtypes}
    for split in ('train', 'validation'):
        n = int(arrays[split]['input_ids'].shape[0])
        shards = math.ceil(n / sequences_per_shard)
        os.makedirs(os.path.join(folder, split), exist_ok=True)
        for name, dt in dtypes.items():
            for k in range(shards):
                rel = f'{split}/{name}.{k:05d}.bin'
                rows = arrays[split][name][k * sequences_per_shard:(k + 1) * sequences_per_shard]
                raw = np.ascontiguousarray(rows).astype(np.dtype(dt).newbyteorder('<')).tobytes()
                with open(os.path.join(folder, rel), 'wb') as f:
                    f.write(raw)
                content.update(raw)
                files.append({'path': rel, 'bytes': len(raw)})
        index[split] = {'sequences': n, 'sequencesPerShard': sequences_per_shard, 'shards': shards}
    index['validation']['fromTraining'] = False
    index.update({'contentSha256': content.hexdigest(), 'steps': steps, 'sequencesPerStep': sequences_per_step,
                  'batchSize': batch_size, 'gradientAccumulation': accumulation, 'worldSize': world_size,
                  'evalBatches': eval_batches, 'files': files, 'createdAt': '1970-01-01T00:00:00Z', 'createdBy': 'python/tests'})
    with open(os.path.join(folder, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return index


def tiny_spec(batch_size: int = 4, accumulation: int = 2, **training: Any) -> Dict[str, Any]:
    """The resolved groupbert-tiny spec of the fixture (vocabulary 96, hidden 32, S = 16, P = 4), with overrides.

    The fixture is `resolveSpec({extends: 'groupbert-tiny', model: {vocabSize: 96, hiddenSize: 32, numHeads: 2,
    intermediateSize: 64, maxPositions: 32}, training: {sequenceLength: 16, maxPredictions: 4, batchSize: 4,
    gradientAccumulation: 2, steps: 4, evalBatches: 2}})` (src/core/spec/resolve.ts), written once as JSON."""
    with open(FIXTURE) as f:
        spec = json.load(f)
    spec = copy.deepcopy(spec)
    spec['training']['batchSize'] = batch_size
    spec['training']['gradientAccumulation'] = accumulation
    spec['training'].update(training)
    return spec


def make_arrays(n: int, S: int, P: int, vocab: int, nsp: bool, seed: int) -> Dict[str, np.ndarray]:
    """Random batches shaped like the TS pipeline's: [CLS] … [SEP] … [SEP] with padding, masked positions inside the
    real tokens (weight 1) and padded predictions (position 0, label 0, weight 0)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, S), np.int64)
    types = np.zeros((n, S), np.int64)
    mask = np.zeros((n, S), np.int64)
    pos = np.zeros((n, P), np.int64)
    labels = np.zeros((n, P), np.int64)
    weights = np.zeros((n, P), np.int64)
    for r in range(n):
        real = int(rng.integers(6, S + 1))
        ids[r, :real] = rng.integers(5, vocab, size=real)
        ids[r, 0], ids[r, real - 1] = 2, 3
        mask[r, :real] = 1
        cut = real // 2
        types[r, cut:real] = 1
        k = int(rng.integers(0, min(P, real - 2) + 1))  # some rows have no prediction at all
        chosen = np.sort(rng.choice(np.arange(1, real - 1), size=k, replace=False))
        pos[r, :k] = chosen
        labels[r, :k] = ids[r, chosen]
        weights[r, :k] = 1
        ids[r, chosen] = 4  # [MASK]
    out = {'input_ids': ids, 'token_type_ids': types, 'attention_mask': mask, 'masked_positions': pos, 'masked_labels': labels, 'masked_weights': weights}
    if nsp:
        out['nsp_labels'] = rng.integers(0, 2, size=n)
    return out


def make_shards(folder: str, spec: Dict[str, Any], steps: int, per_step: int, validation: int, per_shard: int = 7, seed: int = 1) -> Dict[str, Dict[str, np.ndarray]]:
    """Writes a shards folder for `steps` steps of `per_step` sequences (shards of `per_shard` rows, so reads cross
    shard boundaries) and `validation` validation sequences; returns the arrays written."""
    t, m = spec['training'], spec['model']
    nsp = bool(m['heads']['nsp'])
    arrays = {
        'train': make_arrays(steps * per_step, t['sequenceLength'], t['maxPredictions'], m['vocabSize'], nsp, seed),
        'validation': make_arrays(validation, t['sequenceLength'], t['maxPredictions'], m['vocabSize'], nsp, seed + 1000),
    }
    write_shards(folder, arrays, sequences_per_step=per_step, steps=steps, vocab_size=m['vocabSize'], sequences_per_shard=per_shard,
                 batch_size=t['batchSize'], accumulation=t['gradientAccumulation'], world_size=1, eval_batches=t.get('evalBatches', 1))
    return arrays


def torch_python() -> str:
    return os.environ.get('CONVBERT_PYTHON') or sys.executable


class Group:
    """The worker group behind the launcher, spoken to over stdio."""

    def __init__(self, nproc: int = 1, launcher: str = 'spawn', extra: Optional[List[str]] = None, timeout: float = 60.0) -> None:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([PYTHON_DIR, *[p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]])
        env['PYTHONUNBUFFERED'] = '1'
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        env['OMP_NUM_THREADS'] = '1'
        env.setdefault('CONVBERT_DIST_TIMEOUT', '20')
        cmd = [torch_python(), '-m', 'convbert_torch.launch', '--nproc-per-node', str(nproc), '--launcher', launcher, *(extra or []), '--', '--threads', '1']
        self.stderr_lines: List[str] = []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.lines: 'queue.Queue[Optional[str]]' = queue.Queue()
        self.events: List[Dict[str, Any]] = []
        self.timeout = timeout
        self.next_id = 0
        self.threads = [threading.Thread(target=self._pump, daemon=True), threading.Thread(target=self._pump_err, daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def stderr(self) -> str:
        return ''.join(self.stderr_lines[-60:])

    def read(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next protocol line as JSON (None at end of output). Every stdout line must be JSON."""
        line = self.lines.get(timeout=timeout or self.timeout)
        if line is None:
            return None
        return json.loads(line)

    def send_raw(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def request(self, cmd: str, **fields: Any) -> Dict[str, Any]:
        self.next_id += 1
        rid = self.next_id
        self.send_raw(json.dumps({'id': rid, 'cmd': cmd, **fields}) + '\n')
        return self.answer(rid)

    def answer(self, rid: Any) -> Dict[str, Any]:
        while True:
            msg = self.read()
            if msg is None:
                raise AssertionError(f'the worker group exited (code {self.proc.wait()}) before answering {rid}:\n{self.stderr()}')
            if 'event' in msg:
                self.events.append(msg)
                continue
            if msg.get('id') != rid:
                raise AssertionError(f'answer for {msg.get("id")} while waiting for {rid}: {msg}')
            return msg

    def ok(self, cmd: str, **fields: Any) -> Dict[str, Any]:
        out = self.request(cmd, **fields)
        if not out.get('ok'):
            raise AssertionError(f'{cmd} failed: {out}\n{self.stderr()}')
        return out

    def rank_pids(self) -> Dict[int, int]:
        """The ranks' process ids by RANK (children of the launcher, from /proc)."""
        out: Dict[int, int] = {}
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                with open(f'/proc/{entry}/environ', 'rb') as f:
                    env = dict(kv.split(b'=', 1) for kv in f.read().split(b'\0') if b'=' in kv)
                out[int(env[b'RANK'])] = int(entry)
            except (OSError, ValueError, KeyError, IndexError):
                continue
        return out

    def close(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        self._close_pipes()
        return self.proc.returncode

    def _close_pipes(self) -> None:
        for t in self.threads:  # the readers end at the pipes' end of file (every writer has exited)
            t.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except (OSError, ValueError):
                pass

    def wait(self, timeout: float) -> int:
        start = time.time()
        while self.proc.poll() is None:
            if time.time() - start > timeout:
                raise AssertionError(f'the launcher did not exit within {timeout} s')
            time.sleep(0.05)
        self._close_pipes()
        return self.proc.returncode
