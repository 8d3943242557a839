"""What the operator sees: one thread-safe view of the running experiment.

The ROS node feeds it from topics (any thread); the web server reads snapshots and waits
for changes from its asyncio loop. Only values chosen here are ever shown: no parameters,
no environment, so nothing secret can reach the page.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from sarl_ros.node_configs import OperatorConsoleConfig
from sarl_ros.core.events import (CORRECTED_BY_OPERATOR, PAUSED_BY_OPERATOR, WAITING_FOR_RELEASE, WAITING_FOR_RESET,
                                  WAITING_FOR_VERDICT)

EVENT_NAMES = ('start', 'reset_requested', 'reset_done', 'success', 'failure', 'timeout', 'aborted', 'paused')
END_EVENTS = ('success', 'failure', 'timeout', 'aborted')
DECIDED = ('success', 'failure', 'timeout')  # an aborted episode is neither a success nor a failure

# What the run can wait for from a person: (what, the words on the page and terminal, the keys).
NEEDS = {
    'reset': ('reset the scene, then confirm the reset', 'r'),
    'verdict': ('give the verdict of this episode: success or failure', 's / f'),
    'release': ('the emergency stop is engaged: make the arm safe, then release it', 'u'),
    'resume': ('the run is paused: resume it', 'p'),
}
# PAUSED (or RESET_REQUESTED) event details -> what the run waits for.
_WAITING = ((WAITING_FOR_RESET, 'reset'), (WAITING_FOR_VERDICT, 'verdict'), (WAITING_FOR_RELEASE, 'release'),
            (PAUSED_BY_OPERATOR, 'resume'))


def needs_for(detail: str) -> str | None:
    return next((what for prefix, what in _WAITING if detail.startswith(prefix)), None)


@dataclass
class Candidate:
    prompt: str
    q_value: float
    probability: float
    source: str = ''


class Changes:
    """Wake asyncio waiters (the live streams) from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        return waiter

    def unsubscribe(self, waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: its stream is gone
                self.unsubscribe((loop, event))


class ConsoleState:
    def __init__(self, event_history: int = OperatorConsoleConfig.event_history):
        self._lock = threading.Lock()
        self.changes = Changes()
        self.version = 0
        self.task = ''
        self.episode = 0
        self.phase = 'waiting for the graph'
        self.running = False
        self.decisions_in_episode = 0
        self.decisions_total = 0
        self.method = ''
        self.temperature = 0.0
        self.candidates: list[Candidate] = []
        self.chosen_index = -1
        self.executing = {'prompt': '', 'decision_step': 0, 'control_step': 0, 'last_action': []}
        self.outcomes: dict[int, str] = {}  # episode -> success, failure, timeout or aborted
        self.history: dict[int, dict] = {}  # episode -> what the records say (outcome, who decided, prompts...)
        self.correctable: int | None = None  # the episode that just ended, until the next one starts
        self._waiting: tuple[str, float] | None = None  # (what, since) from the graph's events
        self.estop_since: float | None = None
        self.events: deque[dict] = deque(maxlen=event_history)
        self.learner: dict = {}
        self.estop_engaged = False
        self.paused = False
        self.image_seq = 0
        self._jpeg: bytes | None = None

    def _changed(self) -> None:
        self.version += 1
        self.changes.notify()

    # --- updates from the graph ------------------------------------------------------------
    def on_episode_event(self, kind: str, episode: int, task: str, detail: str, stamp: float | None = None) -> None:
        now = time.time() if stamp is None else stamp
        with self._lock:
            self.events.appendleft({'time': now, 'episode': episode, 'kind': kind, 'detail': detail})
            if kind in END_EVENTS and detail.startswith(CORRECTED_BY_OPERATOR):
                # A verdict corrected while the next episode waits: that wait and the phase go on.
                self.outcomes[episode] = kind
                self.history.setdefault(episode, {'episode': episode, 'prompts': []}).update(
                    outcome=kind, decided_by='person', corrected=True)
                self._changed()
                return
            waiting = needs_for(detail) if kind in ('paused', 'reset_requested') else None
            if waiting is not None:
                if self._waiting is None or self._waiting[0] != waiting:
                    self._waiting = (waiting, now)
            elif kind != 'paused':
                self._waiting = None
            self.task = task or self.task
            if episode > self.episode or kind == 'reset_requested':
                self.episode = max(self.episode, episode)
            if kind == 'reset_requested':
                self.phase, self.running, self.decisions_in_episode = 'reset requested', False, 0
                self.candidates, self.chosen_index = [], -1
            elif kind == 'reset_done':
                self.phase = 'scene reset'
            elif kind == 'start':
                self.phase, self.running = 'running', True
                self.correctable = None
                self.history[episode] = {'episode': episode, 'outcome': 'running', 'prompts': [], 'started': now,
                                         'frames': self.history.get(episode, {}).get('frames', [])}
            elif kind in END_EVENTS:
                self.outcomes[episode] = kind
                entry = self.history.setdefault(episode, {'episode': episode, 'prompts': []})
                decided_by = detail.rsplit('decided by ', 1)[1] if 'decided by ' in detail else ''
                entry.update(outcome=kind, detail=detail, decided_by=decided_by)
                entry['decisions'] = len(entry.setdefault('prompts', []))
                if 'started' in entry:
                    entry['seconds'] = round(now - entry.pop('started'), 1)
                self.phase, self.running = f'episode {episode}: {kind}', False
                self.correctable = episode if kind in DECIDED else None
            elif kind == 'paused':
                self.phase = detail or 'paused'
            self._changed()

    def on_decision(self, episode: int, step: int, task: str, method: str, temperature: float,
                    candidates: list[Candidate], chosen_index: int) -> None:
        with self._lock:
            self.episode, self.task = max(self.episode, episode), task or self.task
            self.method, self.temperature = method, temperature
            self.candidates, self.chosen_index = candidates, chosen_index
            self.decisions_in_episode = step + 1
            self.decisions_total += 1
            if self._waiting is not None and self._waiting[0] == 'verdict':
                self._waiting = None  # the run went on: the verdict came, or its wait ran out
            chosen = candidates[chosen_index].prompt if 0 <= chosen_index < len(candidates) else ''
            self.history.setdefault(episode, {'episode': episode, 'outcome': 'running',
                                              'prompts': []}).setdefault('prompts', []).append(chosen)
            self.executing = {'prompt': chosen, 'decision_step': step, 'control_step': 0, 'last_action': []}
            self._changed()

    def on_control_step(self, prompt: str, decision_step: int, control_step: int, action: list[float]) -> None:
        with self._lock:
            self.executing = {'prompt': prompt, 'decision_step': decision_step, 'control_step': control_step,
                              'last_action': [round(float(a), 4) for a in action]}
            self._changed()

    def on_learner(self, stats: dict) -> None:
        with self._lock:
            self.learner = stats
            self._changed()

    def on_image(self, jpeg: bytes) -> None:
        with self._lock:
            self._jpeg = jpeg
            self.image_seq += 1
            self._changed()

    def set_operator_flags(self, *, estop_engaged: bool | None = None, paused: bool | None = None) -> None:
        with self._lock:
            if estop_engaged is not None:
                if estop_engaged and not self.estop_engaged:
                    self.estop_since = time.time()
                if not estop_engaged and self._waiting is not None and self._waiting[0] == 'release':
                    self._waiting = None  # released: the graph's next event says what it waits for
                self.estop_engaged = estop_engaged
            if paused is not None:
                self.paused = paused
            self._changed()

    def load_history(self, rows: list[dict]) -> None:
        """Episodes of this run finished before this console started (the run's episodes.csv)."""
        with self._lock:
            for row in rows:
                try:
                    episode = int(row['episode'])
                except (KeyError, TypeError, ValueError):
                    continue
                outcome = row.get('outcome') or ('success' if row.get('success') == '1' else 'failure')
                self.outcomes.setdefault(episode, outcome)
                self.history.setdefault(episode, {
                    'episode': episode, 'outcome': outcome, 'decided_by': row.get('decided_by') or '',
                    'prompts': [p for p in (row.get('prompts') or '').split(' | ') if p],
                    'decisions': int(row.get('decisions') or 0), 'seconds': float(row.get('seconds') or 0.0),
                    'task': row.get('task') or ''})
                self.episode = max(self.episode, episode)
            self._changed()

    def add_frames(self, episode: int, names: list[str]) -> None:
        """Thumbnails of an episode's scene (served by the web app from the run's frames directory)."""
        with self._lock:
            entry = self.history.setdefault(episode, {'episode': episode, 'outcome': 'running', 'prompts': []})
            entry.setdefault('frames', []).extend(names)
            self._changed()

    def frame_count(self, episode: int) -> int:
        with self._lock:
            return len(self.history.get(episode, {}).get('frames', ()))

    def needs(self) -> dict | None:
        with self._lock:
            return self._needs()

    def _needs(self) -> dict | None:
        if self.estop_engaged:
            what, since = 'release', self.estop_since
        elif self._waiting is not None:
            what, since = self._waiting
        elif self.paused and not self.running:
            what, since = 'resume', None
        else:
            return None
        text, keys = NEEDS[what]
        return {'what': what, 'text': text, 'keys': keys, 'since': since}

    # --- reads ---------------------------------------------------------------------------------
    def running_episode(self) -> int | None:
        with self._lock:
            return self.episode if self.running else None

    def jpeg(self) -> bytes | None:
        with self._lock:
            return self._jpeg

    def snapshot(self) -> dict:
        with self._lock:
            curve = [{'episode': e, 'success': o == 'success'} for e, o in sorted(self.outcomes.items())
                     if o in DECIDED]
            history = [{k: v for k, v in self.history[e].items() if k != 'started'}
                       for e in sorted(self.history, reverse=True)[:200]]
            return {
                'version': self.version, 'task': self.task, 'episode': self.episode, 'phase': self.phase,
                'running': self.running, 'decisions_in_episode': self.decisions_in_episode,
                'decisions_total': self.decisions_total, 'method': self.method,
                'temperature': self.temperature,
                'candidates': [{'prompt': c.prompt, 'q_value': c.q_value, 'probability': c.probability,
                                'source': c.source, 'chosen': i == self.chosen_index}
                               for i, c in enumerate(self.candidates)],
                'executing': dict(self.executing), 'outcomes': curve,
                'episodes_done': len(curve), 'successes': sum(c['success'] for c in curve),
                'aborted': sum(o == 'aborted' for o in self.outcomes.values()),
                'history': history, 'needs': self._needs(), 'correctable': self.correctable,
                'events': list(self.events), 'learner': dict(self.learner),
                'estop_engaged': self.estop_engaged, 'paused': self.paused, 'image_seq': self.image_seq,
            }
