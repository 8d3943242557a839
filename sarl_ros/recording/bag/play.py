"""Republish a bag onto the ROS topics, at the recorded speed or scaled (needs rclpy).

Messages go out as the recorded CDR bytes, paced by their recorded receive times divided by
`rate`. A SARL message whose definition in the bag differs from this version's (a bag from
another machine) is converted field by field first, so this version's subscribers read it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from sarl_ros.recording.bag.source import BagError, read_raw
from sarl_ros.recording.bag.decode import Decoder
from sarl_ros.recording.bag.message_types import IMAGE_TYPE, definition_and_hash, own_typestore
from sarl_ros.recording.bag.salvage import RawConnection

Progress = Callable[[int, int, str], None]


def open_stream(path: Path, topics: set[str] | None, problems: list[str]):
    """Return (connections, iterator of (connection, time ns, CDR)): lazy for an intact bag, recovered otherwise."""
    from rosbags.rosbag2 import Reader

    try:
        reader = Reader(path)
        reader.open()
    except Exception:  # noqa: BLE001 - damaged: fall back to reading record by record
        raw = read_raw(path, topics)
        problems.extend(raw.problems)
        wanted = [c for c in raw.connections.values() if topics is None or c.topic in topics]
        return wanted, (m for m in raw.messages)
    connections = {}
    for c in reader.connections:
        fmt = {'MSG': 'ros2msg', 'IDL': 'ros2idl'}.get(c.msgdef.format.name, '')
        connections[c.id] = RawConnection(c.id, c.topic, c.msgtype, c.msgdef.data if fmt else '', fmt, c.digest or '')
    wanted = [c for c in reader.connections if topics is None or c.topic in topics]

    def stream():
        try:
            if wanted:  # rosbags reads every topic when given none
                for c, stamp, data in reader.messages(wanted):
                    yield connections[c.id], stamp, bytes(data)
        except Exception as exc:  # noqa: BLE001 - a damaged chunk ends playback, with a reason
            problems.append(f'{path}: playback stopped at a damaged part of the bag ({exc})')
        finally:
            reader.close()
    return [connections[c.id] for c in wanted], stream()


def message_count(path: Path, topics: set[str] | None) -> int:
    """Return how many messages playback will publish (0 when the bag index cannot tell)."""
    from rosbags.rosbag2 import Reader
    try:
        with Reader(path) as reader:
            return sum(c.msgcount for c in reader.connections if topics is None or c.topic in topics)
    except Exception:  # noqa: BLE001 - damaged bags have no reliable count
        return 0


class _Converter:
    """Re-serialize messages whose recorded definition differs from this version's."""

    def __init__(self):
        self.decoder = Decoder()
        self.own = own_typestore()
        self._needed: dict[tuple[str, str], bool] = {}

    def needed(self, connection: RawConnection) -> bool:
        key = (connection.msgtype, connection.digest)
        if key not in self._needed:
            ours = definition_and_hash(connection.msgtype)[1] if connection.msgtype in self.own.fielddefs else ''
            self._needed[key] = bool(connection.msgdef and connection.digest and ours and connection.digest != ours)
        return self._needed[key]

    def convert(self, connection: RawConnection, data: bytes) -> bytes:
        message = self.decoder.decode(connection, data)
        return bytes(self.own.serialize_cdr(rebuild(message, connection.msgtype, self.own), connection.msgtype))


def rebuild(message, msgtype: str, store):
    """Return `message` as an instance of store's `msgtype`, field by field (missing fields: defaults)."""
    import numpy as np

    cls = store.types[msgtype]
    values = {}
    for name, (kind, detail) in store.fielddefs[msgtype][1]:
        value = getattr(message, name, None)
        if kind.name == 'NAME':
            values[name] = rebuild(value, detail, store) if value is not None else default_message(detail, store)
        elif kind.name in ('ARRAY', 'SEQUENCE') and detail[0][0].name == 'NAME':
            values[name] = [rebuild(v, detail[0][1], store) for v in (value or [])]
        elif value is None:
            values[name] = _default_value(kind.name, detail)
        elif kind.name in ('ARRAY', 'SEQUENCE') and isinstance(value, np.ndarray):
            values[name] = value.astype(_numpy_type(detail[0][1][0]), copy=False)
        else:
            values[name] = value
    return cls(**values)


