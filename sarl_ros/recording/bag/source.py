"""Raw messages of a rosbag2 (a directory, or a single .mcap / .db3 file), damaged or not.

On a ROS workstation rosbag2's own reader (rosbag2_py) reads an intact bag, in the PyPI
environment rosbags does; when the reader refuses (no metadata.yaml, no MCAP footer, a
corrupt chunk), the file is scanned record by record instead and every problem is reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sarl_ros.recording.bag.salvage import RawConnection, Salvage, salvage_mcap, salvage_sqlite3

STORAGE_SUFFIXES = ('.mcap', '.db3')


class BagError(RuntimeError):
    """The path is not a bag at all, or nothing in it can be read."""


@dataclass
class RawBag:
    """Serialized messages of the chosen topics, in time order, and what went wrong."""

    path: Path
    connections: dict[int, RawConnection]
    messages: list[tuple[RawConnection, int, bytes]]
    problems: list[str] = field(default_factory=list)
    recovered: bool = False  # read by the record scanner, not by rosbags
    message_count: int = 0  # in the bag, on every topic
    topics: dict[str, str] = field(default_factory=dict)  # every topic in the bag -> type
    expected: dict[int, int] = field(default_factory=dict)  # per read connection: count in the bag's index
    topic_counts: dict[str, int] = field(default_factory=dict)  # messages per topic in the whole bag


def bag_library() -> str:
    """Return the library that reads intact bags: 'rosbag2_py' where it is importable, else 'rosbags'."""
    try:
        import rosbag2_py  # noqa: F401
    except ImportError:
        return 'rosbags'
    return 'rosbag2_py'


def storage_files(path: Path) -> list[Path]:
    """Return the storage files of a bag directory, or the file itself."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES)


def read_raw(path: str | Path, topics: set[str] | None = None) -> RawBag:
    """Return the raw messages on `topics` (None: all) from a bag, recovering what it can."""
    path = Path(path)
    if not path.exists():
        raise BagError(f'{path} does not exist')
    if path.is_file() and path.suffix not in STORAGE_SUFFIXES:
        raise BagError(f'{path} is not a rosbag2: expected a bag directory, an .mcap or a .db3 file')
    files = storage_files(path)
    if not files:
        raise BagError(f'{path} is not a rosbag2: no .mcap or .db3 file in it')
    try:
        read = _read_with_rosbag2_py if bag_library() == 'rosbag2_py' else _read_with_rosbags
        bag = read(path, topics)
    except Exception as exc:  # noqa: BLE001 - rosbags raises many types for damaged files
        bag, first = None, _describe_rosbags_failure(path, exc)
    else:
        shortfall = _missing_messages(bag)
        if not shortfall:
            return bag
        # The index promises more than the chunks gave: some chunk is damaged.
        first = f'{path}: {shortfall}; recovered record by record'
    salvaged = _read_salvaged(path, files, topics)
    if bag is not None and len(bag.messages) > len(salvaged.messages):
        bag.problems = [first.replace('; recovered record by record', '')] + salvaged.problems
        return bag
    salvaged.problems.insert(0, first)
    if not salvaged.connections:
        raise BagError('; '.join(salvaged.problems) or f'{path}: nothing readable')
    return salvaged


def _missing_messages(bag: RawBag) -> str:
    read: dict[int, int] = {}
    for connection, _, _ in bag.messages:
        read[connection.id] = read.get(connection.id, 0) + 1
    short = [f'{bag.expected[key] - read.get(key, 0)} of {bag.expected[key]} on {bag.connections[key].topic}'
             for key in bag.expected if read.get(key, 0) < bag.expected[key]]
    return f'messages missing from damaged chunks ({", ".join(short)})' if short else ''


def _describe_rosbags_failure(path: Path, exc: Exception) -> str:
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        return (f'{path}: no metadata.yaml (the recorder did not close the bag: killed, or still running?); '
                'read the storage file directly')
    return f'{path}: cannot be read normally ({type(exc).__name__}: {exc}); recovered record by record'


