"""Whether two runs of the graph hold the same episodes and the same transitions.

A run's record is its output directory: `episodes.csv` (one row per episode) and the Q-policy's
write-ahead log `checkpoints/<method>.wal` (every stored transition, float32 features exactly).
Two runs with the same seed must agree on everything but the wall-clock column. Used by
scripts/colcon_check.sh (the same graph twice from the install space) and the tests.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sarl_ros.core.durability.resume import RECORD_NAME, finished_episodes
from sarl_ros.core.durability.wal import read_transitions, transition_record
from sarl_ros.core.method_names import DEFAULT_METHOD

# Columns of episodes.csv that depend on the clock, not on the run's decisions.
TIMING_COLUMNS = ('seconds',)


def run_record(output_dir, method: str = DEFAULT_METHOD) -> tuple[list[dict], list[dict]]:
    """Return a run's episode rows (without timing) and its transitions as plain values."""
    out = Path(output_dir)
    rows = [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in finished_episodes(out / RECORD_NAME)]
    wal = out / 'checkpoints' / f'{method}.wal'
    transitions = [transition_record(t) for t in read_transitions(wal)] if wal.exists() else []
    return rows, transitions


def run_differences(first, second, method: str = DEFAULT_METHOD) -> list[str]:
    """Return where two runs differ (empty: the same episodes and transitions), one line each, first ones first."""
    (rows_a, trans_a), (rows_b, trans_b) = run_record(first, method), run_record(second, method)
    found = []
    if len(rows_a) != len(rows_b):
        found.append(f'{len(rows_a)} episodes against {len(rows_b)}')
    for a, b in zip(rows_a, rows_b):
        if a != b:
            found.append(f'episode {a.get("episode")}: {a} against {b}')
    if len(trans_a) != len(trans_b):
        found.append(f'{len(trans_a)} transitions against {len(trans_b)}')
    for a, b in zip(trans_a, trans_b):
        if a != b:
            fields = sorted(k for k in a if a[k] != b.get(k))
            found.append(f'transition episode {a["episode"]} step {a["step"]} differs in {", ".join(fields)}')
    return found


def main(argv=None) -> int:
    """`python3 -m sarl_ros.core.durability.run_compare RUN_A RUN_B [METHOD]`: exit 1 (and say where) if they differ."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) not in (2, 3):
        print('usage: python3 -m sarl_ros.core.durability.run_compare RUN_A RUN_B [METHOD]', file=sys.stderr)
        return 2
    differences = run_differences(*args)
    rows, transitions = run_record(args[0], *args[2:])
    if not rows:
        print(f'{args[0]} holds no episode', file=sys.stderr)
        return 1
    for line in differences[:10]:
        print(line, file=sys.stderr)
    if differences:
        return 1
    print(f'the same run: {len(rows)} episodes, {len(transitions)} transitions')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
