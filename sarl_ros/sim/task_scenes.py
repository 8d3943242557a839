"""Long-horizon tabletop tasks: scenes, success and subgoal detectors from simulator state.

PAPER: the four WidowX tasks of the SARL paper, with look-alikes painted per scene so that "the
right pot", "the left stuffed toy" and "the largest bowl" depend on the layout; their budgets come
from paper_protocol.json (fixed before any learner ran). SUITE and HELD_OUT: the first suite
(issue 4), kept as the legacy set.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from sarl_ros.sim.model import OBJECTS
from sarl_ros.sim.world import Placement, SceneSpec, TabletopWorld

Check = Callable[[TabletopWorld], bool]


# --- state predicates ----------------------------------------------------------------------
def resting(world: TabletopWorld, name: str) -> bool:
    return world.holding != name


def on_surface(world: TabletopWorld, name: str, surface: str) -> bool:
    """Return True when the object lies on the plate or towel (not held)."""
    if world.holding == name:
        return False
    obj, base = world.object_position(name), world.object_position(surface)
    # Distance in the surface's own frame, so a rotated towel counts its true extent.
    quat = world.data.xquat[world.model.body(surface).id]
    yaw = 2 * np.arctan2(quat[3], quat[0])
    dx, dy = obj[0] - base[0], obj[1] - base[1]
    local = np.array([np.cos(yaw) * dx + np.sin(yaw) * dy, -np.sin(yaw) * dx + np.cos(yaw) * dy])
    if surface == 'towel':
        inside = abs(local[0]) <= 0.072 and abs(local[1]) <= 0.056
    else:
        inside = np.hypot(*local) <= OBJECTS[surface].half_width - 0.005
    return bool(inside and obj[2] < base[2] + 0.06)


def in_pot(world: TabletopWorld, name: str) -> bool:
    """Return True when the object lies inside the pot (not held)."""
    if world.holding == name:
        return False
    obj, pot = world.object_position(name), world.object_position('pot')
    return bool(np.hypot(obj[0] - pot[0], obj[1] - pot[1]) <= 0.056 and obj[2] < pot[2] + 0.07)


CONTAINER_RADIUS = {'pot': 0.056, 'pot_b': 0.056, 'bowl_large': 0.058, 'bowl_small': 0.04, 'pan': 0.052}


def in_container(world: TabletopWorld, name: str, container: str) -> bool:
    """Return True when the object lies inside a pot or bowl (not held)."""
    if world.holding == name:
        return False
    obj, base = world.object_position(name), world.object_position(container)
    return bool(np.hypot(obj[0] - base[0], obj[1] - base[1]) <= CONTAINER_RADIUS[container]
                and obj[2] < base[2] + 0.07)


def lifted(world: TabletopWorld, name: str) -> bool:
    """Return True when the object is held above its resting height."""
    return world.holding == name and world.object_position(name)[2] > OBJECTS[name].rest_height + 0.03


def held(world: TabletopWorld, name: str) -> bool:
    return world.holding == name


def lost(world: TabletopWorld, name: str) -> bool:
    """Return True when the object fell off the table or out of the arm's reach."""
    pos = world.object_position(name)
    return bool(pos[2] < -0.03 or np.hypot(pos[0], pos[1]) > 0.5 or pos[0] < 0.05)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its text, scene, detectors, decision budget and a hand-written solution."""

    name: str
    text: str
    scene: SceneSpec
    success: Check
    subgoals: tuple[tuple[str, Check], ...]
    scripted: tuple[str, ...]
    max_decisions: int = 8
    # Objects whose relative positions enter the state features, in order of mention.
    feature_objects: tuple[str, ...] = ()
    required: tuple[str, ...] = field(default=())  # losing one of these ends the episode
    # Layout roles, fixed at each reset: role name -> the object playing it ("right_pot" -> "pot_b").
    assign_roles: Callable[[TabletopWorld], dict[str, str]] | None = None
    # A layout-dependent solution: world -> commands (then `scripted` is only its generic shape).
    scripted_for: Callable[[TabletopWorld], tuple[str, ...]] | None = None
    group: str = 'legacy'

    def solution(self, world: TabletopWorld) -> tuple[str, ...]:
        """Return the grounded commands that solve the task in the world's current layout."""
        return self.scripted_for(world) if self.scripted_for is not None else self.scripted

    def object_for(self, world: TabletopWorld, name: str) -> str:
        """Return the object a name stands for: a role ("right_pot") resolved in this layout, or the name."""
        return world.roles.get(name, name)

    def failed_for_good(self, world: TabletopWorld) -> bool:
        """Return True when a required object is lost: the task can no longer succeed."""
        return any(lost(world, name) for name in self.required)


