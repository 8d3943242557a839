"""openpi's wire format: msgpack with numpy arrays as tagged maps (openpi_client.msgpack_numpy's convention).

Written from the format, not from openpi's code, so it runs beside numpy 2 (openpi-client pins numpy<2).
The format, as openpi's client and server exchange it:

  an ndarray   -> map {b"__ndarray__": True, b"data": <raw bytes, C order>, b"dtype": <dtype.str, e.g. "|u1",
                      "<f4">, b"shape": <array of ints>}
  a numpy scalar -> map {b"__npgeneric__": True, b"data": <the Python value>, b"dtype": <dtype.str>}
  everything else: plain msgpack (str as str, bytes as bin; tuples arrive as lists).

Object, void and complex dtypes are refused on both ends (they could not be rebuilt safely). Decoding
checks that the bytes match dtype and shape before building an array, and copies it, so a reply is
writable and owns its memory (openpi's own decoder returns a read-only view of the message).
"""
from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

NDARRAY = b'__ndarray__'
NPGENERIC = b'__npgeneric__'
_REFUSED_KINDS = ('V', 'O', 'c')
# A shape beyond this many dimensions or elements is not an observation or an action chunk.
MAX_DIMS = 8


class WireError(ValueError):
    """A message that is not valid openpi msgpack."""


def _encode(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in _REFUSED_KINDS:
        raise WireError(f'dtype {value.dtype} cannot be sent (object, void and complex arrays are refused)')
    if isinstance(value, np.ndarray):
        # tobytes() is C order whatever the array's layout (a transposed view included).
        return {NDARRAY: True, b'data': value.tobytes(), b'dtype': value.dtype.str, b'shape': list(value.shape)}
    if isinstance(value, np.generic):
        return {NPGENERIC: True, b'data': value.item(), b'dtype': value.dtype.str}
    raise TypeError(f'cannot send a {type(value).__name__} over the openpi wire')


def _dtype(text: Any) -> np.dtype:
    if isinstance(text, bytes):
        text = text.decode('ascii', 'replace')
    try:
        dtype = np.dtype(str(text))
    except TypeError as exc:
        raise WireError(f'unknown dtype {text!r}') from exc
    if dtype.kind in _REFUSED_KINDS:
        raise WireError(f'dtype {dtype} is refused')
    return dtype


def _decode(obj: dict) -> Any:
    if obj.get(NDARRAY):
        dtype = _dtype(obj.get(b'dtype'))
        shape = obj.get(b'shape')
        data = obj.get(b'data')
        if not isinstance(data, (bytes, bytearray)) or not isinstance(shape, (list, tuple)) or len(shape) > MAX_DIMS \
                or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError('an __ndarray__ map needs bytes data and a list of non-negative ints as shape')
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != len(data):
            raise WireError(f'an array of shape {tuple(shape)} and dtype {dtype} needs {count * dtype.itemsize} '
                            f'bytes, got {len(data)}')
        return np.frombuffer(data, dtype=dtype, count=count).reshape(shape).copy()
    if obj.get(NPGENERIC):
        dtype = _dtype(obj.get(b'dtype'))
        return dtype.type(obj.get(b'data'))
    return obj


def packb(value: Any) -> bytes:
    """Return the openpi msgpack bytes of a (nested) value with numpy arrays."""
    return msgpack.packb(value, default=_encode)


def unpackb(data: bytes) -> Any:
    """Return the value of openpi msgpack bytes; WireError when they are not valid."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError(f'an openpi message is binary, got {type(data).__name__}')
    try:
        return msgpack.unpackb(data, object_hook=_decode)
    except WireError:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise WireError(f'not valid msgpack: {exc}') from None
