"""The simulated VLM of the paper tasks: proposes commands from the task, what it perceives, and the history.

It sees the scene only through sarl_ros.sim.perception (noisy: missed objects, wrong held state,
look-alikes confused) and never reads Q_sem's features, subgoal flags or metric positions. Like a
VLM it decomposes the task into steps, refers to objects the way the task does ("the right pot",
"the left stuffed toy") or by what it sees ("the red pot"), and ranks its proposals by its own
plausibility. Its candidate set mixes commands for every step of the task (those of the step it
believes is current ranked higher), so choosing well needs the state. It does not know which
phrasings the robot's VLA executes. Scores follow the real proposer (backends/vlm_proposer.py): the
whole task 0.0, the VLM's own commands 1 - rank / count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation
from sarl_ros.sim.perception import Perception, PerceptionNoise
from sarl_ros.sim.task_scenes import PAPER, load_protocol
from sarl_ros.sim.view import SeenObject


@dataclass(frozen=True)
class Step:
    """grasp obj, or put obj prep dest; obj/dest are reference keys of the protocol's vocabulary."""

    verb: str
    obj: str
    prep: str | None = None
    dest: str | None = None


# How the VLM reads each paper task (its decomposition, in its own reference keys).
DECOMPOSITIONS = {
    'move the hammer to the plate, then grasp the mushroom': (
        Step('grasp', 'hammer'), Step('put', 'hammer', 'on', 'plate'), Step('grasp', 'mushroom')),
    'put the banana in the right pot and the sushi in the bowl': (
        Step('grasp', 'banana'), Step('put', 'banana', 'in', 'pot'), Step('grasp', 'sushi'),
        Step('put', 'sushi', 'in', 'bowl')),
    'put the left stuffed toy in the largest bowl': (
        Step('grasp', 'left_toy'), Step('put', 'left_toy', 'in', 'largest_bowl')),
    'put the pot lid on the towel': (Step('grasp', 'lid'), Step('put', 'lid', 'on', 'towel')),
}
# Which seen object a reference key means, in the VLM's perceived scene: its kind and how the
# task's words pick one of several ("the right pot": the rightmost in the image).
PAPER_REFERENTS = {'pot': {'kind': 'pot', 'pick': 'rightmost'}, 'left_toy': {'kind': 'toy', 'pick': 'leftmost'},
                   'largest_bowl': {'kind': 'bowl', 'pick': 'large'}, 'bowl': {'kind': 'bowl', 'pick': 'first'}}
# The paper protocol's verbs, in the order the VLM phrases them ({obj}, {prep}, {dest}: filled per step).
PAPER_VERBS = {
    'grasp': [['grasp {obj}', 1.0], ['pick up {obj}', 0.95], ['move the gripper over {obj}', 0.5]],
    'approach_prefix': 'move the gripper over',
    'down_grasp': 'move down and grasp',
    'put': [['put it {prep} {dest}', 0.9], ['put {obj} {prep} {dest}', 1.0], ['place {obj} {prep} {dest}', 0.85],
            ['drop it {prep} {dest}', 0.8], ['move the gripper over {dest}', 0.45]],
}
_PICKS = ('first', 'rightmost', 'leftmost', 'large', 'small')


def _referent(key: str, seen: list[SeenObject], referents: dict | None = None) -> SeenObject | None:
    rule = (referents or PAPER_REFERENTS).get(key, {'kind': key, 'pick': 'first'})
    members = [o for o in seen if o.kind == rule['kind']]
    if not members:
        return None
    pick = rule['pick']
    if pick == 'rightmost':
        return max(members, key=lambda o: o.image_x)
    if pick == 'leftmost':
        return min(members, key=lambda o: o.image_x)
    if pick in ('large', 'small'):
        return next((o for o in members if o.size == pick), members[0])
    return members[0]