def _scene(**places: Placement) -> SceneSpec:
    return SceneSpec(dict(places))


_LEFT = Placement(x=(0.22, 0.32), y=(0.08, 0.15))
_RIGHT = Placement(x=(0.22, 0.32), y=(-0.15, -0.08))
_ANY = Placement()
_NEAR = Placement(x=(0.2, 0.28))
_FAR = Placement(x=(0.3, 0.36))


def _all(*checks: Check) -> Check:
    return lambda world: all(check(world) for check in checks)


def _placed(obj: str, target: str) -> tuple[str, Check]:
    """Return ('in', check) for the pot, ('on', check) for a surface: whether obj lies there."""
    if target == 'pot':
        return 'in', (lambda w: in_pot(w, obj))
    return 'on', (lambda w: on_surface(w, obj, target))


def _put(name: str, text: str, scene, obj: str, target: str, scripted: tuple[str, ...], max_decisions: int,
         feature_objects: tuple[str, ...]) -> TaskSpec:
    """Return the task 'put obj in/on target': two subgoals (held, placed)."""
    relation, placed = _placed(obj, target)
    return TaskSpec(name=name, text=text, scene=scene, success=placed,
                    subgoals=((f'{obj}_held', lambda w: held(w, obj)), (f'{obj}_{relation}_{target}', placed)),
                    scripted=scripted, max_decisions=max_decisions, feature_objects=feature_objects,
                    required=(obj,))


def _place_then_lift(name: str, text: str, scene, obj: str, target: str, then: str, scripted: tuple[str, ...],
                     max_decisions: int) -> TaskSpec:
    """Return the task 'put obj in/on target, then grasp then': three subgoals (held, placed, lifted)."""
    relation, placed = _placed(obj, target)
    return TaskSpec(name=name, text=text, scene=scene, success=_all(placed, lambda w: lifted(w, then)),
                    subgoals=((f'{obj}_held', lambda w: held(w, obj)), (f'{obj}_{relation}_{target}', placed),
                              (f'{then}_lifted', lambda w: lifted(w, then))),
                    scripted=scripted, max_decisions=max_decisions, feature_objects=(obj, target, then),
                    required=(obj, then))


SUITE = (
    _place_then_lift('legacy_hammer_plate_mushroom', 'move the hammer to the plate, then grasp the mushroom',
                     _scene(plate=_LEFT, hammer=_RIGHT, mushroom=_ANY, spoon=_ANY), 'hammer', 'plate', 'mushroom',
                     ('pick up the brown handle', 'put it on the plate', 'grasp the mushroom'), max_decisions=10),
    _put('sushi_to_pot', 'put the sushi in the pot', _scene(pot=_LEFT, sushi=_RIGHT, mushroom=_ANY, spoon=_ANY),
         'sushi', 'pot', ('grasp the white and orange sushi', 'put it in the pot'), max_decisions=8,
         feature_objects=('sushi', 'pot')),
    TaskSpec(
        name='carrot_towel_cube_plate',
        text='put the carrot on the towel, then put the cube on the plate',
        scene=_scene(towel=_LEFT, plate=_RIGHT, carrot=_ANY, cube=_ANY, sushi=_ANY),
        success=_all(lambda w: on_surface(w, 'carrot', 'towel'), lambda w: on_surface(w, 'cube', 'plate')),
        subgoals=(('carrot_on_towel', lambda w: on_surface(w, 'carrot', 'towel')),
                  ('cube_on_plate', lambda w: on_surface(w, 'cube', 'plate'))),
        scripted=('grasp the carrot', 'put it on the towel', 'grasp the cube', 'put it on the plate'),
        max_decisions=10, feature_objects=('carrot', 'towel', 'cube', 'plate'), required=('carrot', 'cube')),
    _put('mushroom_pot_to_towel', 'take the mushroom out of the pot and put it on the towel',
         _scene(pot=_LEFT, towel=_RIGHT, mushroom=Placement(inside='pot'), carrot=_ANY),
         'mushroom', 'towel', ('grasp the mushroom', 'put it on the towel'), max_decisions=5,
         feature_objects=('mushroom', 'pot', 'towel')),
)

