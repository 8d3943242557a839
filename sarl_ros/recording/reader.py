"""Read a SARL bag offline: episodes, decisions and transitions, without ROS.

`read_recording(path)` opens a bag directory or storage file (from this machine or another
one), decodes every SARL topic with the definitions stored in the bag, and rebuilds the
episodes. Damage is reported in `Recording.problems`, each naming what is wrong; whatever
can be read is still returned.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sarl_ros.core.mdp import Transition
from sarl_ros import names
from sarl_ros.recording import records as r
from sarl_ros.recording.bag.source import BagError, read_raw
from sarl_ros.recording.bag.decode import Decoder, DecodeError
from sarl_ros.recording.episodes import rebuild_episodes
from sarl_ros.recording.bag.message_types import SARL_TOPICS

__all__ = ['BagError', 'Recording', 'read_recording', 'read_recordings']

CONVERTERS: dict[str, tuple[str, Callable]] = {
    names.TOPIC_CANDIDATES: ('decisions', r.decision_record),
    names.TOPIC_TRANSITIONS: ('transitions', r.transition_record),
    names.TOPIC_REWARDS: ('rewards', r.reward_record),
    names.TOPIC_EVENTS: ('events', r.event_record),
    names.TOPIC_LEARNER_STATS: ('stats', r.stats_record),
    names.TOPIC_EXECUTED_ACTIONS: ('actions', r.action_record),
}
IMAGE_TOPICS = (names.TOPIC_CAMERA, names.TOPIC_SIM_CAMERA)


@dataclass
class Recording:
    """Everything a bag says about a SARL run."""

    path: Path
    episodes: list[r.EpisodeRecord] = field(default_factory=list)
    decisions: list[r.DecisionRecord] = field(default_factory=list)
    transitions: list[r.TransitionRecord] = field(default_factory=list)
    rewards: list[r.RewardRecord] = field(default_factory=list)
    events: list[r.EventRecord] = field(default_factory=list)
    stats: list[r.StatsRecord] = field(default_factory=list)
    actions: list[r.ActionRecord] = field(default_factory=list)
    image_times_ns: list[int] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)  # every topic in the bag -> type
    counts: Counter = field(default_factory=Counter)  # messages read and decoded per topic
    topic_counts: dict[str, int] = field(default_factory=dict)  # messages per topic in the bag
    problems: list[str] = field(default_factory=list)
    recovered: bool = False

    @property
    def core_transitions(self) -> list[Transition]:
        """Return the transitions as the learner stores them, in recorded order."""
        return [t.transition for t in self.transitions]

    @property
    def has_sarl_topics(self) -> bool:
        """Return whether the bag holds any SARL topic."""
        return any(t in self.topics for t in SARL_TOPICS)


def read_recording(path: str | Path, *, images: bool = False) -> Recording:
    """Return the run recorded in a bag; BagError only when nothing at all can be read.

    images=True also collects the receive times of camera images (their pixels are not kept).
    """
    wanted = set(CONVERTERS) | (set(IMAGE_TOPICS) if images else set())
    raw = read_raw(path, wanted)
    rec = Recording(Path(path), topics=dict(raw.topics), topic_counts=dict(raw.topic_counts),
                    problems=list(raw.problems), recovered=raw.recovered)
    if not rec.has_sarl_topics:
        present = ', '.join(sorted(raw.topics)) or 'none'
        rec.problems.append(f'{path}: no SARL topics in this bag (topics: {present}); expected some of '
                            f'{", ".join(SARL_TOPICS)}')
        return rec
    if not any(connection.topic in SARL_TOPICS for connection, _, _ in raw.messages):
        rec.problems.append(f'{path}: the SARL topics hold no messages (did the graph run while recording?)')
    decoder = Decoder()
    failures: Counter = Counter()
    for connection, time_ns, data in raw.messages:
        if connection.topic in IMAGE_TOPICS:
            rec.image_times_ns.append(time_ns)
            rec.counts[connection.topic] += 1
            continue
        attribute, convert = CONVERTERS[connection.topic]
        try:
            record = convert(decoder.decode(connection, data), time_ns)
        except DecodeError as exc:
            failures[connection.topic] += 1
            if failures[connection.topic] == 1:
                decoder.report(str(exc))
            continue
        except (AttributeError, TypeError, ValueError) as exc:
            failures[connection.topic] += 1
            decoder.report(f'{connection.topic}: a message does not fit a {connection.msgtype} ({exc})')
            continue
        getattr(rec, attribute).append(record)
        rec.counts[connection.topic] += 1
    rec.problems.extend(decoder.problems)
    for topic, count in failures.items():
        rec.problems.append(f'{topic}: {count} message(s) could not be decoded and were skipped')
    rec.episodes, episode_problems = rebuild_episodes(rec)
    rec.problems.extend(episode_problems)
    return rec


def read_recordings(paths: Iterable[str | Path], **kw) -> list[Recording]:
    """Return one Recording per bag."""
    return [read_recording(p, **kw) for p in paths]
