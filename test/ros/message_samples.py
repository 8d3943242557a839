"""Deterministic, non-default instances of any ROS message type, built by introspection.

Used by cross-process tests: both sides build the same sample from the type alone, so a
field that a round trip loses or corrupts shows up as a difference.
"""
from __future__ import annotations

import importlib

from rosidl_parser import definition as d

_INT_TYPES = {'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'octet', 'char'}
_FLOAT_TYPES = {'float', 'double', 'long double'}


def message_class(namespaced: d.NamespacedType):
    module = importlib.import_module('.'.join(namespaced.namespaces))
    return getattr(module, namespaced.name)


def _value(slot, seed: int):
    if isinstance(slot, d.BasicType):
        if slot.typename == 'boolean':
            return seed % 2 == 1
        if slot.typename in _INT_TYPES:
            return (seed * 7 + 3) % 100
        if slot.typename in _FLOAT_TYPES:
            return (seed % 50) + 0.25  # exactly representable in float32
        raise TypeError(f'unhandled basic type {slot.typename}')
    if isinstance(slot, (d.UnboundedString, d.BoundedString)):
        return f'text-{seed}'
    if isinstance(slot, d.NamespacedType):
        return sample(message_class(slot), seed)
    if isinstance(slot, d.Array):
        return [_value(slot.value_type, seed + i) for i in range(slot.size)]
    if isinstance(slot, (d.UnboundedSequence, d.BoundedSequence)):
        return [_value(slot.value_type, seed + i) for i in range(2)]
    raise TypeError(f'unhandled slot type {slot!r}')


def sample(cls, seed: int = 1):
    msg = cls()
    for i, (name, slot) in enumerate(zip(msg.get_fields_and_field_types(), cls.SLOT_TYPES)):
        setattr(msg, name, _value(slot, seed + 11 * i))
    return msg


def as_plain(msg):
    """Nested plain Python values, for equality that ignores array types."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return {name: as_plain(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple)) or hasattr(msg, 'tolist'):
        return [as_plain(v) for v in (msg.tolist() if hasattr(msg, 'tolist') else msg)]
    return msg