HELD_OUT = (
    _place_then_lift('mushroom_pot_carrot', 'put the mushroom in the pot, then grasp the carrot',
                     _scene(pot=_RIGHT, mushroom=_LEFT, carrot=_ANY, sushi=_ANY), 'mushroom', 'pot', 'carrot',
                     ('grasp the mushroom', 'put it in the pot', 'grasp the carrot'), max_decisions=8),
    _place_then_lift('spoon_towel_cube', 'move the spoon to the towel, then grasp the cube',
                     _scene(towel=_LEFT, spoon=_RIGHT, cube=_ANY, hammer=_ANY), 'spoon', 'towel', 'cube',
                     ('grasp the silver spoon', 'put it on the towel', 'grasp the red cube'), max_decisions=8),
    _put('sushi_to_towel', 'put the sushi on the towel', _scene(towel=_LEFT, sushi=_RIGHT, mushroom=_ANY, cube=_ANY),
         'sushi', 'towel', ('grasp the white and orange sushi', 'put it on the towel'), max_decisions=6,
         feature_objects=('sushi', 'towel')),
    _put('cube_pot_to_plate', 'take the cube out of the pot and put it on the plate',
         _scene(pot=_RIGHT, plate=_LEFT, cube=Placement(inside='pot'), carrot=_ANY),
         'cube', 'plate', ('grasp the red cube', 'put it on the plate'), max_decisions=6,
         feature_objects=('cube', 'pot', 'plate')),
)

PROTOCOL_FILE = Path(__file__).with_name('paper_protocol.json')


def load_protocol() -> dict:
    """Return the fixed protocol of the paper tasks (budgets, noise, VLM vocabulary)."""
    return json.loads(PROTOCOL_FILE.read_text())


_BUDGET = {name: entry['max_decisions'] for name, entry in load_protocol()['tasks'].items()}


def _by_image_x(*names: str) -> Callable[[TabletopWorld], list[str]]:
    """Return a function sorting objects from the image's left to its right."""
    return lambda world: sorted(names, key=world.image_x)


def _pot_roles(world: TabletopWorld) -> dict[str, str]:
    left, right = _by_image_x('pot', 'pot_b')(world)
    return {'right_pot': right, 'left_pot': left}


def _toy_roles(world: TabletopWorld) -> dict[str, str]:
    left, right = _by_image_x('toy_a', 'toy_b')(world)
    return {'left_toy': left, 'right_toy': right, 'largest_bowl': 'bowl_large'}


def _role(world: TabletopWorld, role: str) -> str:
    return world.roles[role]


# Image-left is the far left of the table (high y, high x), image-right the near right.
_IMAGE_LEFT = Placement(x=(0.28, 0.35), y=(0.07, 0.16))
_IMAGE_RIGHT = Placement(x=(0.19, 0.27), y=(-0.15, -0.05))

