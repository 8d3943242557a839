"""The pipe protocol between the main process and the LIBERO worker.

One message = a 4-byte big-endian length, then UTF-8 JSON. numpy arrays travel as
{"__ndarray__": base64, "dtype", "shape"}, so the two venvs never unpickle each other's objects
(their numpy versions may differ). Requests are {"op": name, ...}; replies are
{"ok": true, "result": ...} or {"ok": false, "error": text}. Imports only the stdlib and numpy:
both interpreters load this module.
"""
from __future__ import annotations

import base64
import json
import struct
from typing import BinaryIO

import numpy as np

_HEADER = struct.Struct('>I')
MAX_MESSAGE = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The peer closed the pipe or sent something that is not a message."""


def _encode(value):
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {'__ndarray__': base64.b64encode(data.tobytes()).decode('ascii'), 'dtype': data.dtype.str,
                'shape': list(data.shape)}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if '__ndarray__' in value:
            raw = base64.b64decode(value['__ndarray__'])
            return np.frombuffer(raw, dtype=np.dtype(value['dtype'])).reshape(value['shape']).copy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def send(stream: BinaryIO, message: dict) -> None:
    """Write one message and flush."""
    body = json.dumps(_encode(message)).encode('utf-8')
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def receive(stream: BinaryIO) -> dict:
    """Read one message; ProtocolError when the pipe closed or the frame is malformed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise ProtocolError('the peer closed the pipe')
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ProtocolError(f'message of {size} bytes exceeds the {MAX_MESSAGE}-byte limit')
    body = stream.read(size)
    if len(body) < size:
        raise ProtocolError('the peer closed the pipe in the middle of a message')
    try:
        message = json.loads(body.decode('utf-8'))
    except ValueError as exc:
        raise ProtocolError(f'not a JSON message: {exc}') from exc
    if not isinstance(message, dict):
        raise ProtocolError('a message must be a JSON object')
    return _decode(message)
