"""The shards `convbert prepare` writes (docs/torch-engine.md, "Shards"), memory-mapped read-only.

`Shards(folder)` validates `index.json` (untrusted input: every field is checked, and any problem is one
`ShardError` with a hint, never a traceback) and the files' sizes, then maps the `.bin` files with numpy.memmap.
Rows are addressed as one stream per split; a read that crosses a shard boundary is stitched.

Step `t` consumes rows `[t·G, (t+1)·G)`, `G = b·A·W`; micro-batch `i` of rank `r` is rows
`t·G + i·(W·b) + r·b … + b` (`micro_batch`). The validation split is read in batches of `b` (`validation_batches`).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

FORMAT = 'convbert-shards'
VERSION = 1
SPLITS = ('train', 'validation')
TOKEN_DTYPES = ('uint16', 'int32')
#: Arrays, their fixed dtype (None: the token dtype) and whether a row is a vector of S (`seq`), P (`pred`) or a scalar.
ARRAYS: Dict[str, Tuple[Optional[str], str]] = {
    'input_ids': (None, 'seq'),
    'token_type_ids': ('uint8', 'seq'),
    'attention_mask': ('uint8', 'seq'),
    'masked_positions': ('int32', 'pred'),
    'masked_labels': (None, 'pred'),
    'masked_weights': ('uint8', 'pred'),
    'nsp_labels': ('uint8', 'scalar'),
}
#: The tensors handed to the model: integer arrays as int64, masks as float32.
FLOAT_ARRAYS = ('attention_mask', 'masked_weights')

HINT = 'run `convbert prepare <spec> --out <folder>` again to rewrite the shards'


class ShardError(Exception):
    def __init__(self, message: str, hint: str = HINT) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class SplitInfo:
    name: str
    sequences: int
    per_shard: int
    shards: int


def _int(obj: Dict[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ShardError(f'index.json: {where}{key} must be an integer ≥ {minimum}, got {json.dumps(value)[:40]}')
    return value


def _record(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ShardError(f'index.json: {where} must be an object')
    return value


class Shards:
    """A validated, memory-mapped shards folder."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)
        path = os.path.join(self.folder, 'index.json')
        try:
            with open(path, 'rb') as f:
                raw = f.read()
        except FileNotFoundError:
            raise ShardError(f'no shards at {self.folder}: index.json is missing', 'run `convbert prepare <spec> --out <folder>` first') from None
        except OSError as e:
            raise ShardError(f'cannot read {path}: {e.strerror or e}', 'check the folder and its permissions') from None
        try:
            index = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as e:
            raise ShardError(f'{path} is not JSON ({str(e)[:80]})') from None
        index = _record(index, 'the top level')
        if index.get('format') != FORMAT:
            raise ShardError(f'{path} is not a shards index (format {json.dumps(index.get("format"))[:40]}, expected "{FORMAT}")')
        if index.get('version') != VERSION:
            raise ShardError(f'{path} has version {json.dumps(index.get("version"))[:20]}; this worker reads version {VERSION}', 'run `convbert prepare` with this version of convbert')
        self.index = index
        self.sequence_length = _int(index, 'sequenceLength', '', 1)
        self.max_predictions = _int(index, 'maxPredictions', '', 1)
        self.vocab_size = _int(index, 'vocabSize', '', 1)
        self.sequences_per_step = _int(index, 'sequencesPerStep', '', 1)
        self.steps = _int(index, 'steps', '', 0)
        nsp = index.get('nsp')
        if not isinstance(nsp, bool):
            raise ShardError('index.json: nsp must be true or false')
        self.nsp = nsp
        self.dtypes = self._check_dtypes(_record(index.get('arrays'), 'arrays'))
        self.splits = {name: self._check_split(name, _record(index.get(name), name)) for name in SPLITS}
        self.maps: Dict[str, Dict[str, List[np.ndarray]]] = {}
        self._check_files(index.get('files'))
        for split in SPLITS:
            self.maps[split] = {a: [self._map(split, a, k) for k in range(self.splits[split].shards)] for a in self.dtypes}

    # -- validation ---------------------------------------------------------------------------------------------
    def _check_dtypes(self, arrays: Dict[str, Any]) -> Dict[str, np.dtype]:
        token = arrays.get('input_ids')
        if token not in TOKEN_DTYPES:
            raise ShardError(f'index.json: arrays.input_ids must be one of {", ".join(TOKEN_DTYPES)}, got {json.dumps(token)[:30]}')
        if token == 'uint16' and self.vocab_size > 65536:
            raise ShardError(f'index.json: uint16 token ids cannot hold a vocabulary of {self.vocab_size}')
        wanted = [a for a in ARRAYS if a != 'nsp_labels' or self.nsp]
        extra = sorted(set(arrays) - set(wanted))
        if extra:
            raise ShardError(f'index.json: unexpected arrays {", ".join(extra)}' + (' (nsp is false)' if 'nsp_labels' in extra else ''))
        out: Dict[str, np.dtype] = {}
        for name in wanted:
            fixed = ARRAYS[name][0] or token
            if arrays.get(name) != fixed:
                raise ShardError(f'index.json: arrays.{name} must be "{fixed}", got {json.dumps(arrays.get(name))[:30]}')
            out[name] = np.dtype(fixed).newbyteorder('<')
        return out

    def _check_split(self, name: str, obj: Dict[str, Any]) -> SplitInfo:
        sequences = _int(obj, 'sequences', f'{name}.', 0)
        per_shard = _int(obj, 'sequencesPerShard', f'{name}.', 1)
        shards = _int(obj, 'shards', f'{name}.', 0)
        expected = math.ceil(sequences / per_shard)
        if shards != expected:
            raise ShardError(f'index.json: {name} has {sequences} sequences at {per_shard} per shard, so {expected} shards, but says {shards}')
        return SplitInfo(name, sequences, per_shard, shards)

    def row_shape(self, array: str) -> Tuple[int, ...]:
        kind = ARRAYS[array][1]
        return (self.sequence_length,) if kind == 'seq' else (self.max_predictions,) if kind == 'pred' else ()

    def shard_rows(self, split: str, k: int) -> int:
        s = self.splits[split]
        return min(s.per_shard, s.sequences - k * s.per_shard)

    @staticmethod
    def file_name(split: str, array: str, k: int) -> str:
        return f'{split}/{array}.{k:05d}.bin'

    def _check_files(self, files: Any) -> None:
        if not isinstance(files, list):
            raise ShardError('index.json: files must be a list')
        listed: Dict[str, int] = {}
        for i, entry in enumerate(files):
            entry = _record(entry, f'files[{i}]')
            rel = entry.get('path')
            if not isinstance(rel, str) or not rel or os.path.isabs(rel) or '..' in rel.replace('\\', '/').split('/'):
                raise ShardError(f'index.json: files[{i}].path must be a relative path inside the folder, got {json.dumps(rel)[:60]}')
            listed[rel] = _int(entry, 'bytes', f'files[{i}].', 0)
        expected: Dict[str, int] = {}
        for split in SPLITS:
            for array, dtype in self.dtypes.items():
                row = int(np.prod(self.row_shape(array), dtype=np.int64)) * dtype.itemsize
                for k in range(self.splits[split].shards):
                    expected[self.file_name(split, array, k)] = self.shard_rows(split, k) * row
        missing = sorted(set(expected) - set(listed))
        if missing:
            raise ShardError(f'index.json does not list {missing[0]}' + (f' and {len(missing) - 1} more files' if len(missing) > 1 else ''))
        for rel, size in expected.items():
            if listed[rel] != size:
                raise ShardError(f'index.json: {rel} should have {size} bytes for its shape, the index says {listed[rel]}')
            full = os.path.join(self.folder, rel)
            try:
                actual = os.path.getsize(full)
            except OSError:
                raise ShardError(f'shard file {rel} is missing from {self.folder}') from None
            if actual != size:
                raise ShardError(f'shard file {rel} has {actual} bytes, the index says {size}: the shards are incomplete or were changed')

    def _map(self, split: str, array: str, k: int) -> np.ndarray:
        n = self.shard_rows(split, k)
        shape = (n,) + self.row_shape(array)
        if n == 0:
            return np.zeros(shape, dtype=self.dtypes[array])
        return np.memmap(os.path.join(self.folder, self.file_name(split, array, k)), dtype=self.dtypes[array], mode='r', shape=shape)

    def check_spec(self, spec: Dict[str, Any], batch_size: int, accumulation: int, world_size: int) -> None:
        """The shards must be the ones for this spec and this world: shapes, NSP, vocabulary, sequences per step."""
        model = spec.get('model', {})
        training = spec.get('training', {})
        prepare = 'run `convbert prepare` for this spec and world size'
        if training.get('sequenceLength') != self.sequence_length:
            raise ShardError(f'the shards have sequence length {self.sequence_length}, the spec {training.get("sequenceLength")}', prepare)
        if training.get('maxPredictions') != self.max_predictions:
            raise ShardError(f'the shards have {self.max_predictions} predictions per sequence, the spec {training.get("maxPredictions")}', prepare)
        vocab = model.get('vocabSize')
        if isinstance(vocab, int) and self.vocab_size > vocab:
            raise ShardError(f'the shards use a vocabulary of {self.vocab_size}, larger than the model\'s {vocab}', prepare)
        heads = model.get('heads', {})
        if heads.get('nsp') and not self.nsp:
            raise ShardError('the model has an NSP head but the shards have no NSP labels', prepare)
        per_step = batch_size * accumulation * world_size
        if per_step != self.sequences_per_step:
            raise ShardError(
                f'the shards were prepared for {self.sequences_per_step} sequences per step; this run takes '
                f'{batch_size}×{accumulation}×{world_size} = {per_step} (batch × accumulation × world size)',
                prepare,
            )

    # -- reading ------------------------------------------------------------------------------------------------
    def rows(self, split: str, array: str, start: int, count: int) -> np.ndarray:
        """Rows [start, start+count) of one array of a split, as a (copied) numpy array."""
        s = self.splits[split]
        if start < 0 or count < 0 or start + count > s.sequences:
            raise ShardError(
                f'rows {start}…{start + count} are past the {s.sequences} sequences of the {split} shards',
                'the run is longer than the shards were prepared for: run `convbert prepare` with this step count',
            )
        parts: List[np.ndarray] = []
        pos, end = start, start + count
        while pos < end:
            k = pos // s.per_shard
            lo = pos - k * s.per_shard
            hi = min(s.per_shard, lo + end - pos)
            parts.append(np.asarray(self.maps[split][array][k][lo:hi]))
            pos += hi - lo
        if not parts:
            return np.zeros((0,) + self.row_shape(array), dtype=self.dtypes[array])
        return np.concatenate(parts, axis=0) if len(parts) > 1 else np.array(parts[0])

    def batch(self, split: str, start: int, count: int, device: torch.device) -> Dict[str, torch.Tensor]:
        """Rows [start, start+count) of every array as tensors on `device`: int64 ids/positions/labels, float32 masks."""
        out: Dict[str, torch.Tensor] = {}
        for array in self.dtypes:
            a = self.rows(split, array, start, count)
            dtype = np.float32 if array in FLOAT_ARRAYS else np.int64
            t = torch.from_numpy(a.astype(dtype))
            out[array] = t.to(device, non_blocking=device.type == 'cuda') if device.type != 'cpu' else t
        return out

    def micro_batch_start(self, step: int, micro: int, rank: int, batch_size: int, world_size: int, accumulation: int) -> int:
        G = batch_size * accumulation * world_size
        return step * G + micro * world_size * batch_size + rank * batch_size

    def micro_batch(self, step: int, micro: int, rank: int, batch_size: int, world_size: int, accumulation: int, device: torch.device) -> Dict[str, torch.Tensor]:
        return self.batch('train', self.micro_batch_start(step, micro, rank, batch_size, world_size, accumulation), batch_size, device)

    def micro_batch_count(self, step: int, micro: int, batch_size: int, world_size: int, accumulation: int) -> int:
        """The real masked tokens of micro-batch `micro` of `step` over all ranks (its W·b rows): the MLM denominator."""
        start = self.micro_batch_start(step, micro, 0, batch_size, world_size, accumulation)
        return int(self.rows('train', 'masked_weights', start, world_size * batch_size).astype(np.int64).sum())

    def validation_batches(self, batch_size: int, rank: int = 0, world_size: int = 1) -> Iterator[Tuple[int, int]]:
        """(start, count) of the validation batches of `batch_size` rows this rank evaluates (batch j goes to rank j mod W)."""
        n = self.splits['validation'].sequences
        for j, start in enumerate(range(0, n, batch_size)):
            if j % world_size == rank:
                yield start, min(batch_size, n - start)

