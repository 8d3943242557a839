"""Rewrite a damaged bag (no metadata.yaml, cut short, corrupt chunks) as a complete one."""
from __future__ import annotations

from pathlib import Path

from sarl_ros.recording.bag.source import read_raw
from sarl_ros.recording.bag.writer import DEFAULT_STORAGE, BagWriter
from sarl_ros.recording.bag.decode import Decoder
from sarl_ros.recording.bag.message_types import IMAGE_TYPE, definition_and_hash, own_typestore


def repair(path: str | Path, out: str | Path, storage: str = DEFAULT_STORAGE) -> tuple[int, list[str]]:
    """Copy every readable message of `path` into a new bag at `out`; return (messages, problems)."""
    raw = read_raw(path)
    decoder = Decoder()
    own = own_typestore()
    written = 0
    with BagWriter(out, storage, custom_data={'sarl_ros.repaired_from': str(path)}) as writer:
        topics = {}
        for connection in sorted(raw.connections.values(), key=lambda c: c.id):
            if connection.topic in topics:
                continue
            msgdef, digest = connection.msgdef, connection.digest
            if not msgdef and connection.msgtype in own.fielddefs:
                msgdef, digest = definition_and_hash(connection.msgtype)
            elif msgdef and not digest:
                store = decoder.store_for(connection)
                digest = store.hash_rihs01(connection.msgtype) if store is not None else ''
            if not msgdef or not digest:
                decoder.report(f'{connection.topic}: no definition for {connection.msgtype}; left out of the repair')
                continue
            writer.add_topic(connection.topic, connection.msgtype, reliable=connection.msgtype != IMAGE_TYPE,
                             msgdef=msgdef, rihs01=digest)
            topics[connection.topic] = connection
        for connection, stamp, data in raw.messages:
            if connection.topic in topics:
                writer.write(connection.topic, stamp, data)
                written += 1
    return written, raw.problems + decoder.problems
