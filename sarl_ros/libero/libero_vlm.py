"""A VLM stand-in proposing commands for LIBERO scenes, under the WidowX proposer's rules.

It reads the task text, the prompt history and a perception stand-in: observation.info
['perceived'] (which goal facts hold, what the gripper holds), each flipped or dropped with
probability `perception_error`, as a VLM misreads an image. It splits the task into steps with
generic clause rules, phrases every step several ways (not only the current one: candidates are
not filtered to the right phase) and adds look-alike and low-level commands. vlm_score is its own
plausibility; it does not know which phrasings the LIBERO-90 repertoire executes well.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation
from sarl_ros.core.proposals import MAX_CANDIDATES, normalize_prompt

LOW_LEVEL = ('move up', 'open the gripper', 'close the gripper', 'move to the left', 'move to the right')


def task_steps(text: str) -> list[str]:
    """Split a task into step commands: 'put both the a and the b in the c' -> two puts, 'it' resolved."""
    text = normalize_prompt(text)
    both = re.match(r'^put both the (.+?) and the (.+?) (in|on) (the .+)$', text)
    if both:
        return [f'put the {both.group(1)} {both.group(3)} {both.group(4)}',
                f'put the {both.group(2)} {both.group(3)} {both.group(4)}']
    plural = re.match(r'^put both (\w+(?: \w+)*?)s (in|on) (the .+)$', text)
    if plural:
        noun = plural.group(1)
        return [f'put the {side} {noun} {plural.group(2)} {plural.group(3)}' for side in ('left', 'right')]
    steps: list[str] = []
    last_place = None
    for clause in re.split(r'\s+and\s+(?=(?:put|place|close|open|turn|pick)\b)', text):
        places = re.findall(r'\b(?:in|on|into|onto) (the [a-z ]+?)(?: and|$)', clause)
        if re.search(r'\bit\b', clause):
            target = last_place or (steps[-1].split(' the ', 1)[-1] if steps else '')
            if clause.startswith(('close', 'open', 'turn')):
                # "close it" names the container of the previous step.
                clause = re.sub(r'\bit\b', target or 'it', clause)
            else:
                subject = (re.search(r'(?:pick up|put|place) (the [a-z ]+?)(?: and|$| in| on)', steps[-1])
                           if steps else None)
                clause = re.sub(r'\bit\b', subject.group(1) if subject else (last_place or 'it'), clause, count=1)
        if places:
            last_place = places[-1]
        elif clause.startswith('turn on') or clause.startswith('turn off'):
            last_place = clause.split(' ', 2)[-1]
        steps.append(clause.strip())
    return steps


def _variants(step: str) -> list[tuple[str, float]]:
    """Other ways a VLM would phrase a step, with its own preference."""
    out = [(step, 0.85)]
    put = re.match(r'^(?:put|place) (the [a-z ]+?) (in|on|to) (the .+)$', step)
    if put:
        obj, prep, dest = put.groups()
        out += [(f'pick up {obj} and put it {prep} {dest}', 0.8), (f'place {obj} {prep} {dest}', 0.75),
                (f'pick up {obj}', 0.6), (f'move {obj} to {dest}', 0.55), (f'drop {obj} {prep} {dest}', 0.5)]
    pick = re.match(r'^pick up (the [a-z ]+)$', step)
    if pick:
        out += [(f'grasp {pick.group(1)}', 0.7), (f'lift {pick.group(1)}', 0.5)]
    close = re.match(r'^close (the .+)$', step)
    if close:
        out += [(f'shut {close.group(1)}', 0.6), (f'push {close.group(1)} closed', 0.5)]
    turn = re.match(r'^turn on (the .+)$', step)
    if turn:
        out += [(f'switch on {turn.group(1)}', 0.65), (f'turn the knob of {turn.group(1)}', 0.5)]
    return out


class LiberoVLMProposer:
    """The PromptProposer for LIBERO-10 (sarl_ros.core.mdp.PromptProposer)."""

    def __init__(self, seed: int = 0, perception_error: float = 0.15, min_candidates: int = 6,
                 max_candidates: int = MAX_CANDIDATES):
        if not 0.0 <= perception_error <= 1.0:
            raise ValueError(f'perception_error must be in [0, 1], got {perception_error}')
        if not 1 <= min_candidates <= max_candidates:
            raise ValueError(f'need 1 <= min_candidates <= max_candidates, got {min_candidates}, {max_candidates}')
        self.rng = np.random.default_rng(seed)
        self.perception_error = perception_error
        self.min_candidates, self.max_candidates = min_candidates, max_candidates

    def perceive(self, observation: Observation) -> tuple[list[bool], str | None]:
        """Read the goal facts and the held object, with perception errors."""
        perceived = observation.info.get('perceived') or {}
        facts = [bool(f) != bool(self.rng.random() < self.perception_error) for f in perceived.get('goal_facts', [])]
        held = perceived.get('held')
        if held is not None and self.rng.random() < self.perception_error:
            held = None
        return facts, held

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        if max_candidates <= 0:
            raise ValueError(f'max_candidates must be positive, got {max_candidates}')
        text = normalize_prompt(task)
        steps = task_steps(text)
        if not steps:
            raise ValueError(f'the simulated VLM finds no step in the task {task!r}')
        facts, held = self.perceive(observation)
        done = sum(facts)
        current = min(int(done * len(steps) / max(len(facts), 1)), len(steps) - 1)
        pool: list[tuple[str, float]] = []
        for index, step in enumerate(steps):
            weight = 1.0 if index == current else 0.6
            pool += [(prompt, score * weight) for prompt, score in _variants(step)]
        if held is not None:
            pool += [('put it down', 0.5), ('open the gripper', 0.45)]
        if history and history[-1] in {p for p, _ in pool}:
            pool += [(history[-1], 0.4)]  # a VLM often repeats a command it just sent
        pool += [(command, 0.2) for command in LOW_LEVEL]
        wanted = min(max_candidates, int(self.rng.integers(self.min_candidates, self.max_candidates + 1)))
        chosen = [Candidate(text, SOURCE_TASK, 0.9)]
        seen = {text}
        unique = [(p, s) for p, s in pool if not (p in seen or seen.add(p))]
        keys = np.log(np.array([s for _, s in unique]) + 1e-6) + self.rng.gumbel(size=len(unique)) * 0.6
        for i in np.argsort(-keys)[:max(wanted - 1, 0)]:
            chosen.append(Candidate(unique[i][0], SOURCE_VLM, round(float(unique[i][1]), 3)))
        return chosen[:max_candidates]