PAPER = (
    # The paper's task (a) is the first suite's hammer task with the protocol's budget.
    replace(SUITE[0], name='hammer_plate_mushroom', max_decisions=_BUDGET['hammer_plate_mushroom'], group='paper'),
    TaskSpec(
        name='banana_pot_sushi_bowl',
        text='put the banana in the right pot and the sushi in the bowl',
        scene=SceneSpec({'pot': _IMAGE_LEFT, 'pot_b': Placement(x=(0.27, 0.35), y=(-0.17, -0.08)),
                         'bowl_large': Placement(x=(0.17, 0.22), y=(0.0, 0.08)),
                         'banana': _ANY, 'sushi': _ANY, 'cube': _ANY},
                        colours=((('pot', 'pot_b'), ('silver', 'red')), (('bowl_large',), ('blue',)))),
        success=_all(lambda w: in_container(w, 'banana', _role(w, 'right_pot')),
                     lambda w: in_container(w, 'sushi', 'bowl_large')),
        subgoals=(('banana_held', lambda w: held(w, 'banana')),
                  ('banana_in_right_pot', lambda w: in_container(w, 'banana', _role(w, 'right_pot'))),
                  ('sushi_held', lambda w: held(w, 'sushi')),
                  ('sushi_in_bowl', lambda w: in_container(w, 'sushi', 'bowl_large'))),
        scripted=('grasp the banana', 'put it in the <colour of the right pot> pot', 'grasp the white and orange sushi',
                  'put it in the bowl'),
        scripted_for=lambda w: ('grasp the banana', f'put it in the {w.colours[_role(w, "right_pot")]} pot',
                                'grasp the white and orange sushi', 'put it in the bowl'),
        max_decisions=_BUDGET['banana_pot_sushi_bowl'], feature_objects=('banana', 'right_pot', 'sushi', 'bowl_large'),
        required=('banana', 'sushi'), assign_roles=_pot_roles, group='paper'),
    TaskSpec(
        name='left_toy_largest_bowl',
        text='put the left stuffed toy in the largest bowl',
        scene=SceneSpec({'toy_a': _IMAGE_LEFT, 'toy_b': _IMAGE_RIGHT, 'bowl_large': _ANY, 'bowl_small': _ANY},
                        colours=((('toy_a', 'toy_b'), ('pink', 'green')), (('bowl_large', 'bowl_small'),
                                                                           ('blue', 'white')))),
        success=lambda w: in_container(w, _role(w, 'left_toy'), 'bowl_large'),
        subgoals=(('left_toy_held', lambda w: held(w, _role(w, 'left_toy'))),
                  ('left_toy_in_largest_bowl', lambda w: in_container(w, _role(w, 'left_toy'), 'bowl_large'))),
        scripted=('grasp the <colour of the left toy> toy', 'put it in the <colour of the largest bowl> bowl'),
        scripted_for=lambda w: (f'grasp the {w.colours[_role(w, "left_toy")]} toy',
                                f'put it in the {w.colours["bowl_large"]} bowl'),
        max_decisions=_BUDGET['left_toy_largest_bowl'], feature_objects=('left_toy', 'bowl_large', 'right_toy',
                                                                         'bowl_small'),
        required=('toy_a', 'toy_b'), assign_roles=_toy_roles, group='paper'),
    TaskSpec(
        name='pot_lid_on_towel',
        text='put the pot lid on the towel',
        scene=_scene(pot=Placement(x=(0.2, 0.32), y=(0.02, 0.16)), lid=Placement(x=(0.22, 0.36), y=(-0.06, 0.1)),
                     towel=Placement(x=(0.2, 0.34), y=(-0.17, -0.08)), carrot=_ANY),
        success=lambda w: on_surface(w, 'lid', 'towel'),
        subgoals=(('lid_held', lambda w: held(w, 'lid')),
                  ('lid_on_towel', lambda w: on_surface(w, 'lid', 'towel'))),
        scripted=('grasp the lid', 'put it on the towel'),
        max_decisions=_BUDGET['pot_lid_on_towel'], feature_objects=('lid', 'pot', 'towel'), required=('lid',),
        group='paper'),
)

# Paper tasks first: a lookup by text finds the paper version of the hammer task.
TASKS = {spec.name: spec for spec in PAPER + SUITE + HELD_OUT}
