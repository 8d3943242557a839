"""Deserialize recorded CDR with the definitions the bag itself carries.

A bag from another machine, or from another version of sarl_ros, may hold definitions that
differ from this checkout's msg/*.msg. Each distinct definition gets its own typestore, so
its messages decode as they were written; differences from ours are reported (fields this
version does not know are ignored, fields the bag lacks take their defaults).
"""
from __future__ import annotations

from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

from sarl_ros.recording.bag.message_types import own_typestore
from sarl_ros.recording.bag.salvage import RawConnection


class DecodeError(ValueError):
    """A message cannot be deserialized."""


class Decoder:
    """Deserialize messages of many connections; collect problems once per cause."""

    def __init__(self):
        self.own = own_typestore()
        self._stores: dict[tuple[str, str], object] = {}
        self.problems: list[str] = []
        self._reported: set[str] = set()

    def report(self, text: str):
        """Add a problem unless it was reported already."""
        if text not in self._reported:
            self._reported.add(text)
            self.problems.append(text)

    def store_for(self, connection: RawConnection):
        """Return the typestore decoding this connection, or None when the type is unknown."""
        key = (connection.msgtype, connection.msgdef)
        if key in self._stores:
            return self._stores[key]
        store = None
        if not connection.msgdef:
            if connection.msgtype in self.own.fielddefs:
                store = self.own  # older bags carry no definitions: assume ours
            else:
                self.report(f'{connection.topic}: type {connection.msgtype} has no definition in the bag '
                            'and is not known here; its messages are skipped')
        else:
            try:
                store = _store_from_definition(connection)
            except Exception as exc:  # noqa: BLE001 - the parsers raise several types
                self.report(f'{connection.topic}: the bag\'s definition of {connection.msgtype} cannot be parsed '
                            f'({exc}); using this version\'s definition')
                store = self.own if connection.msgtype in self.own.fielddefs else None
        if store is not None and store is not self.own:
            for text in definition_differences(store, self.own, connection.msgtype):
                self.report(f'{connection.topic}: {text}')
        self._stores[key] = store
        return store

    def decode(self, connection: RawConnection, data: bytes):
        """Return the message as a rosbags dataclass; DecodeError when it cannot be decoded."""
        store = self.store_for(connection)
        if store is None:
            raise DecodeError(f'no definition for {connection.msgtype}')
        try:
            return store.deserialize_cdr(data, connection.msgtype)
        except Exception as exc:  # noqa: BLE001 - corrupt bytes fail in many ways
            raise DecodeError(f'{connection.topic}: a message of {len(data)} bytes cannot be decoded '
                              f'({type(exc).__name__}: {exc})') from exc


def _store_from_definition(connection: RawConnection):
    store = get_typestore(Stores.EMPTY)
    if connection.msgdef_format == 'ros2idl':
        sep = '=' * 80 + '\n'
        types = {}
        parts = connection.msgdef.split(sep)[1:] if connection.msgdef.startswith(sep) else [connection.msgdef]
        for part in parts:
            types.update(get_types_from_idl(part.split('\n', 1)[1] if part.startswith('IDL: ') else part))
    else:
        types = get_types_from_msg(connection.msgdef, connection.msgtype)
    store.register(types)
    return store


def definition_differences(theirs, ours, msgtype: str, prefix: str = '') -> list[str]:
    """Describe how a type's fields in `theirs` differ from `ours`, nested types included."""
    if msgtype not in ours.fielddefs:
        return []
    their_fields = dict(theirs.fielddefs[msgtype][1])
    our_fields = dict(ours.fielddefs[msgtype][1])
    name = msgtype.replace('/msg/', '/')
    out = []
    extra = [f for f in their_fields if f not in our_fields]
    missing = [f for f in our_fields if f not in their_fields]
    if extra:
        out.append(f'the bag\'s {name} is newer: it has field(s) {", ".join(extra)} that this version does not '
                   'know (ignored)')
    if missing:
        out.append(f'the bag\'s {name} lacks field(s) {", ".join(missing)} (defaults used)')
    changed = [f for f, desc in their_fields.items()
               if f in our_fields and not _nested_type(desc) and desc != our_fields[f]]
    if changed:
        out.append(f'the bag\'s {name} stores field(s) {", ".join(changed)} with another type (converted)')
    for field, desc in their_fields.items():
        if field in our_fields:
            nested = _nested_type(desc)
            if nested and nested in theirs.fielddefs:
                out.extend(definition_differences(theirs, ours, nested))
    return out


def _nested_type(desc) -> str | None:
    # FieldDesc: (NODETYPE.NAME, name) or (NODETYPE.ARRAY/SEQUENCE, ((NODETYPE.NAME, name), size)).
    kind, detail = desc
    if kind.name == 'NAME':
        return detail
    if kind.name in ('ARRAY', 'SEQUENCE') and detail[0][0].name == 'NAME':
        return detail[0][1]
    return None
