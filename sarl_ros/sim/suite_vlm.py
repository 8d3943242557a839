"""A VLM stand-in proposing candidate commands for the simulated tabletop.

It reads only the task (name or text), the prompt history and observation.features (in the ROS
graph it runs in another process than the simulator). Like a VLM it splits the task into steps,
judges progress from what it "sees" (relative object positions and held flags in the features),
and phrases commands from a grammar of verbs x object references. It does not know which
phrasings the robot's VLA executes: vlm_score is its own plausibility, and some of its
favourite phrasings (the bare object name, "drop ... in ...", the whole task) fail on the robot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation
from sarl_ros.core.proposals import MAX_CANDIDATES
from sarl_ros.sim.privileged_features import MAX_OBJECTS, decode

# How the VLM refers to each object, with how natural it finds the phrase.
REFERENCES = {
    'hammer': (('the hammer', 1.0), ('the brown hammer', 0.75), ('the hammer handle', 0.7),
               ('the brown handle', 0.6)),
    'mushroom': (('the mushroom', 1.0), ('the brown mushroom', 0.7)),
    'spoon': (('the spoon', 1.0), ('the silver spoon', 0.7)),
    'plate': (('the plate', 1.0), ('the white plate', 0.6)),
    'pot': (('the pot', 1.0), ('the silver pot', 0.6)),
    'sushi': (('the sushi', 1.0), ('the salmon sushi', 0.75), ('the white and orange sushi', 0.6),
              ('the orange and white sushi', 0.55)),
    'towel': (('the towel', 1.0), ('the blue towel', 0.7), ('the cloth', 0.6)),
    'carrot': (('the carrot', 1.0), ('the orange carrot', 0.7)),
    'cube': (('the cube', 1.0), ('the red cube', 0.75), ('the red block', 0.6)),
}
CONTAINERS = frozenset({'plate', 'pot', 'towel'})
SYNONYMS = {'block': 'cube', 'cloth': 'towel', 'pan': 'pot', 'dish': 'plate'}
PLACED_DISTANCE = 0.06  # [m] an object this close to its destination (and not held) looks placed
LOW_LEVEL = ('move left', 'move right', 'move forward', 'move back', 'move up', 'close the gripper')


@dataclass(frozen=True)
class PlanStep:
    """One step the VLM reads from the task: grasp obj, or bring obj prep dest."""

    obj: str
    prep: str | None = None  # 'on' or 'in'
    dest: str | None = None


def mentioned_objects(text: str) -> tuple[str, ...]:
    """Return the known objects named in a text, in order of first mention."""
    found: list[str] = []
    for word in re.findall(r'[a-z]+', text.lower()):
        name = SYNONYMS.get(word, word)
        if name in REFERENCES and name not in found:
            found.append(name)
    return tuple(found)


def task_plan(text: str) -> list[PlanStep]:
    """Split a task into grasp / bring steps, the way a VLM would decompose it."""
    steps: list[PlanStep] = []
    last_obj = None
    for clause in re.split(r',|;|\bthen\b|\band\b', text.lower()):
        objects = mentioned_objects(clause)
        if not objects:
            if re.search(r'\bit\b', clause) and last_obj:
                objects = (last_obj,)
            else:
                continue
        dest_match = re.search(r'\b(on|onto|in|into|to)\b(?:\s+the)?\s+([a-z]+)\s*$', clause.strip())
        dest = SYNONYMS.get(dest_match.group(2), dest_match.group(2)) if dest_match else None
        if dest in REFERENCES and dest != objects[0] or (re.search(r'\bit\b', clause) and dest in REFERENCES):
            obj = objects[0] if objects[0] != dest else (last_obj or objects[0])
            prep = 'in' if dest == 'pot' else 'on'
            steps.append(PlanStep(obj, prep, dest))
            last_obj = obj
        else:
            steps.append(PlanStep(objects[0]))
            last_obj = objects[0]
    return steps


class SimVLMProposer:
    """The PromptProposer of the simulation (sarl_ros.core.mdp.PromptProposer)."""

    def __init__(self, seed: int = 0, min_candidates: int = 6, max_candidates: int = MAX_CANDIDATES):
        if not 1 <= min_candidates <= max_candidates:
            raise ValueError(f'need 1 <= min_candidates <= max_candidates, got {min_candidates}, {max_candidates}')
        self.rng = np.random.default_rng(seed)
        self.min_candidates, self.max_candidates = min_candidates, max_candidates

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        """Return 4-8 plausible commands (at most max_candidates), the task text first."""
        if max_candidates <= 0:
            raise ValueError(f'max_candidates must be positive, got {max_candidates}')
        text = _task_text(task)
        objects = mentioned_objects(text)
        if not objects:
            raise ValueError(f'the simulated VLM recognises no object in the task {task!r}; '
                             f'it knows {sorted(REFERENCES)}')
        view = decode(observation.features)
        pool = self._pool(text, objects, view, list(history))
        wanted = min(max_candidates, int(self.rng.integers(self.min_candidates, self.max_candidates + 1)))
        chosen = [Candidate(text, SOURCE_TASK, 0.9)]
        chosen += self._sample(pool, wanted - 1, exclude={text})
        return chosen[:max_candidates]

    # --- internals -----------------------------------------------------------------------
    def _pool(self, text: str, objects: tuple[str, ...], view, history: list[str]) -> list[tuple[str, float, str]]:
        """Return (prompt, vlm_score, slot) triples; slot groups alternatives for diverse sampling."""
        plan = task_plan(text)
        step = self._current_step(plan, objects, view)
        held = objects[view.held_slot] if view.held_slot is not None and view.held_slot < len(objects) else None
        pool: list[tuple[str, float, str]] = []
        if view.holding_any and held is None:
            # Holding something the task does not mention: let go first.
            pool += [('open the gripper', 0.7, 'release'), ('put it down', 0.6, 'release'),
                     ('drop it', 0.65, 'release')]
        if step is None:
            pool += [('lift', 0.5, 'misc'), ('open the gripper', 0.4, 'misc')]
            step = plan[-1] if plan else PlanStep(objects[0])
        obj, dest = step.obj, step.dest
        dest_refs = REFERENCES.get(dest, ()) if dest else ()
        if held == obj and dest:
            name = obj
            for ref, natural in dest_refs:
                pool += [(f'put it {step.prep} {ref}', 0.75 * natural, 'place'),
                         (f'place the {name} {step.prep} {ref}', 0.7 * natural, 'place_named'),
                         (f'drop it {step.prep} {ref}', 0.8 * natural, 'drop'),
                         (f'move the gripper over {ref}', 0.5 * natural, 'approach')]
            pool += [('open the gripper', 0.45, 'release'), ('lift', 0.3, 'misc')]
        elif held == obj:
            pool += [('lift', 0.5, 'misc'), ('open the gripper', 0.4, 'release'), ('move up', 0.35, 'misc')]
        else:
            for ref, natural in REFERENCES[obj]:
                pool += [(f'grasp {ref}', 0.8 * natural, 'grasp'), (f'pick up {ref}', 0.78 * natural, 'grasp'),
                         (f'move the gripper over {ref}', 0.5 * natural, 'approach')]
                if dest:
                    first_dest = dest_refs[0][0]
                    pool += [(f'put {ref} {step.prep} {first_dest}', 0.82 * natural, 'bring'),
                             (f'drop {ref} {step.prep} {first_dest}', 0.8 * natural, 'drop')]
            # After approaching, the natural follow-up is to go down and grasp.
            approached = bool(history) and history[-1].startswith(('move the gripper over', 'move over'))
            pool += [('move down and grasp', 0.65 if approached else 0.35, 'follow_up' if approached else 'lowlevel')]
        for other in objects:
            if other != obj and other != dest and other not in CONTAINERS:
                pool.append((f'grasp {REFERENCES[other][0][0]}', 0.6, 'other'))
        pool += [(command, 0.2, 'lowlevel') for command in LOW_LEVEL]
        return pool

    def _current_step(self, plan: list[PlanStep], objects: tuple[str, ...], view) -> PlanStep | None:
        """Return the first plan step that does not look done in the features."""
        for step in plan:
            if step.dest is None:
                if not _is_held(step.obj, objects, view):
                    return step
                continue
            obj_rel, dest_rel = _relative(step.obj, objects, view), _relative(step.dest, objects, view)
            if obj_rel is None or dest_rel is None:
                return step
            placed = np.hypot(*(obj_rel - dest_rel)[:2]) < PLACED_DISTANCE
            if not placed or _is_held(step.obj, objects, view):
                return step
        return None

    def _sample(self, pool: list[tuple[str, float, str]], count: int, exclude: set[str]) -> list[Candidate]:
        """Pick distinct prompts, spreading over slots, favouring plausible ones (Gumbel top-k)."""
        seen = set(exclude)
        unique = []
        for prompt, score, slot in pool:
            if prompt not in seen:
                seen.add(prompt)
                unique.append((prompt, score, slot))
        keys = np.log(np.array([s for _, s, _ in unique]) + 1e-6) + self.rng.gumbel(size=len(unique)) * 0.6
        order = np.argsort(-keys)
        chosen, slots_used = [], {}
        # First pass: one per slot, so variants of one command do not crowd out the rest.
        for index in order:
            prompt, score, slot = unique[index]
            if len(chosen) >= count:
                break
            if slots_used.get(slot, 0) < 1:
                chosen.append(Candidate(prompt, SOURCE_VLM, round(float(score), 3)))
                slots_used[slot] = slots_used.get(slot, 0) + 1
        for index in order:
            if len(chosen) >= count:
                break
            prompt, score, _ = unique[index]
            if all(c.prompt != prompt for c in chosen):
                chosen.append(Candidate(prompt, SOURCE_VLM, round(float(score), 3)))
        return chosen


def _relative(name: str, objects: tuple[str, ...], view) -> np.ndarray | None:
    index = objects.index(name) if name in objects else None
    if index is None or index >= MAX_OBJECTS:
        return None
    return view.relative[index]


def _is_held(name: str, objects: tuple[str, ...], view) -> bool:
    return name in objects and view.held_slot == objects.index(name)


def _task_text(task: str) -> str:
    from sarl_ros.sim.task_scenes import TASKS
    return TASKS[task].text if task in TASKS else task
