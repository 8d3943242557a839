"""The simulated VLM's perception: the scene view with the errors a VLM makes on a real image.

Errors (rates from paper_protocol.json, drawn per call): an object is missed; the held state is
read wrong (an empty gripper looks full, or a held object is not noticed); look-alikes are confused
(two pots, bowls or toys swap colour and size in the VLM's reading); an object's placement is judged
wrong (in the pot when it is not, or the reverse); image positions are read with noise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sarl_ros.sim.view import SeenObject


@dataclass(frozen=True)
class PerceptionNoise:
    missed_object: float = 0.1
    wrong_held_state: float = 0.15
    look_alike_confusion: float = 0.2
    wrong_placement_judgement: float = 0.15
    image_x_noise: float = 0.08

    @classmethod
    def from_protocol(cls, protocol: dict) -> 'PerceptionNoise':
        return cls(**protocol['perception'])


# Kinds a VLM sees as places to put things (not to pick up).
CONTAINER_KINDS = ('pot', 'bowl', 'plate', 'towel', 'pan', 'dish')


class Perception:
    """Turns the true scene view into what the VLM believes it sees."""

    def __init__(self, noise: PerceptionNoise, rng: np.random.Generator):
        self.noise, self.rng = noise, rng

    def perceive(self, view: tuple[SeenObject, ...]) -> list[SeenObject]:
        noise, rng = self.noise, self.rng
        objects = [replace(o, image_x=o.image_x + float(rng.normal(0.0, noise.image_x_noise))) for o in view]
        # Look-alikes of one kind: swap their colours and sizes.
        kinds: dict[str, list[int]] = {}
        for i, o in enumerate(objects):
            kinds.setdefault(o.kind, []).append(i)
        for members in kinds.values():
            if len(members) == 2 and rng.random() < noise.look_alike_confusion:
                a, b = members
                objects[a], objects[b] = (replace(objects[a], colour=objects[b].colour, size=objects[b].size),
                                          replace(objects[b], colour=objects[a].colour, size=objects[a].size))
        held = next((o.name for o in objects if o.held), None)
        if rng.random() < noise.wrong_held_state:
            movable = [o.name for o in objects if o.kind not in CONTAINER_KINDS]
            if held is not None or not movable:
                held = None
            else:
                held = movable[int(rng.integers(len(movable)))]
        containers = [o.name for o in objects if o.kind in CONTAINER_KINDS]
        perceived = []
        for o in objects:
            inside = o.inside
            if o.kind not in CONTAINER_KINDS and containers \
                    and rng.random() < noise.wrong_placement_judgement:
                inside = None if inside is not None else containers[int(rng.integers(len(containers)))]
            o = replace(o, held=o.name == held, inside=None if o.name == held else inside)
            if rng.random() >= noise.missed_object:
                perceived.append(o)
        return perceived
