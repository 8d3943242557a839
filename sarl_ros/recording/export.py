"""CSV export of a recorded run: episodes.csv, decisions.csv, transitions.csv.

Lists inside a cell are joined with ' | ' (prompts) or spaces (numbers). Floats are written
with 9 significant digits, which reads back to the same float32.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Sequence

from sarl_ros.core.online_run import EPISODE_FIELDS, PERSON, POLICY, PROMPT_SEPARATOR
from sarl_ros.recording.records import EpisodeRecord

# The run record's columns (sarl_ros.core.online_run.EPISODE_FIELDS, one schema for every episodes.csv),
# between the bag's own: which bag, which run of its numbering, which method, and what it counted.
# A bag does not hold an episode's reset seed nor its skipped decisions: those cells stay empty.
EPISODE_COLUMNS = ('bag', 'run', 'method', *EPISODE_FIELDS, 'transitions', 'images')
REWARD_DECIDERS = {'human': 'person', 'detector': 'detector'}
DECISION_COLUMNS = ('bag', 'episode', 'run', 'step', 'time_s', 'method', 'greedy', 'temperature', 'chosen_index',
                    'chosen_prompt', 'chosen_q', 'candidates', 'sources', 'q_values', 'probabilities')
TRANSITION_COLUMNS = ('bag', 'episode', 'run', 'step', 'prompt', 'source', 'reward', 'terminal', 'truncated',
                      'control_steps', 'state', 'next_state', 'next_prompts')


def _numbers(values) -> str:
    return ' '.join(f'{float(v):.9g}' for v in values)


def _write(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> int:
    count = 0
    with path.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def episode_rows(episodes: Sequence[EpisodeRecord], bag: str = ''):
    """Yield one CSV row per episode (EPISODE_COLUMNS)."""
    for e in episodes:
        decided = e.outcome in ('success', 'failure') and e.rewards
        yield {'bag': bag, 'run': e.run, 'method': e.method, 'episode': e.episode, 'task': e.task,
               'chooser': PERSON if e.episode < 0 else POLICY, 'success': int(e.success), 'outcome': e.outcome,
               'decided_by': REWARD_DECIDERS.get(e.rewards[-1].source, '') if decided else '',
               'decisions': len(e.decisions), 'control_steps': e.control_steps, 'return': f'{e.episode_return:.9g}',
               'skipped': '', 'seed': '', 'seconds': f'{e.duration_s:.3f}', 'prompts': PROMPT_SEPARATOR.join(e.prompts),
               'transitions': len(e.transitions), 'images': e.images}


def decision_rows(episodes: Sequence[EpisodeRecord], bag: str = ''):
    """Yield one CSV row per decision (candidate set)."""
    start = min((d.time_ns for e in episodes for d in e.decisions), default=0)
    for e in episodes:
        for d in e.decisions:
            yield {'bag': bag, 'episode': e.episode, 'run': e.run, 'step': d.step,
                   'time_s': f'{(d.time_ns - start) / 1e9:.3f}', 'method': d.method, 'greedy': int(d.greedy),
                   'temperature': f'{d.temperature:.9g}', 'chosen_index': d.chosen_index,
                   'chosen_prompt': d.chosen_prompt, 'chosen_q': f'{d.chosen_q:.9g}',
                   'candidates': PROMPT_SEPARATOR.join(d.prompts), 'sources': PROMPT_SEPARATOR.join(d.sources),
                   'q_values': _numbers(d.q_values), 'probabilities': _numbers(d.probabilities)}


def transition_rows(episodes: Sequence[EpisodeRecord], bag: str = ''):
    """Yield one CSV row per transition."""
    for e in episodes:
        for record in e.transitions:
            t = record.transition
            yield {'bag': bag, 'episode': t.episode, 'run': e.run, 'step': t.step, 'prompt': t.prompt,
                   'source': record.source, 'reward': f'{t.reward:.9g}', 'terminal': int(t.terminal),
                   'truncated': int(t.truncated), 'control_steps': t.control_steps, 'state': _numbers(t.state),
                   'next_state': _numbers(t.next_state), 'next_prompts': PROMPT_SEPARATOR.join(t.next_prompts)}


def export_csv(recordings, out_dir: str | Path) -> dict[str, tuple[Path, int]]:
    """Write the three CSV files for one or more Recordings; return {name: (path, rows)}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recordings = list(recordings)

    def rows(make):
        for rec in recordings:
            yield from make(rec.episodes, str(rec.path))

    written = {}
    for name, columns, make in (('episodes.csv', EPISODE_COLUMNS, episode_rows),
                                ('decisions.csv', DECISION_COLUMNS, decision_rows),
                                ('transitions.csv', TRANSITION_COLUMNS, transition_rows)):
        path = out / name
        written[name] = (path, _write(path, columns, rows(make)))
    return written
