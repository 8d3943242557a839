"""A rosbag2 writer that survives crashes: serialized messages in, MCAP or sqlite3 out.

Wraps `rosbags.rosbag2.Writer` (no ROS needed). `flush()` pushes everything written so far
to disk (MCAP: closes the pending chunk; sqlite3: commits), so a killed recorder loses at
most one flush period; `close()` writes the summary and metadata.yaml. A bag left without
them by a crash is still read by sarl_ros.recording.reader, and `sarl-replay repair` turns
it into a complete bag again.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer

from sarl_ros.recording.bag.message_types import definition_and_hash
from sarl_ros.rosutil.bag_storages import DEFAULT_STORAGE, STORAGES  # noqa: F401 - the writer's formats
BAG_VERSION = 9  # rosbag2 metadata version of ROS 2 jazzy and later (read by older rosbags too)

_ZERO = QosTime(0, 0)


def offered_qos(reliable: bool, depth: int, transient_local: bool = False) -> Qos:
    """Return the QoS a topic's publisher offered, stored so `ros2 bag play` can recreate it."""
    return Qos(QosHistory.KEEP_LAST, depth,
               QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
               QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
               _ZERO, _ZERO, QosLiveliness.AUTOMATIC, _ZERO, False)


class BagWriterError(RuntimeError):
    """The bag cannot be created or written."""


class BagWriter:
    """Write serialized (CDR) messages to a new rosbag2 directory; thread-safe."""

    def __init__(self, path: str | Path, storage: str = DEFAULT_STORAGE, custom_data: dict | None = None):
        if storage not in STORAGES:
            raise BagWriterError(f'storage {storage!r} is not supported by the installed rosbags; '
                                 f'choose one of: {", ".join(STORAGES)}')
        self.path = Path(path)
        if self.path.exists():
            raise BagWriterError(f'{self.path} exists already; choose a new output directory '
                                 '(a bag is never overwritten)')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.storage = storage
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin[storage.upper()])
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(str(key), str(value))
        self._writer.open()
        self._connections: dict[str, object] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str, *, reliable: bool = True, depth: int = 1000,
                  transient_local: bool = False, msgdef: str | None = None, rihs01: str | None = None) -> None:
        """Declare a topic; the definition defaults to this package's (or ROS 2's) one."""
        if msgdef is None or rihs01 is None:
            msgdef, rihs01 = definition_and_hash(msgtype)
        with self._lock:
            self._check_open()
            if topic in self._connections:
                raise BagWriterError(f'topic {topic} was added twice')
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=rihs01,
                offered_qos_profiles=[offered_qos(reliable, depth, transient_local)])
            self.counts[topic] = 0

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Append one serialized message received at timestamp_ns."""
        with self._lock:
            self._check_open()
            connection = self._connections.get(topic)
            if connection is None:
                raise BagWriterError(f'topic {topic} was not added to the bag')
            self._writer.write(connection, int(timestamp_ns), bytes(data))
            self.counts[topic] += 1

    def flush(self) -> None:
        """Put everything written so far on disk, in a form a reader can recover after a crash."""
        with self._lock:
            if self._closed:
                return
            storage = self._writer.storage
            # rosbags has no public flush; these are its storage objects' own members.
            if self.storage == 'mcap':
                if storage.chunk.msgs:  # a chunk without messages would carry an empty time range
                    storage.close_chunk()
                storage.bio.flush()
                os.fsync(storage.bio.fileno())
            else:
                storage.conn.commit()

    def close(self) -> None:
        """Write the index, summary and metadata.yaml; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._writer.close()

    @property
    def closed(self) -> bool:
        """Return whether close() ran."""
        return self._closed

    def _check_open(self):
        if self._closed:
            raise BagWriterError(f'bag {self.path} is closed')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
