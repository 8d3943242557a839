"""JSON with numpy arrays, in the json-numpy convention that OpenVLA's REST deploy server speaks.

An array travels as {"__numpy__": <base64 of its raw bytes>, "dtype": <numpy dtype descr>,
"shape": [...]}. Encoding is json_numpy's own; decoding goes through decode_array, which
checks sizes and refuses object dtypes before allocating (the server decodes untrusted input).
"""
from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

NUMPY_KEY = '__numpy__'
# Refuse absurd payloads before allocating: a 4K RGB frame is ~25 MB.
MAX_ARRAY_BYTES = 64 * 1024 * 1024


def encode_array(array: np.ndarray) -> dict:
    """Return the JSON-ready dict of one numpy array."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise TypeError('arrays of Python objects cannot be sent as JSON')
    return {NUMPY_KEY: base64.b64encode(array.tobytes()).decode('ascii'),
            'dtype': np.lib.format.dtype_to_descr(array.dtype), 'shape': list(array.shape)}


def decode_array(payload: dict) -> np.ndarray:
    """Return the numpy array of an encoded dict; ValueError on a malformed one."""
    try:
        dtype = np.dtype(np.lib.format.descr_to_dtype(payload['dtype']))
        shape = tuple(int(n) for n in payload['shape'])
        raw = base64.b64decode(payload[NUMPY_KEY], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'malformed numpy payload: {exc}') from exc
    if dtype.hasobject:
        raise ValueError('numpy payload with an object dtype refused')
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if expected > MAX_ARRAY_BYTES or len(raw) != expected:
        raise ValueError(f'numpy payload has {len(raw)} bytes, shape {shape} {dtype} needs {expected}')
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if shape == () else array  # a numpy scalar, as json_numpy decodes it


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if NUMPY_KEY in value:
            return decode_array(value)
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Return JSON text of value with every numpy array (and numpy scalar) encoded by json_numpy."""
    import json_numpy
    return json_numpy.dumps(value)


def loads(text: str | bytes) -> Any:
    """Return the value of JSON text with every encoded array decoded.

    A payload "double-encoded" as {"encoded": "<json text>"} (what OpenVLA's server accepts
    from clients without json_numpy) is unwrapped.
    """
    value = _from_json(json.loads(text))
    if isinstance(value, dict) and set(value) == {'encoded'} and isinstance(value['encoded'], str):
        return loads(value['encoded'])
    return value
