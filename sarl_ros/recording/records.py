"""Plain records of what a SARL run published, built from decoded messages (no ROS needed).

The converters read fields by name, so they take rosbags' dataclasses and rclpy messages
alike; a field a bag's older definition lacks takes its default. Times are the bag's receive
times (ns): monotonic within a bag and set for every message, unlike header stamps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sarl_ros.core.events import END_KINDS, EventKind
from sarl_ros.core.mdp import Transition

# EpisodeEvent.type values (msg/EpisodeEvent.msg) -> the names records use.
EVENT_NAMES = {kind.value: kind.label for kind in EventKind}
END_EVENTS = tuple(kind.label for kind in END_KINDS)
REWARD_SOURCES = {0: 'human', 1: 'detector'}


def _floats(values) -> np.ndarray:
    # Recorded float32 arrays stay float32, bit for bit.
    return np.array(values if values is not None else (), dtype=np.float32)


@dataclass
class DecisionRecord:
    """A CandidateSet: the candidates the policy scored and the one it chose."""

    episode: int
    step: int
    task: str
    method: str
    prompts: tuple[str, ...]
    sources: tuple[str, ...]
    q_values: np.ndarray
    probabilities: np.ndarray
    chosen_index: int
    temperature: float
    greedy: bool
    time_ns: int

    @property
    def chosen_prompt(self) -> str:
        """Return the chosen prompt, '' when the index is out of range."""
        return self.prompts[self.chosen_index] if 0 <= self.chosen_index < len(self.prompts) else ''

    @property
    def chosen_q(self) -> float:
        """Return the Q-value of the chosen prompt (NaN when it was not recorded)."""
        if 0 <= self.chosen_index < len(self.q_values):
            return float(self.q_values[self.chosen_index])
        return float('nan')


@dataclass
class RewardRecord:
    """A RewardSignal."""

    episode: int
    step: int
    value: float
    source: str
    confidence: float
    detail: str
    time_ns: int


@dataclass
class EventRecord:
    """An EpisodeEvent."""

    kind: str
    episode: int
    task: str
    detail: str
    time_ns: int


@dataclass
class StatsRecord:
    """A LearnerStats message."""

    method: str
    episodes: int
    transitions: int
    updates: int
    td_loss: float
    mean_q: float
    temperature: float
    recent_success_rate: float
    time_ns: int


@dataclass
class ActionRecord:
    """An ExecutedAction: one control step sent to the arm."""

    episode: int
    step: int
    control_step: int
    prompt: str
    action: np.ndarray
    clipped: bool
    time_ns: int


@dataclass
class TransitionRecord:
    """A Transition message: the core transition plus what the core type does not keep."""

    transition: Transition
    task: str
    source: str
    time_ns: int

    @property
    def episode(self) -> int:
        """Return the episode number."""
        return self.transition.episode


@dataclass
class EpisodeRecord:
    """One episode rebuilt from events, decisions, transitions and rewards."""

    episode: int
    task: str = ''
    method: str = ''
    outcome: str = 'unfinished'  # success, failure, timeout, aborted, or unfinished
    start_ns: int = 0
    end_ns: int = 0
    decisions: list[DecisionRecord] = field(default_factory=list)
    transitions: list[TransitionRecord] = field(default_factory=list)
    rewards: list[RewardRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    control_steps: int = 0  # ExecutedAction messages
    images: int = 0
    run: int = 0  # counts restarts of the episode numbering within one bag

    @property
    def success(self) -> bool:
        """Return whether the episode ended in success."""
        return self.outcome == 'success'

    @property
    def prompts(self) -> list[str]:
        """Return the executed prompts in order (from transitions, else from decisions)."""
        if self.transitions:
            return [t.transition.prompt for t in self.transitions]
        return [d.chosen_prompt for d in self.decisions]

    @property
    def episode_return(self) -> float:
        """Return the undiscounted sum of rewards of the transitions."""
        return float(sum(t.transition.reward for t in self.transitions))

    @property
    def duration_s(self) -> float:
        """Return the wall-clock length of the episode in seconds."""
        return max(0, self.end_ns - self.start_ns) / 1e9


def decision_record(msg, time_ns: int) -> DecisionRecord:
    """Return the record of a CandidateSet message."""
    candidates = list(getattr(msg, 'candidates', ()))
    return DecisionRecord(
        episode=int(msg.episode), step=int(msg.decision_step), task=str(getattr(msg, 'task', '')),
        method=str(getattr(msg, 'method', '')), prompts=tuple(c.prompt for c in candidates),
        sources=tuple(getattr(c, 'source', '') for c in candidates), q_values=_floats(getattr(msg, 'q_values', ())),
        probabilities=_floats(getattr(msg, 'probabilities', ())), chosen_index=int(msg.chosen_index),
        temperature=float(getattr(msg, 'temperature', 0.0)), greedy=bool(getattr(msg, 'greedy', False)),
        time_ns=time_ns)


def transition_record(msg, time_ns: int) -> TransitionRecord:
    """Return the record of a Transition message (the same values rosutil.convert.transition_from_msg gives)."""
    transition = Transition(
        state=_floats(msg.state_features), prompt=str(msg.action.prompt), reward=float(msg.reward),
        next_state=_floats(msg.next_state_features),
        next_prompts=tuple(str(a.prompt) for a in getattr(msg, 'next_candidates', ())),
        terminal=bool(msg.terminal), control_steps=int(getattr(msg, 'control_steps', 1)),
        episode=int(msg.episode), step=int(msg.decision_step), truncated=bool(getattr(msg, 'truncated', False)))
    return TransitionRecord(transition, str(getattr(msg, 'task', '')), str(getattr(msg.action, 'source', '')),
                            time_ns)


def reward_record(msg, time_ns: int) -> RewardRecord:
    """Return the record of a RewardSignal message."""
    source = int(getattr(msg, 'source', 1))
    return RewardRecord(int(msg.episode), int(getattr(msg, 'decision_step', 0)), float(msg.value),
                        REWARD_SOURCES.get(source, str(source)), float(getattr(msg, 'confidence', 0.0)),
                        str(getattr(msg, 'detail', '')), time_ns)


def event_record(msg, time_ns: int) -> EventRecord:
    """Return the record of an EpisodeEvent message."""
    kind = int(msg.type)
    return EventRecord(EVENT_NAMES.get(kind, f'type_{kind}'), int(msg.episode), str(getattr(msg, 'task', '')),
                       str(getattr(msg, 'detail', '')), time_ns)


def stats_record(msg, time_ns: int) -> StatsRecord:
    """Return the record of a LearnerStats message."""
    return StatsRecord(str(getattr(msg, 'method', '')), int(getattr(msg, 'episodes', 0)),
                       int(getattr(msg, 'transitions', 0)), int(getattr(msg, 'updates', 0)),
                       float(getattr(msg, 'td_loss', 0.0)), float(getattr(msg, 'mean_q', 0.0)),
                       float(getattr(msg, 'temperature', 0.0)), float(getattr(msg, 'recent_success_rate', 0.0)),
                       time_ns)


def action_record(msg, time_ns: int) -> ActionRecord:
    """Return the record of an ExecutedAction message."""
    return ActionRecord(int(msg.episode), int(msg.decision_step), int(getattr(msg, 'control_step', 0)),
                        str(getattr(msg, 'prompt', '')), _floats(getattr(msg, 'action', ())),
                        bool(getattr(msg, 'clipped', False)), time_ns)
