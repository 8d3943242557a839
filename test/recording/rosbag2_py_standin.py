"""A stand-in for rosbag2_py (not installable from PyPI): its reader API, answered by rosbags.

Only the calls sarl_ros.recording.bag.source makes, with rosbag2_py's names and shapes
(Jazzy and newer), so the rosbag2_py path of the reader runs here.
"""
from __future__ import annotations

from types import SimpleNamespace


class StorageOptions:
    def __init__(self, uri: str, storage_id: str = ''):
        self.uri, self.storage_id = uri, storage_id


class ConverterOptions:
    def __init__(self, input_serialization_format: str = 'cdr', output_serialization_format: str = 'cdr'):
        self.input_serialization_format = input_serialization_format
        self.output_serialization_format = output_serialization_format


class StorageFilter:
    def __init__(self, topics=()):
        self.topics = list(topics)


class SequentialReader:
    def open(self, storage: StorageOptions, converter: ConverterOptions):
        from rosbags.rosbag2 import Reader
        self._reader = Reader(storage.uri)
        self._reader.open()
        self._topics = None
        self._pending = None

    def get_metadata(self):
        r = self._reader
        topics = [SimpleNamespace(topic_metadata=SimpleNamespace(name=c.topic, type=c.msgtype),
                                  message_count=c.msgcount) for c in r.connections]
        return SimpleNamespace(message_count=r.message_count, topics_with_message_count=topics)

    def get_all_message_definitions(self):
        seen = {}
        for c in self._reader.connections:
            if c.msgdef is not None:
                encoding = {'MSG': 'ros2msg', 'IDL': 'ros2idl'}[c.msgdef.format.name]
                seen[c.msgtype] = SimpleNamespace(topic_type=c.msgtype, encoding=encoding,
                                                  encoded_message_definition=c.msgdef.data, type_hash=c.digest)
        return list(seen.values())

    def set_filter(self, storage_filter: StorageFilter):
        self._topics = set(storage_filter.topics)

    def has_next(self) -> bool:
        if self._pending is None:
            wanted = [c for c in self._reader.connections if self._topics is None or c.topic in self._topics]
            self._pending = iter(list(self._reader.messages(wanted)))
            self._next = next(self._pending, None)
        return self._next is not None

    def read_next(self):
        connection, stamp, data = self._next
        self._next = next(self._pending, None)
        return connection.topic, bytes(data), stamp
