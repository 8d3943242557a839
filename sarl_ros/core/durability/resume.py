"""Resuming a run from its output directory, or setting the old run aside for a fresh one.

The per-episode record (episodes.csv, one row per finished episode, first column `episode`)
says where a run stopped: the next run continues at the episode after the last row. A row
cut short by a kill (no trailing newline) was never a finished episode and is removed.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

RECORD_NAME = 'episodes.csv'


def repair_record(path) -> None:
    """Drop a torn last line (a process killed while writing it) so appending stays valid."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    if not data or data.endswith(b'\n'):
        return
    cut = data.rfind(b'\n') + 1  # 0 when even the header is torn
    with open(path, 'r+b') as f:
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())


def finished_episodes(path) -> list[dict]:
    """Return the rows of a record (after repairing a torn last line); [] when there is none."""
    path = Path(path)
    repair_record(path)
    if not path.exists():
        return []
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows:
        try:
            row['episode'] = int(row['episode'])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'{path}: a row without an episode number: {row}') from exc
    return rows


def next_episode(path) -> int:
    """Return the number of the online episode a resumed run continues with (1 for a new run).

    Demonstrations (negative numbers, sarl_ros.core.online_run) come before online episode 1.
    """
    rows = finished_episodes(path)
    return max((row['episode'] for row in rows if row['episode'] > 0), default=0) + 1


def trim_record(path, kept: int) -> None:
    """Keep only the first `kept` rows (the episodes the learner's checkpoint holds, in run order)."""
    path = Path(path)
    repair_record(path)
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) <= 1 + kept:
        return
    # A row may span lines (a quoted newline in a prompt): count csv rows, not lines.
    header, body = lines[0], lines[1:]
    reader = csv.reader(io.StringIO(''.join(body)))
    keep_lines = 0
    for _ in range(kept):
        if next(reader, None) is None:
            break
        keep_lines = reader.line_num
    tmp = path.with_suffix('.csv.tmp')
    tmp.write_text(header + ''.join(body[:keep_lines]))
    os.replace(tmp, path)


def set_aside(output_dir) -> Path | None:
    """Rename an existing output directory to <name>.old-N (first free N); return the new path."""
    output_dir = Path(output_dir)
    if not output_dir.exists():
        return None
    number = 1
    while (aside := output_dir.with_name(f'{output_dir.name}.old-{number}')).exists():
        number += 1
    output_dir.rename(aside)
    return aside


def fresh_bag_path(output_dir) -> Path:
    """Return <output_dir>/bag, or bag_N when earlier runs used that name (bags are never overwritten)."""
    output_dir = Path(output_dir)
    path, number = output_dir / 'bag', 1
    while path.exists():
        number += 1
        path = output_dir / f'bag_{number}'
    return path
