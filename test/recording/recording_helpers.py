"""A realistic SARL message stream, built without ROS, as CDR bytes ready for a bag or a publisher.

The run: a two-phase task (pick, then place); at each decision the policy scores four
candidates, samples one, the arm runs three control steps (each with a camera image), and
the learner stores a transition. A right prompt advances the phase; both phases done is a
success (reward 1, terminal); four decisions without success is a timeout (truncated).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sarl_ros import names
from sarl_ros.recording.bag.writer import BagWriter
from sarl_ros.recording.bag.message_types import TOPIC_TYPES, own_typestore

SOLUTION = ('pick up the sushi', 'put the sushi in the pot')
DISTRACTORS = ('open the gripper', 'move left', 'push the pot', 'lift the lid')
BUDGET = 4
CONTROL_STEPS = 3
START_NS = 1_700_000_000 * 10**9


@dataclass
class Run:
    """The messages of a synthetic run, in publish order, and what they mean."""

    stream: list[tuple[str, int, bytes]] = field(default_factory=list)  # (topic, time ns, CDR)
    outcomes: list[str] = field(default_factory=list)
    chosen: list[list[str]] = field(default_factory=list)  # per episode
    chosen_q: list[float] = field(default_factory=list)
    transition_cdr: list[bytes] = field(default_factory=list)

    def topic_count(self, topic: str) -> int:
        """Return how many messages the run has on a topic."""
        return sum(1 for t, _, _ in self.stream if t == topic)


class _Builder:
    def __init__(self, store, seed: int, width: int, height: int):
        self.store, self.types = store, store.types
        self.rng = np.random.default_rng(seed)
        self.now = START_NS
        self.width, self.height = width, height
        self.run = Run()

    def header(self):
        t = self.types
        return t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](
            sec=self.now // 10**9, nanosec=self.now % 10**9), frame_id='')

    def put(self, topic: str, msg):
        self.now += 10_000_000  # 10 ms between messages
        data = bytes(self.store.serialize_cdr(msg, TOPIC_TYPES[topic]))
        self.run.stream.append((topic, self.now, data))
        return data

    def action(self, prompt: str, source: str = 'vlm'):
        return self.types['sarl_ros/msg/SemanticAction'](prompt=prompt, source=source)

    def event(self, kind: int, episode: int, detail: str = ''):
        self.put(names.TOPIC_EVENTS, self.types['sarl_ros/msg/EpisodeEvent'](
            header=self.header(), type=kind, episode=episode, task='put the sushi in the pot', detail=detail))

    def image(self, episode: int, step: int):
        pixels = self.rng.integers(0, 256, size=(self.height, self.width, 3), dtype=np.uint8)
        pixels[:, :, 0] = (episode * 40 + step * 10) % 256
        self.put(names.TOPIC_CAMERA, self.types['sensor_msgs/msg/Image'](
            header=self.header(), height=self.height, width=self.width, encoding='rgb8', is_bigendian=0,
            step=self.width * 3, data=pixels.reshape(-1)))

    def candidates(self, phase: int) -> list[str]:
        others = list(self.rng.choice(DISTRACTORS, size=3, replace=False))
        pool = [SOLUTION[phase], *others]
        self.rng.shuffle(pool)
        return pool

    def episode(self, number: int, skill: float):
        t = self.types
        self.event(1, number)
        self.event(2, number)
        self.event(0, number)
        phase, state, chosen = 0, self.rng.normal(size=6).astype(np.float32), []
        prompts = self.candidates(phase)
        for step in range(BUDGET):
            q = np.array([skill if p == SOLUTION[phase] else 0.1 * self.rng.random() for p in prompts], np.float32)
            probs = np.exp(q / 0.2) / np.exp(q / 0.2).sum()
            index = int(self.rng.choice(len(prompts), p=probs))
            self.put(names.TOPIC_CANDIDATES, t['sarl_ros/msg/CandidateSet'](
                header=self.header(), episode=number, decision_step=step, task='put the sushi in the pot',
                method='sarl', candidates=[self.action(p) for p in prompts], q_values=q,
                probabilities=probs.astype(np.float32), chosen_index=index, temperature=0.2, greedy=False))
            chosen.append(prompts[index])
            self.run.chosen_q.append(float(q[index]))
            for control in range(CONTROL_STEPS):
                self.put(names.TOPIC_EXECUTED_ACTIONS, t['sarl_ros/msg/ExecutedAction'](
                    header=self.header(), episode=number, decision_step=step, control_step=control,
                    prompt=prompts[index], action=self.rng.normal(size=7).astype(np.float32) * 0.01, clipped=False))
                self.image(number, step)
            phase += prompts[index] == SOLUTION[phase]
            success = phase == len(SOLUTION)
            last = step == BUDGET - 1
            next_state = (state + self.rng.normal(size=6) * 0.1).astype(np.float32)
            next_prompts = [] if success else self.candidates(phase)
            if success:
                self.put(names.TOPIC_REWARDS, t['sarl_ros/msg/RewardSignal'](
                    header=self.header(), episode=number, decision_step=step, value=1.0, source=1,
                    confidence=0.9, detail='detector', failed_for_good=False))
            self.run.transition_cdr.append(self.put(names.TOPIC_TRANSITIONS, t['sarl_ros/msg/Transition'](
                header=self.header(), episode=number, decision_step=step, task='put the sushi in the pot',
                state_features=state, action=self.action(prompts[index]), reward=float(success),
                control_steps=CONTROL_STEPS, next_state_features=next_state,
                next_candidates=[self.action(p) for p in next_prompts], terminal=success,
                truncated=last and not success)))
            state, prompts = next_state, next_prompts
            if success:
                break
        outcome = 'success' if success else 'timeout'
        self.event(3 if success else 5, number, f'{len(chosen)} decisions')
        self.run.outcomes.append(outcome)
        self.run.chosen.append(chosen)
        self.put(names.TOPIC_LEARNER_STATS, t['sarl_ros/msg/LearnerStats'](
            header=self.header(), method='sarl', episodes=number, transitions=len(self.run.transition_cdr),
            updates=8 * len(self.run.transition_cdr), td_loss=0.1 / number, mean_q=skill, temperature=0.2,
            recent_success_rate=self.run.outcomes.count('success') / len(self.run.outcomes)))


def synthetic_run(episodes: int = 6, seed: int = 0, width: int = 32, height: int = 24) -> Run:
    """Return a run whose policy gets better over the episodes."""
    builder = _Builder(own_typestore(), seed, width, height)
    for number in range(1, episodes + 1):
        builder.episode(number, skill=0.2 + 0.8 * number / episodes)
    return builder.run


def write_bag(path, run: Run, *, storage: str = 'mcap', close: bool = True, flush_every: int = 0) -> BagWriter:
    """Write a run to a new bag; flush_every>0 flushes (one MCAP chunk) every that many messages."""
    writer = BagWriter(path, storage)
    for topic in TOPIC_TYPES:
        if topic != names.TOPIC_SIM_CAMERA:
            writer.add_topic(topic, TOPIC_TYPES[topic], reliable=topic != names.TOPIC_CAMERA)
    for number, (topic, stamp, data) in enumerate(run.stream, start=1):
        writer.write(topic, stamp, data)
        if flush_every and number % flush_every == 0:
            writer.flush()
    if close:
        writer.close()
    else:
        writer.flush()
    return writer


def learner_transitions(run: Run):
    """Return the core transitions the learner stores, from the CDR of the run (ROS-free decoding)."""
    from sarl_ros.recording.records import transition_record
    store = own_typestore()
    return [transition_record(store.deserialize_cdr(d, 'sarl_ros/msg/Transition'), 0).transition
            for d in run.transition_cdr]
