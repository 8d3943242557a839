"""Read what can be read from a damaged bag file, record by record.

Used when rosbags refuses a file: an MCAP without its summary and footer (a recorder killed
before close), an MCAP cut short (a partial copy), a corrupted chunk, or a sqlite3 bag with
a broken table. Each function returns the connections and messages it found plus a list of
problems, each naming what was wrong and where.
"""
from __future__ import annotations

import mmap
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

MCAP_MAGIC = b'\x89MCAP0\r\n'
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_DATA_END = 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F
KNOWN_OPCODES = set(range(0x01, 0x11))
COMPRESSIONS = ('', 'zstd', 'lz4')


@dataclass(frozen=True)
class RawConnection:
    """A topic as stored in a bag, with the message definition the bag carries."""

    id: int
    topic: str
    msgtype: str
    msgdef: str  # '' when the bag has none (e.g. sqlite3 bags of ROS 2 humble)
    msgdef_format: str  # 'ros2msg', 'ros2idl', or '' with no definition
    digest: str = ''


@dataclass
class Salvage:
    """What a damaged file still held."""

    connections: dict[int, RawConnection]
    messages: list[tuple[int, int, bytes]]  # (connection id, timestamp ns, CDR data)
    problems: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # intact messages per topic, also those not kept


class _Cursor:
    def __init__(self, data: bytes | memoryview, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f'a length field ({n} bytes) runs past the end of its record')
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def u16(self) -> int:
        return struct.unpack('<H', self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack('<I', self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack('<Q', self.take(8))[0]

    def string(self) -> str:
        return self.take(self.u32()).decode('utf-8')


def _decompress(compression: str, payload: bytes, size: int) -> bytes:
    if compression == '':
        return payload
    if compression == 'zstd':
        try:
            from compression import zstd  # Python 3.14
        except ImportError:
            from backports import zstd  # installed with rosbags
        return zstd.decompress(payload)
    if compression == 'lz4':
        import lz4.frame  # only present where someone recorded lz4 bags
        return lz4.frame.decompress(payload)
    raise ValueError(f'unknown chunk compression {compression!r}')


class _McapScan:
    def __init__(self, path: Path, data, topics: set[str] | None):
        self.path = path
        self.data = data  # bytes or an mmap: a damaged multi-GB bag is not read into memory
        self.topics = topics
        self.schemas: dict[int, tuple[str, str, str]] = {}
        self.result = Salvage({}, [], [])

    def problem(self, text: str):
        self.result.problems.append(f'{self.path.name}: {text}')

    def run(self) -> Salvage:
        if not len(self.data):
            self.problem('is empty (the recorder stopped before it wrote any message)')
            return self.result
        if self.data[:len(MCAP_MAGIC)] != MCAP_MAGIC:
            self.problem('not an MCAP file (wrong magic bytes)')
            return self.result
        pos, end, saw_end = len(MCAP_MAGIC), len(self.data), False
        # A file that still ends with the magic bytes was not cut short: bad lengths in it are corruption.
        complete = len(self.data) > 2 * len(MCAP_MAGIC) and self.data[-len(MCAP_MAGIC):] == MCAP_MAGIC
        while pos < end:
            if end - pos < 9:
                self.problem(f'ends inside a record header at byte {pos} (file cut short)')
                break
            op, length = self.data[pos], struct.unpack_from('<Q', self.data, pos + 1)[0]
            body_end = pos + 9 + length
            if op not in KNOWN_OPCODES or body_end > end:
                resume = self._resync(pos + 1)
                if resume >= end and op in KNOWN_OPCODES and not complete:
                    self.problem(f'ends inside a record at byte {pos} (truncated: {body_end - end} bytes missing); '
                                 'the recorder was killed or the copy is incomplete')
                    break
                self.problem(f'corrupt data at byte {pos}; ' + (
                    f'skipped {resume - pos} bytes to the next chunk' if resume < end else 'nothing readable after it'))
                pos = resume
                continue
            if op in (OP_FOOTER, OP_DATA_END):
                saw_end = True
                break
            self._record(op, memoryview(self.data[pos + 9:body_end]), pos)  # a copy: the mmap closes later
            pos = body_end
        if not saw_end and not any('truncated' in p or 'cut short' in p for p in self.result.problems):
            self.problem('has no end record (the recorder did not close the bag)')
        elif saw_end and not complete:
            self.problem('its index and footer are missing or damaged; every data record before them was read')
        return self.result

    def _resync(self, start: int) -> int:
        # Find the next plausible chunk record: opcode, a length that fits, a known compression.
        pos = self.data.find(bytes([OP_CHUNK]), start)
        while pos != -1:
            try:
                length = struct.unpack_from('<Q', self.data, pos + 1)[0]
                if pos + 9 + length <= len(self.data) and length >= 40:
                    cur = _Cursor(self.data, pos + 9 + 28)
                    if cur.string() in COMPRESSIONS:
                        return pos
            except (struct.error, ValueError, UnicodeDecodeError):
                pass
            pos = self.data.find(bytes([OP_CHUNK]), pos + 1)
        return len(self.data)

    def _record(self, op: int, body: memoryview, where: int):
        before = len(self.result.messages)
        try:
            if op == OP_CHUNK:
                self._chunk(body, where)
            elif op in (OP_SCHEMA, OP_CHANNEL, OP_MESSAGE):
                self._inner(op, body)
        except (ValueError, KeyError, struct.error, UnicodeDecodeError, ImportError) as exc:
            what = 'chunk' if op == OP_CHUNK else f'record (opcode {op:#04x})'
            kept = len(self.result.messages) - before
            self.problem(f'corrupt {what} at byte {where} ({exc}); {kept} message(s) before the damage kept, '
                         'the rest of it lost')

    def _chunk(self, body: memoryview, where: int):
        cur = _Cursor(body)
        cur.take(16)  # message start and end time
        size = cur.u64()
        cur.take(4)  # CRC of the records: rosbags writes 0, so it cannot be checked
        compression = cur.string()
        payload = cur.take(cur.u64())
        records = _decompress(compression, payload, size)
        pos, before = 0, len(self.result.messages)
        while pos < len(records):
            if len(records) - pos < 9:
                raise ValueError('chunk ends inside a record header')
            op, length = records[pos], struct.unpack_from('<Q', records, pos + 1)[0]
            if op not in KNOWN_OPCODES or pos + 9 + length > len(records):
                lost = len(self.result.messages) - before
                raise ValueError(f'corrupt record inside the chunk after {lost} messages')
            self._inner(op, memoryview(records)[pos + 9:pos + 9 + length])
            pos += 9 + length

    def _inner(self, op: int, body: memoryview):
        cur = _Cursor(body)
        if op == OP_SCHEMA:
            key = cur.u16()
            self.schemas[key] = (cur.string(), cur.string(), cur.take(cur.u32()).decode('utf-8'))
        elif op == OP_CHANNEL:
            key, schema_id = cur.u16(), cur.u16()
            topic = cur.string()
            cur.string()  # message encoding: cdr
            name, fmt, text = self.schemas.get(schema_id, ('', '', ''))
            self.result.connections.setdefault(key, RawConnection(key, topic, name, text, fmt))
        elif op == OP_MESSAGE:
            channel = cur.u16()
            cur.take(4)  # sequence
            log_time = cur.u64()
            cur.take(8)  # publish time
            connection = self.result.connections.get(channel)
            if connection is None:
                raise ValueError(f'message on unknown channel {channel}')
            self.result.counts[connection.topic] = self.result.counts.get(connection.topic, 0) + 1
            if self.topics is None or connection.topic in self.topics:
                self.result.messages.append((channel, log_time, bytes(body[cur.pos:])))


def salvage_mcap(path: Path, topics: set[str] | None = None) -> Salvage:
    """Return every intact schema, channel and message (on `topics`; None: all) of an MCAP file, however damaged."""
    path = Path(path)
    with path.open('rb') as f:
        if path.stat().st_size == 0:
            return _McapScan(path, b'', topics).run()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _McapScan(path, data, topics).run()


def salvage_sqlite3(path: Path, topics: set[str] | None = None) -> Salvage:
    """Return the topics and messages (on `topics`; None: all) a (possibly damaged) rosbag2 sqlite3 file yields."""
    result = Salvage({}, [], [])
    name = Path(path).name
    try:
        db = sqlite3.connect(f'file:{path}?mode=ro', uri=True)
    except sqlite3.Error as exc:
        result.problems.append(f'{name}: cannot open as sqlite3: {exc}')
        return result
    try:
        definitions = {}
        try:
            for typ, encoding, text in db.execute(
                    'SELECT topic_type, encoding, encoded_message_definition FROM message_definitions'):
                definitions[typ] = (text, encoding)
        except sqlite3.Error:
            pass  # older bags (ROS 2 humble) carry no definitions
        for key, topic, typ in db.execute('SELECT id, name, type FROM topics'):
            text, fmt = definitions.get(typ, ('', ''))
            result.connections[key] = RawConnection(key, topic, typ, text, fmt)
        last_id = 0
        while True:  # in batches, so a damaged page costs only the rows behind it
            try:
                rows = db.execute('SELECT id, topic_id, timestamp, data FROM messages WHERE id > ? '
                                  'ORDER BY id LIMIT 1000', (last_id,)).fetchall()
            except sqlite3.Error as exc:
                result.problems.append(f'{name}: message table damaged after row {last_id}: {exc}')
                break
            if not rows:
                break
            for row_id, topic_id, stamp, data in rows:
                last_id = row_id
                connection = result.connections.get(topic_id)
                if connection is None:
                    continue
                result.counts[connection.topic] = result.counts.get(connection.topic, 0) + 1
                if topics is None or connection.topic in topics:
                    result.messages.append((topic_id, stamp, bytes(data)))
    except sqlite3.Error as exc:
        result.problems.append(f'{name}: not a readable rosbag2 sqlite3 file: {exc}')
    finally:
        db.close()
    return result
