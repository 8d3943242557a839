"""What the camera shows: the objects in view, their colours and image positions, what is held or inside what.

This is the content of the rendered image, not the simulator's task knowledge: no subgoal flags, no
metric positions. The simulated VLM reads it only through sarl_ros.sim.perception, which adds the
errors a real VLM makes when it looks at such an image.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.scene_view import SeenObject
from sarl_ros.sim.model import OBJECTS
from sarl_ros.sim.world import TabletopWorld

KIND = {'pot_b': 'pot', 'bowl_large': 'bowl', 'bowl_small': 'bowl', 'toy_a': 'toy', 'toy_b': 'toy',
        'can_a': 'can', 'can_b': 'can', 'dish_large': 'dish', 'dish_small': 'dish'}
SIZE = {'bowl_large': 'large', 'bowl_small': 'small', 'dish_large': 'large', 'dish_small': 'small'}
DEFAULT_COLOUR = {'hammer': 'brown', 'mushroom': 'brown', 'spoon': 'silver', 'plate': 'white', 'pot': 'silver',
                  'sushi': 'orange', 'towel': 'blue', 'carrot': 'orange', 'cube': 'red', 'banana': 'yellow',
                  'lid': 'silver', 'corn': 'yellow', 'pan': 'black', 'sponge': 'yellow', 'potato': 'brown'}
_CONTAINERS = ('pot', 'pot_b', 'bowl_large', 'bowl_small', 'plate', 'towel', 'pan', 'dish_large', 'dish_small')


def scene_view(world: TabletopWorld) -> tuple[SeenObject, ...]:
    """Return the objects visible in the camera image of the world's current state."""
    seen = []
    for name in world.scene.objects:
        position = world.object_position(name)
        inside = None
        if OBJECTS[name].movable and world.holding != name:
            for container in _CONTAINERS:
                if container in world.scene.objects and _within(world, position, container):
                    inside = container
                    break
        seen.append(SeenObject(name=name, kind=KIND.get(name, name),
                               colour=world.colours.get(name, DEFAULT_COLOUR.get(name, 'gray')),
                               image_x=round(world.image_x(name), 3), size=SIZE.get(name), inside=inside,
                               held=world.holding == name))
    return tuple(seen)


def _within(world: TabletopWorld, position: np.ndarray, container: str) -> bool:
    base = world.object_position(container)
    radius = 0.07 if container == 'towel' else OBJECTS[container].half_width
    return bool(np.hypot(*(position[:2] - base[:2])) <= radius and position[2] < base[2] + 0.08)
