"""Held-out paper-style tasks (issue 18): the paper tasks' design with objects and words never calibrated.

Same mechanisms as the paper tasks (observable state, a perceiving VLM, look-alikes painted per
scene, order- and state-dependent prompt outcomes), but object kinds (corn, pan, sponge, potato,
cans, dishes), task phrasings, colour words and the VLM's references and verbs that appear in no
calibration task. Everything that could be tuned (task text, budgets, noise, vocabulary, the cans'
and dishes' colours) is read from held_out_protocol.json, fixed before any learner ran on them.
"""
from __future__ import annotations

import json
from pathlib import Path

from sarl_ros.sim.task_scenes import (TaskSpec, _all, in_container, held, lifted, on_surface)
from sarl_ros.sim.world import Placement, SceneSpec, TabletopWorld

GROUP = 'held_out_paper'
PROTOCOL_FILE = Path(__file__).with_name('held_out_protocol.json')

# Pan on the robot's right, corn on its left, the sponge and a potato (a distractor) anywhere.
_CORN_SCENE = {'pan': Placement(x=(0.22, 0.32), y=(-0.15, -0.08)), 'corn': Placement(x=(0.22, 0.32), y=(0.08, 0.15)),
               'sponge': Placement(), 'potato': Placement()}
# The can on the image's right stands far from the robot, the one on the image's left near it, so the
# VLA (which ignores "right" and resolves look-alikes by nearness) takes the wrong one; the dishes lie
# anywhere, so "the dish" is the small one in about half the scenes. Which colour is where is shuffled.
_CAN_FAR_RIGHT = Placement(x=(0.30, 0.36), y=(-0.13, -0.05))
_CAN_NEAR_LEFT = Placement(x=(0.18, 0.24), y=(0.03, 0.11))


def load_held_out_protocol(path: Path | None = None) -> dict:
    """Return the fixed protocol of the held-out paper-style tasks (texts, budgets, noise, vocabulary)."""
    return json.loads(Path(path or PROTOCOL_FILE).read_text())


def _can_roles(world: TabletopWorld) -> dict[str, str]:
    left, right = sorted(('can_a', 'can_b'), key=world.image_x)
    return {'right_can': right, 'left_can': left, 'smallest_dish': 'dish_small'}


def build_tasks(protocol: dict) -> tuple[TaskSpec, ...]:
    """Return the held-out task specs with the texts, budgets and colours a protocol fixes."""
    tasks, colours = protocol['tasks'], protocol['colours']

    def text(name: str) -> str:
        return tasks[name]['text']

    def budget(name: str) -> int:
        return int(tasks[name]['max_decisions'])

    corn = TaskSpec(
        name='corn_pan_sponge', text=text('corn_pan_sponge'), scene=SceneSpec(dict(_CORN_SCENE)),
        success=_all(lambda w: in_container(w, 'corn', 'pan'), lambda w: lifted(w, 'sponge')),
        subgoals=(('corn_held', lambda w: held(w, 'corn')),
                  ('corn_in_pan', lambda w: in_container(w, 'corn', 'pan')),
                  ('sponge_lifted', lambda w: lifted(w, 'sponge'))),
        scripted=('grab the corn', 'set it in the pan', 'grab the sponge'),
        max_decisions=budget('corn_pan_sponge'), feature_objects=('corn', 'pan', 'sponge'),
        required=('corn', 'sponge'), group=GROUP)
    can = TaskSpec(
        name='right_can_smallest_dish', text=text('right_can_smallest_dish'),
        scene=SceneSpec({'can_a': _CAN_FAR_RIGHT, 'can_b': _CAN_NEAR_LEFT, 'dish_large': Placement(),
                         'dish_small': Placement()},
                        colours=((('can_a', 'can_b'), tuple(colours['cans'])),
                                 (('dish_large', 'dish_small'), tuple(colours['dishes'])))),
        success=lambda w: on_surface(w, w.roles['right_can'], 'dish_small'),
        subgoals=(('right_can_held', lambda w: held(w, w.roles['right_can'])),
                  ('right_can_on_smallest_dish', lambda w: on_surface(w, w.roles['right_can'], 'dish_small'))),
        scripted=('grab the <colour of the right can> can', 'set it on the <colour of the smallest dish> dish'),
        scripted_for=lambda w: (f'grab the {w.colours[w.roles["right_can"]]} can',
                                f'set it on the {w.colours["dish_small"]} dish'),
        max_decisions=budget('right_can_smallest_dish'),
        feature_objects=('right_can', 'dish_small', 'left_can', 'dish_large'),
        required=('can_a', 'can_b'), assign_roles=_can_roles, group=GROUP)
    return corn, can


HELD_OUT_PAPER = build_tasks(load_held_out_protocol())
