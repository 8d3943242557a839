"""A policy whose acknowledged transitions survive a kill: checkpoint plus write-ahead log.

`DurablePolicy.open` resumes from the run's own checkpoint when there is one (else from a
warm-start checkpoint, else a fresh policy), then replays the write-ahead-log records the
checkpoint does not hold. `record()` returns only after the transition is in the log, so a
caller may acknowledge it; `checkpoint()` stores the log's record count with the state.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sarl_ros.core.durability.checkpoint import load_checkpoint, load_checkpoint_with_extra, save_checkpoint
from sarl_ros.core.mdp import Transition
from sarl_ros.core.durability.wal import TransitionLog

WAL_RECORDS = 'wal_records'


@dataclass
class ResumeReport:
    source: str  # 'resumed', 'warm start' or 'fresh'
    episodes: int  # episodes the policy had ended
    replayed: int  # transitions replayed from the log


class DurablePolicy:
    def __init__(self, policy, log: TransitionLog, checkpoint_path: Path, report: ResumeReport):
        self.policy = policy
        self.log = log
        self.checkpoint_path = Path(checkpoint_path)
        self.report = report
        # Appends and snapshots must agree on the record count a checkpoint names.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, checkpoint_path, log_path, make_fresh: Callable[[], object], warm_start: str = '',
             sync: str = 'fsync') -> 'DurablePolicy':
        checkpoint_path = Path(checkpoint_path)
        held = 0
        if checkpoint_path.is_file():
            policy, extra = load_checkpoint_with_extra(checkpoint_path)
            held, source = int(extra.get(WAL_RECORDS, 0)), 'resumed'
        elif warm_start:
            policy, source = load_checkpoint(warm_start), 'warm start'
        else:
            policy, source = make_fresh(), 'fresh'
        log = TransitionLog(log_path, sync=sync)
        replayed = 0
        for transition in log.records_after(held):
            policy.record(transition)
            replayed += 1
        return cls(policy, log, checkpoint_path, ResumeReport(source, policy.episodes, replayed))

    def record(self, transition: Transition) -> int:
        """Store a transition in the policy and the log; return the number of logged transitions.

        The policy validates first (ValueError: nothing is logged); an OSError from the log
        means the transition is not durable and must not be acknowledged.
        """
        with self._lock:
            self.policy.record(transition)
            return self.log.append(transition)

    def checkpoint(self) -> Path:
        with self._lock:
            return save_checkpoint(self.policy, self.checkpoint_path, extra={WAL_RECORDS: len(self.log)})

    def close(self) -> None:
        self.log.close()