class PaperVLMProposer:
    """PromptProposer (sarl_ros.core.mdp) for the paper tasks; reads observation.info['scene_view']."""

    def __init__(self, seed: int = 0, protocol: dict | None = None):
        self.protocol = protocol or load_protocol()
        self.rng = np.random.default_rng(seed)
        self.perception = Perception(PerceptionNoise.from_protocol(self.protocol), self.rng)
        vlm = self.protocol['vlm']
        self.weights = (vlm['current_step_weight'], vlm['other_step_weight'], vlm['generic_weight'])
        self.gumbel_scale = float(vlm['gumbel_scale'])
        self.generic = tuple(vlm['generic_commands'])
        self.references = {key: [(text, float(w)) for text, w in refs]
                           for key, refs in self.protocol['references'].items()}
        # A protocol may bring its own tasks, referent rules and verbs (the held-out tasks do).
        self.decompositions = dict(DECOMPOSITIONS)
        self.decompositions.update({text: tuple(Step(*step) for step in steps)
                                    for text, steps in self.protocol.get('decompositions', {}).items()})
        self.referents = dict(PAPER_REFERENTS)
        self.referents.update(self.protocol.get('referents', {}))
        bad = [key for key, rule in self.referents.items() if rule.get('pick') not in _PICKS]
        if bad:
            raise ValueError(f'referent rules {bad} need a pick among {_PICKS}')
        self.verbs = self.protocol.get('verbs', PAPER_VERBS)
        self.task_texts = {name: entry['text'] for name, entry in self.protocol.get('tasks', {}).items()
                           if isinstance(entry, dict) and 'text' in entry}

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        """Return the whole task (score 0.0) and up to max_candidates - 1 ranked VLM commands."""
        text, steps, seen = self._read(observation, task, max_candidates)
        pool = self._pool(steps, seen, list(history))
        commands = self._rank(pool, max_candidates - 1, exclude=text)
        return [Candidate(text, SOURCE_TASK, 0.0)] + [
            Candidate(c, SOURCE_VLM, round(1.0 - i / len(commands), 3)) for i, c in enumerate(commands)]

    def choose_from_pool(self, observation: Observation, task: str, history: Sequence[str], pool: Sequence[str],
                         max_candidates: int) -> list[Candidate]:
        """Return the whole task and up to max_candidates - 1 commands chosen from a frozen instruction pool.

        The VLM scores each pool prompt by its own plausibility in the scene it perceives (a prompt it
        would not phrase itself now gets the generic commands' weight, halved) and picks the top ones
        with the same ranking noise as when it proposes freely (PooledProposer calls this).
        """
        text, steps, seen = self._read(observation, task, max_candidates)
        plausible = self._pool(steps, seen, list(history))
        floor = 0.5 * self.weights[2]
        scores = {p: plausible.get(p, floor) for p in pool}
        commands = self._rank(scores, max_candidates - 1, exclude=text)
        return [Candidate(text, SOURCE_TASK, 0.0)] + [
            Candidate(c, SOURCE_VLM, round(1.0 - i / len(commands), 3)) for i, c in enumerate(commands)]

    def _read(self, observation: Observation, task: str, max_candidates: int):
        if max_candidates < 1:
            raise ValueError(f'max_candidates must be at least 1, got {max_candidates}')
        text = self.task_texts.get(task) or _task_text(task)
        steps = self.decompositions.get(text)
        if steps is None:
            raise ValueError(f'the simulated VLM cannot decompose {task!r}; it reads: {", ".join(self.decompositions)}')
        view = observation.info.get('scene_view')
        if view is None:
            raise ValueError('the observation carries no camera view (info["scene_view"]) for the simulated VLM')
        return text, steps, self.perception.perceive(view)

    # --- internals -----------------------------------------------------------------------
    def _phrases(self, key: str, seen: list[SeenObject]) -> list[tuple[str, float]]:
        """Return the VLM's ways to refer to a key: literal, generic, and by the colours it sees."""
        referent = _referent(key, seen, self.referents)
        others = [o for o in seen if referent is not None and o.kind == referent.kind and o is not referent]
        phrases = []
        for template, weight in self.references.get(key, [(f'the {key}', 1.0)]):
            if '{colour}' in template:
                if referent is None:
                    continue
                phrases.append((template.replace('{colour}', referent.colour), weight))
            elif '{other}' in template:
                phrases += [(template.replace('{other}', o.colour), weight) for o in others]
            else:
                phrases.append((template, weight))
        return phrases

    def _step_done(self, step: Step, seen: list[SeenObject]) -> bool:
        obj = _referent(step.obj, seen, self.referents)
        if obj is None:
            return False
        if step.verb == 'grasp':
            return obj.held
        dest = _referent(step.dest, seen, self.referents)
        return dest is not None and not obj.held and obj.inside == dest.name

    def _pool(self, steps, seen: list[SeenObject], history: list[str]) -> dict[str, float]:
        current = next((i for i, step in enumerate(steps) if not self._step_done(step, seen)), len(steps) - 1)
        # A task whose last step is a grasp is over once it is held: the VLM then sees nothing to do.
        pool: dict[str, float] = {}

        def add(prompt: str, plausibility: float) -> None:
            pool[prompt] = max(pool.get(prompt, 0.0), plausibility)

        verbs = self.verbs
        approached = bool(history) and history[-1].startswith(verbs['approach_prefix'])
        for index, step in enumerate(steps):
            weight = self.weights[0] if index == current else self.weights[1]
            objects = self._phrases(step.obj, seen)
            if step.verb == 'grasp':
                for ref, w in objects:
                    for template, verb_weight in verbs['grasp']:
                        add(template.format(obj=ref), weight * verb_weight * w)
                add(verbs['down_grasp'], weight * (0.8 if approached else 0.4))
                continue
            top_object = objects[0][0] if objects else 'it'
            for ref, w in self._phrases(step.dest, seen):
                for template, verb_weight in verbs['put']:
                    add(template.format(obj=top_object, prep=step.prep, dest=ref), weight * verb_weight * w)
        for command in self.generic:
            add(command, self.weights[2])
        return pool

    def _rank(self, pool: dict[str, float], count: int, exclude: str) -> list[str]:
        prompts = [p for p in pool if p != exclude]
        if count <= 0 or not prompts:
            return []
        plausibility = np.log(np.array([pool[p] for p in prompts]) + 1e-6)
        keys = plausibility + self.rng.gumbel(size=len(prompts)) * self.gumbel_scale
        order = np.argsort(-keys)[:count]
        return [prompts[i] for i in order]


def _task_text(task: str) -> str:
    for spec in PAPER:
        if task in (spec.name, spec.text):
            return spec.text
    return ' '.join(str(task).lower().split())
