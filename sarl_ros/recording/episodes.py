"""Group a run's records into episodes: by episode number, split where the numbering restarts."""
from __future__ import annotations

import bisect

from sarl_ros.core.events import CORRECTED_BY_OPERATOR
from sarl_ros.recording.records import END_EVENTS, EpisodeRecord


def rebuild_episodes(rec) -> tuple[list[EpisodeRecord], list[str]]:
    """Return the episodes of a Recording in order, and problems found while rebuilding."""
    stream = [(e.time_ns, 0, 'events', e) for e in rec.events]
    for order, name in enumerate(('decisions', 'actions', 'transitions', 'rewards'), start=1):
        stream.extend((x.time_ns, order, name, x) for x in getattr(rec, name))
    stream.sort(key=lambda item: (item[0], item[1]))

    episodes: dict[tuple[int, int], EpisodeRecord] = {}
    current_run: dict[int, int] = {}
    for time_ns, _, kind, item in stream:
        number = item.episode
        run = current_run.get(number, 0)
        episode = episodes.get((number, run))
        if kind == 'events' and item.kind == 'start' and episode is not None and (
                episode.outcome != 'unfinished' or any(e.kind == 'start' for e in episode.events)):
            run += 1  # the same number started again: the graph was restarted within this bag
            episode = None
        if episode is None:
            episode = episodes[(number, run)] = EpisodeRecord(episode=number, run=run, start_ns=time_ns)
            current_run[number] = run
        _add(episode, kind, item, time_ns)

    ordered = sorted(episodes.values(), key=lambda e: (e.start_ns, e.run, e.episode))
    problems = []
    for episode in ordered:
        episode.decisions.sort(key=lambda d: d.step)
        episode.transitions.sort(key=lambda t: t.transition.step)
        problems.extend(_infer_outcome(episode))
    _count_images(ordered, rec.image_times_ns)
    return ordered, problems


def _add(episode: EpisodeRecord, kind: str, item, time_ns: int):
    if kind == 'events':
        episode.events.append(item)
        episode.task = episode.task or item.task
        if item.kind == 'start':
            episode.start_ns = time_ns
        elif item.kind in END_EVENTS:
            episode.outcome = item.kind  # a verdict the operator corrected later: the correction wins
            if not item.detail.startswith(CORRECTED_BY_OPERATOR):
                episode.end_ns = time_ns  # the episode ended then, not when its verdict was corrected
        return
    if kind == 'actions':
        episode.control_steps += 1  # the 7-D actions themselves stay in Recording.actions
    else:
        getattr(episode, kind).append(item)
    if kind == 'decisions':
        episode.method = episode.method or item.method
        episode.task = episode.task or item.task
    if kind == 'transitions':
        episode.task = episode.task or item.task
    episode.start_ns = min(episode.start_ns, time_ns) if episode.start_ns else time_ns
    if episode.outcome == 'unfinished':
        episode.end_ns = max(episode.end_ns, time_ns)


def _infer_outcome(episode: EpisodeRecord) -> list[str]:
    if episode.outcome != 'unfinished':
        return []
    last = episode.transitions[-1].transition if episode.transitions else None
    if last is not None and last.terminal and last.reward > 0:
        episode.outcome = 'success'
        return [f'episode {episode.episode}: no end event; success inferred from its terminal transition']
    finals = [w for w in episode.rewards if w.value > 0.5]
    if finals:
        episode.outcome = 'success'
        return [f'episode {episode.episode}: no end event; success inferred from its reward signal']
    if last is not None and last.truncated:
        episode.outcome = 'timeout'
        return [f'episode {episode.episode}: no end event; timeout inferred from its truncated transition']
    return [f'episode {episode.episode}: unfinished (no end event; the recording stopped during it?)']


def _count_images(episodes: list[EpisodeRecord], times: list[int]):
    if not times:
        return
    times = sorted(times)
    for episode in episodes:
        episode.images = bisect.bisect_right(times, episode.end_ns) - bisect.bisect_left(times, episode.start_ns)