def default_message(msgtype: str, store):
    """Return a message of msgtype with every field at its default."""
    return rebuild(object(), msgtype, store)


def _numpy_type(base: str):
    import numpy as np
    return {'float32': np.float32, 'float64': np.float64, 'uint8': np.uint8, 'int8': np.int8, 'uint16': np.uint16,
            'int16': np.int16, 'uint32': np.uint32, 'int32': np.int32, 'uint64': np.uint64, 'int64': np.int64,
            'bool': np.bool_}.get(base, object)


def _default_value(kind: str, detail):
    import numpy as np
    if kind in ('ARRAY', 'SEQUENCE'):
        base, size = detail[0][1][0], (detail[1] if kind == 'ARRAY' else 0)
        return [''] * size if base == 'string' else np.zeros(size, dtype=_numpy_type(base))
    base = detail[0]
    return '' if base == 'string' else False if base == 'bool' else 0.0 if base.startswith('float') else 0


def play(path: str | Path, *, rate: float = 1.0, topics: set[str] | None = None, node=None,
         wait_for_subscribers_s: float = 2.0, progress: Progress | None = None,
         problems: list[str] | None = None) -> int:
    """Publish the bag's messages paced by recorded time / rate; return how many were published.

    node: an rclpy node to publish from (default: a new one, spun nowhere; publishers need no spinning).
    """
    import rclpy

    from sarl_ros.rosutil.imports import message_class
    from sarl_ros.rosutil.qos import RECORD, SENSOR

    if rate <= 0:
        raise ValueError(f'rate must be positive, got {rate}')
    path = Path(path)
    if not path.exists():
        raise BagError(f'{path} does not exist')
    problems = problems if problems is not None else []
    own_node, own_context = node is None, False
    if own_node:
        if not rclpy.ok():
            rclpy.init()
            own_context = True
        node = rclpy.create_node('sarl_replay_player')
    converter = _Converter()
    total = message_count(path, topics)
    connections, stream = open_stream(path, topics, problems)
    publishers = {}
    for connection in connections:
        if connection.topic not in publishers:
            publishers[connection.topic] = _publisher(node, connection, message_class, SENSOR, RECORD, problems)
    _wait_for_subscribers([p for p in publishers.values() if p is not None], wait_for_subscribers_s)
    published, start_wall, start_bag = 0, None, None
    try:
        for connection, stamp, data in stream:
            publisher = publishers.get(connection.topic)
            if publisher is None:
                continue
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), stamp
            delay = start_wall + (stamp - start_bag) / 1e9 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if converter.needed(connection):
                data = converter.convert(connection, data)
            publisher.publish(data)
            published += 1
            if progress and (published % 100 == 0 or published == total):
                progress(published, total, 'messages published')
    finally:
        stream.close()
        problems.extend(p for p in converter.decoder.problems if p not in problems)
        if own_node:
            node.destroy_node()
        if own_context:
            rclpy.try_shutdown()
    return published


def _publisher(node, connection: RawConnection, message_class, sensor, record, problems):
    try:
        cls = message_class(connection.msgtype)
    except (ImportError, AttributeError, ValueError):
        problems.append(f'{connection.topic}: type {connection.msgtype} is not installed here; not republished')
        return None
    qos = sensor if connection.msgtype == IMAGE_TYPE else record
    return node.create_publisher(cls, connection.topic, qos)


def _wait_for_subscribers(publishers, timeout_s: float):
    # Discovery takes a moment; messages published before a subscriber matched are lost to it.
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and any(p.get_subscription_count() == 0 for p in publishers):
        time.sleep(0.02)
