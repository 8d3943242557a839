"""What a camera frame shows, as objects: the simulator's annotation of its own render.

A real VLM parses pixels; the simulated VLM reads this annotation through its perception stand-in
(sarl_ros.sim.perception), which adds a VLM's errors. It lives on the ground floor because it
travels between processes in the graph (GetState -> ProposePrompts): the executor's simulator
produces it and the proposer node's simulated VLM consumes it. A real camera produces none.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeenObject:
    name: str  # the simulator body (the perception stand-in keeps it only to score its own errors)
    kind: str  # what a VLM would call it: pot, bowl, toy, banana, ...
    colour: str
    image_x: float  # -1 left edge .. 1 right edge of the image
    size: str | None = None  # 'large' / 'small' among look-alike bowls
    inside: str | None = None  # the container it lies in or on
    held: bool = False
