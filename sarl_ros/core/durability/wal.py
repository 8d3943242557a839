"""Write-ahead log of transitions: what the learner acknowledged survives a SIGKILL.

The Q-policy appends each transition here (and flushes it to the disk) before it answers
"stored"; a checkpoint records how many log records it already contains. On start, the
records after the checkpoint's count are replayed into the policy, so a kill between two
checkpoints loses no acknowledged transition.

File format: a sequence of records, each `<u32 length><u32 crc32>` followed by `length`
bytes of UTF-8 JSON. A record cut short by a crash (or with a wrong checksum) ends the
readable log; appending resumes after the last good record, so the torn tail is overwritten.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from sarl_ros.core.mdp import Transition

_HEADER = struct.Struct('<II')
# Durability levels: 'fsync' survives a power cut, 'flush' survives a killed process (the
# page cache belongs to the kernel), 'none' only a clean exit.
SYNC_MODES = ('fsync', 'flush', 'none')


class WalError(ValueError):
    """The log exists but cannot be used."""


def transition_record(t: Transition) -> dict:
    """Return a transition as plain JSON values (float32 features round-trip exactly)."""
    return {'state': np.asarray(t.state, dtype=np.float32).tolist(), 'prompt': t.prompt, 'reward': float(t.reward),
            'next_state': np.asarray(t.next_state, dtype=np.float32).tolist(),
            'next_prompts': list(t.next_prompts), 'terminal': bool(t.terminal),
            'control_steps': int(t.control_steps), 'episode': int(t.episode), 'step': int(t.step),
            'truncated': bool(t.truncated)}


def record_transition(d: dict) -> Transition:
    """Return the Transition a record describes."""
    return Transition(state=np.asarray(d['state'], dtype=np.float32), prompt=d['prompt'], reward=float(d['reward']),
                      next_state=np.asarray(d['next_state'], dtype=np.float32),
                      next_prompts=tuple(d['next_prompts']), terminal=bool(d['terminal']),
                      control_steps=int(d['control_steps']), episode=int(d['episode']), step=int(d['step']),
                      truncated=bool(d['truncated']))


def _scan(path: Path) -> tuple[list[dict], int]:
    """Return the intact records and the byte offset where the intact part ends."""
    records, end = [], 0
    if not path.exists():
        return records, end
    data = path.read_bytes()
    while end + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, end)
        start = end + _HEADER.size
        body = data[start:start + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break  # torn or damaged: the rest was never acknowledged
        try:
            records.append(json.loads(body))
        except ValueError:
            break
        end = start + length
    return records, end


def read_transitions(path) -> list[Transition]:
    """Return every intact transition in a log (an absent log holds none)."""
    return [record_transition(r) for r in _scan(Path(path))[0]]


class TransitionLog:
    """An append-only log of transitions; `len(log)` counts the records on disk."""

    def __init__(self, path, sync: str = 'fsync'):
        if sync not in SYNC_MODES:
            raise WalError(f'sync must be one of {", ".join(SYNC_MODES)}, got {sync!r}')
        self.path = Path(path)
        self.sync = sync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        records, end = _scan(self.path)
        self._count = len(records)
        self._file = open(self.path, 'ab' if end == self._size() else 'r+b')
        if self._file.tell() != end:  # a torn tail from a crash: write over it
            self._file.seek(end)
            self._file.truncate()
            self._flush()

    def _size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def __len__(self) -> int:
        return self._count

    def records_after(self, count: int) -> Iterator[Transition]:
        """Yield the transitions after the first `count` records (those a checkpoint does not hold)."""
        records, _ = _scan(self.path)
        if count > len(records):
            raise WalError(f'the checkpoint holds {count} transitions but the log {self.path} only '
                           f'{len(records)}: they belong to different runs')
        for record in records[count:]:
            yield record_transition(record)

    def append(self, transition: Transition) -> int:
        """Write one transition durably (per the sync mode); return the record count."""
        body = json.dumps(transition_record(transition), separators=(',', ':')).encode('utf-8')
        self._file.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
        self._flush()
        self._count += 1
        return self._count

    def _flush(self):
        if self.sync == 'none':
            return
        self._file.flush()
        if self.sync == 'fsync':
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()