def _read_with_rosbags(path: Path, topics: set[str] | None) -> RawBag:
    from rosbags.rosbag2 import Reader

    with Reader(path) as reader:
        connections = {}
        for c in reader.connections:
            fmt = {'MSG': 'ros2msg', 'IDL': 'ros2idl'}.get(c.msgdef.format.name, '') if c.msgdef else ''
            connections[c.id] = RawConnection(c.id, c.topic, c.msgtype, c.msgdef.data if fmt else '', fmt,
                                              c.digest or '')
        wanted = [c for c in reader.connections if topics is None or c.topic in topics]
        messages = []
        if wanted:  # rosbags reads every topic when given none
            messages = [(connections[c.id], stamp, bytes(data)) for c, stamp, data in reader.messages(wanted)]
        return RawBag(path, connections, messages, message_count=reader.message_count,
                      topics={c.topic: c.msgtype for c in connections.values()},
                      expected={c.id: c.msgcount for c in wanted}, topic_counts=_per_topic(
                          (c.topic, c.msgcount) for c in reader.connections))


def _read_with_rosbag2_py(path: Path, topics: set[str] | None) -> RawBag:
    import rosbag2_py

    reader = rosbag2_py.SequentialReader()
    # An empty storage id lets rosbag2 pick the plugin from the metadata or the file's suffix.
    reader.open(rosbag2_py.StorageOptions(uri=str(path), storage_id=''),
                rosbag2_py.ConverterOptions(input_serialization_format='cdr', output_serialization_format='cdr'))
    metadata = reader.get_metadata()
    definitions = {}
    if hasattr(reader, 'get_all_message_definitions'):  # Jazzy and newer store the definitions
        definitions = {d.topic_type: d for d in reader.get_all_message_definitions()}
    connections, counts = {}, {}
    for number, info in enumerate(metadata.topics_with_message_count):
        topic = info.topic_metadata
        known = definitions.get(topic.type)
        fmt = known.encoding if known is not None and known.encoding in ('ros2msg', 'ros2idl') else ''
        connections[number] = RawConnection(number, topic.name, topic.type,
                                            known.encoded_message_definition if fmt else '', fmt,
                                            known.type_hash if known is not None else '')
        counts[number] = int(info.message_count)
    by_topic = {c.topic: c for c in connections.values()}
    wanted = [c for c in connections.values() if topics is None or c.topic in topics]
    messages = []
    if wanted:
        reader.set_filter(rosbag2_py.StorageFilter(topics=[c.topic for c in wanted]))
        while reader.has_next():
            topic, data, stamp = reader.read_next()
            messages.append((by_topic[topic], int(stamp), bytes(data)))
    return RawBag(path, connections, messages, message_count=int(metadata.message_count),
                  topics={c.topic: c.msgtype for c in connections.values()},
                  expected={c.id: counts[c.id] for c in wanted},
                  topic_counts=_per_topic((c.topic, counts[c.id]) for c in connections.values()))


def _read_salvaged(path: Path, files: list[Path], topics: set[str] | None) -> RawBag:
    bag = RawBag(path, {}, [], recovered=True)
    for number, file in enumerate(files):
        found: Salvage = salvage_mcap(file, topics) if file.suffix == '.mcap' else salvage_sqlite3(file, topics)
        bag.problems.extend(found.problems)
        # Connection ids are per file: renumber them so files of one bag do not clash.
        renumbered = {key: replace(c, id=number * 65536 + key) for key, c in found.connections.items()}
        bag.connections.update({c.id: c for c in renumbered.values()})
        for topic, count in found.counts.items():
            bag.topic_counts[topic] = bag.topic_counts.get(topic, 0) + count
            bag.message_count += count
        bag.messages.extend((renumbered[key], stamp, data) for key, stamp, data in found.messages)
    bag.messages.sort(key=lambda m: m[1])
    bag.topics = {c.topic: c.msgtype for c in bag.connections.values()}
    return bag


def _per_topic(pairs) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic, count in pairs:
        counts[topic] = counts.get(topic, 0) + count
    return counts
