"""The safetensors format (https://github.com/huggingface/safetensors), written here (no PyPI): an 8-byte
little-endian header length N, N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]},
"__metadata__": {str: str}}` (padded with spaces), then the data buffer, each tensor little-endian C-order at
[begin, end) of the buffer. Files are untrusted input: every malformed header is one ValueError.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Dict, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

PathLike = Union[str, 'os.PathLike[str]']
MAX_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype → (torch dtype to load as, bytes per element). U16 loads as int32 where torch has no uint16.
_HAS_U16 = hasattr(torch, 'uint16')
DTYPES: Dict[str, Tuple[torch.dtype, int]] = {
    'F32': (torch.float32, 4),
    'F16': (torch.float16, 2),
    'BF16': (torch.bfloat16, 2),
    'I32': (torch.int32, 4),
    'I64': (torch.int64, 8),
    'U8': (torch.uint8, 1),
    'BOOL': (torch.bool, 1),
    'U16': (torch.uint16 if _HAS_U16 else torch.int32, 2),  # type: ignore[attr-defined]
}
_NAMES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int32: 'I32', torch.int64: 'I64', torch.uint8: 'U8', torch.bool: 'BOOL'}
if _HAS_U16:
    _NAMES[torch.uint16] = 'U16'  # type: ignore[attr-defined]


def _tensor_bytes(t: Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    elif _HAS_U16 and t.dtype == torch.uint16:  # type: ignore[attr-defined]
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    if sys.byteorder != 'little':
        arr = arr.byteswap()
    return arr.tobytes()


def serialize(tensors: Mapping[str, Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """The file's bytes for `tensors` (in the mapping's order)."""
    header: Dict[str, object] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError('safetensors metadata must map strings to strings')
        header['__metadata__'] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if name == '__metadata__':
            raise ValueError('a tensor cannot be named __metadata__')
        dtype = _NAMES.get(t.dtype)
        if dtype is None:
            raise ValueError(f'{name}: cannot store a {t.dtype} tensor in safetensors here ({", ".join(sorted(DTYPES))})')
        data = _tensor_bytes(t)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return len(text).to_bytes(8, 'little') + text + b''.join(blobs)


def save_file(tensors: Mapping[str, Tensor], path: PathLike, metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes `tensors` atomically: a temporary file in the same folder, fsync, rename over `path`."""
    data = serialize(tensors, metadata)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.safetensors', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_header(data: Union[bytes, bytearray, memoryview], source: str = 'safetensors data') -> Tuple[Dict[str, Tuple[str, Tuple[int, ...], int, int]], Dict[str, str], int]:
    """Validates the header: ({name: (dtype, shape, begin, end)}, metadata, start of the data buffer)."""
    def bad(why: str) -> ValueError:
        return ValueError(f'{source} is not a valid safetensors file: {why}')

    if len(data) < 8:
        raise bad(f'{len(data)} bytes, shorter than the 8-byte header length')
    n = int.from_bytes(bytes(data[:8]), 'little')
    if n > MAX_HEADER_BYTES:
        raise bad(f'header of {n} bytes (at most {MAX_HEADER_BYTES})')
    if 8 + n > len(data):
        raise bad(f'header of {n} bytes runs past the end of the file ({len(data)} bytes)')
    try:
        header = json.loads(bytes(data[8:8 + n]).decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f'header is not JSON ({e})') from None
    if not isinstance(header, dict):
        raise bad('header is not a JSON object')
    metadata = header.pop('__metadata__', {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad('__metadata__ must map strings to strings')
    size = len(data) - 8 - n
    entries: Dict[str, Tuple[str, Tuple[int, ...], int, int]] = {}
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {'dtype', 'shape', 'data_offsets'}:
            raise bad(f'{name!r}: an entry needs exactly dtype, shape and data_offsets')
        dtype, shape, offsets = e['dtype'], e['shape'], e['data_offsets']
        if dtype not in DTYPES:
            raise bad(f'{name!r}: unsupported dtype {dtype!r} ({", ".join(sorted(DTYPES))})')
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2 ** 53 for d in shape):
            raise bad(f'{name!r}: shape must be a list of whole numbers >= 0')
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise bad(f'{name!r}: data_offsets must be [begin, end]')
        begin, end = offsets
        if not 0 <= begin <= end <= size:
            raise bad(f'{name!r}: data_offsets [{begin}, {end}] outside the {size}-byte data buffer')
        count = 1
        for d in shape:
            count *= d
        if count * DTYPES[dtype][1] != end - begin:
            raise bad(f'{name!r}: {end - begin} bytes for {dtype} {shape} ({count * DTYPES[dtype][1]} expected)')
        entries[name] = (dtype, tuple(shape), begin, end)
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != position:
            raise bad(f'{name!r}: data at {begin} {"overlaps the previous tensor" if begin < position else f"leaves a gap after byte {position}"}')
        position = end
    if position != size:
        raise bad(f'the data buffer has {size - position} bytes no tensor uses')
    return entries, metadata, 8 + n


def load_bytes(data: Union[bytes, bytearray], device: Union[str, torch.device, None] = None, source: str = 'safetensors data') -> Dict[str, Tensor]:
    entries, _, start = parse_header(data, source)
    buf = memoryview(data)
    out: Dict[str, Tensor] = {}
    for name, (dtype, shape, begin, end) in entries.items():
        chunk = buf[start + begin:start + end]
        torch_dtype, width = DTYPES[dtype]
        if dtype == 'U16' and not _HAS_U16:
            t = torch.from_numpy(np.frombuffer(chunk, dtype='<u2').astype(np.int32))
        elif dtype == 'BF16':
            t = torch.from_numpy(np.frombuffer(chunk, dtype='<i2').copy()).view(torch.bfloat16)
        elif dtype == 'BOOL':
            t = torch.from_numpy(np.frombuffer(chunk, dtype=np.uint8).copy()).to(torch.bool)
        else:
            np_dtype = {'F32': '<f4', 'F16': '<f2', 'I32': '<i4', 'I64': '<i8', 'U8': 'u1', 'U16': '<u2'}[dtype]
            arr = np.frombuffer(chunk, dtype=np_dtype)
            t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder('=')) if sys.byteorder != 'little' else arr.copy())
        t = t.reshape(shape)
        out[name] = t.to(device) if device is not None else t
    return out


def load_file(path: PathLike, device: Union[str, torch.device, None] = None) -> Dict[str, Tensor]:
    """Reads every tensor of `path` (onto `device`, default CPU). ValueError for a malformed file."""
    with open(path, 'rb') as f:
        data = f.read()
    return load_bytes(data, device, source=os.fspath(path))


def load_metadata(path: PathLike) -> Dict[str, str]:
    with open(path, 'rb') as f:
        data = f.read()
    return parse_header(data, os.fspath(path))[1]
