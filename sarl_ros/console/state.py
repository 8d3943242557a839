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

EVENT_NAMES = ('start', 'reset_requested', 'reset_done', 'success', 'failure', 'timeout', 'aborted', 'paused')
END_EVENTS = ('success', 'failure', 'timeout', 'aborted')


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
    def __init__(self, event_history: int = 50):
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
        self.outcomes: dict[int, bool] = {}
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
    def on_episode_event(self, kind: str, episode: int, task: str, detail: str) -> None:
        with self._lock:
            self.events.appendleft({'time': time.time(), 'episode': episode, 'kind': kind, 'detail': detail})
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
            elif kind in END_EVENTS:
                self.outcomes[episode] = kind == 'success'
                self.phase, self.running = f'episode {episode}: {kind}', False
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
            chosen = candidates[chosen_index].prompt if 0 <= chosen_index < len(candidates) else ''
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
                self.estop_engaged = estop_engaged
            if paused is not None:
                self.paused = paused
            self._changed()

    # --- reads ---------------------------------------------------------------------------------
    def running_episode(self) -> int | None:
        with self._lock:
            return self.episode if self.running else None

    def jpeg(self) -> bytes | None:
        with self._lock:
            return self._jpeg

    def snapshot(self) -> dict:
        with self._lock:
            curve = [{'episode': e, 'success': s} for e, s in sorted(self.outcomes.items())]
            return {
                'version': self.version, 'task': self.task, 'episode': self.episode, 'phase': self.phase,
                'running': self.running, 'decisions_in_episode': self.decisions_in_episode,
                'decisions_total': self.decisions_total, 'method': self.method,
                'temperature': self.temperature,
                'candidates': [{'prompt': c.prompt, 'q_value': c.q_value, 'probability': c.probability,
                                'source': c.source, 'chosen': i == self.chosen_index}
                               for i, c in enumerate(self.candidates)],
                'executing': dict(self.executing), 'outcomes': curve,
                'episodes_done': len(curve), 'successes': sum(s for s in self.outcomes.values()),
                'events': list(self.events), 'learner': dict(self.learner),
                'estop_engaged': self.estop_engaged, 'paused': self.paused, 'image_seq': self.image_seq,
            }
