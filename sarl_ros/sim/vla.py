"""The simulated VLA: a language-conditioned skill policy emitting Bridge-style 7-D actions.

It parses a command with its own vocabulary (sarl_ros.sim.language), grounds object phrases in
the scene it perceives (object poses stand in for vision), and turns the skill into waypoints it
follows with delta actions. Its failure modes come from that vocabulary, not from the tasks:
multi-clause prompts collapse, unknown object words ground to look-alikes, "drop X in Y" opens
the gripper early, and noise on aiming and on every action makes outcomes stochastic.

Latent noise (as a diffusion or flow VLA has; what DSRL steers): act(..., noise=w) with w of
LATENT_DIM values, read when a skill is planned (its action chunk). Without it the noise is sampled
as before the latent input existed (the same random draws in the same order, so un-steered results
are bit-identical). Under the prior w ~ N(0, I) the behaviour has the same distribution: the aim
offsets are aim_noise * w; the rarer behaviours lie in the prior's tails (|w| > TAIL, ~1 % each), as
a generative policy's rare modes do:
  w[0:2]  offset of the aim at the object to grasp (x, y), in units of aim_noise
  w[2:4]  offset of the aim at the destination
  w[4]    > TAIL: the object phrase grounds to the less salient look-alike (the far one, or not the held one)
  w[5]    > TAIL: the same for the destination phrase
  w[6]    beyond +-TAIL: close and release earlier (higher) or later (lower), TIMING_HEIGHT per unit
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarl_ros.sim import language as lang
from sarl_ros.sim.model import OBJECTS
from sarl_ros.sim.world import TabletopWorld

SPEED = 0.045  # [m] per control step, below the controller's rate limit
ARRIVED = 0.007  # [m]
HOVER_Z = 0.11  # [m] fingertip height when approaching an object
CARRY_Z = 0.13  # [m] fingertip height when carrying
SHIFT_DISTANCE = 0.05  # [m] "move left" and friends
MAX_STEPS_PER_WAYPOINT = 10
EARLY_RELEASE_FRACTION = 0.35  # "drop X in Y" opens after this share of the way
# Fingertip height over a surface when placing (the held object hangs ~1-4 cm lower).
LATENT_DIM = 7
TAIL = 2.5  # latent values beyond this reach the policy's rare behaviours (P(w > 2.5) = 0.6 % under N(0, 1))
TIMING_HEIGHT = 0.03  # [m] grasp/place height shift per latent unit beyond TAIL
PLACE_HEIGHT = {'plate': 0.06, 'towel': 0.055, 'pot': 0.115, 'pot_b': 0.115, 'bowl_large': 0.085,
                'bowl_small': 0.085}
DEFAULT_PLACE_HEIGHT = 0.07


@dataclass
class Waypoint:
    """Move the fingertips to xyz with the gripper at grip; hold: stand still for n steps."""

    xyz: np.ndarray | None
    grip: float
    hold: int = 0
    release_after: float | None = None  # open the gripper once this share of the path is done
    start: np.ndarray | None = None
    steps: int = 0


def _tail(value: float) -> float:
    """Return how far a latent value lies beyond the prior's bulk (0 inside +-TAIL)."""
    return float(np.sign(value) * max(abs(value) - TAIL, 0.0))


class SimVLA:
    """The VLA interface (sarl_ros.core.interfaces.VLA) over a simulated world, with a latent-noise input."""

    accepts_noise = True
    latent_dim = LATENT_DIM

    def __init__(self, world: TabletopWorld, seed: int = 0, aim_noise: float = 0.008, action_noise: float = 0.0015):
        self.world = world
        self.rng = np.random.default_rng(seed)
        self.aim_noise = aim_noise
        self.action_noise = action_noise
        self._plan: list[Waypoint] | None = None
        self._instruction: str | None = None
        self._done = False
        self.last_command: lang.Command | None = None
        self.last_grounding: dict[str, str | None] = {}
        self._latent: np.ndarray | None = None  # the current skill's noise, when steered

    # --- VLA interface -------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the current skill: a new prompt starts."""
        self._plan, self._instruction, self._done = None, None, False

    def act(self, image, instruction: str, proprio: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        """Return the next 7-D action for the instruction.

        noise: the latent (LATENT_DIM values) for a skill that starts at this call; ignored while a
        skill runs (it was drawn for the whole chunk). None: sampled from the prior as always.
        """
        ee = np.asarray(proprio, dtype=np.float64)[:3]
        if self._plan is None or instruction != self._instruction:
            self._latent = None if noise is None else checked_latent(noise)
            self._instruction = instruction
            self._plan = self._make_plan(instruction, ee)
            self._done = False
        action = np.zeros(7)
        while self._plan:
            point = self._plan[0]
            if point.xyz is None:
                action[6] = point.grip
                point.steps += 1
                if point.steps >= point.hold:
                    self._plan.pop(0)
                break
            if point.start is None:
                point.start = ee.copy()
            error = point.xyz - ee
            if np.linalg.norm(error) < ARRIVED or point.steps >= MAX_STEPS_PER_WAYPOINT:
                self._plan.pop(0)
                continue
            point.steps += 1
            action[:3] = np.clip(error, -SPEED, SPEED) + self.rng.normal(0.0, self.action_noise, 3)
            action[6] = point.grip
            if point.release_after is not None:
                path = np.linalg.norm(point.xyz[:2] - point.start[:2]) + 1e-9
                if np.linalg.norm(ee[:2] - point.start[:2]) / path >= point.release_after:
                    action[6] = 1.0
                    point.grip = 1.0
            break
        else:
            action[6] = 0.0 if self.world.holding else 1.0
        if not self._plan:
            self._done = True
        return action

    def skill_done(self) -> bool:
        return self._done

    # --- planning ------------------------------------------------------------------------
    def _make_plan(self, instruction: str, ee: np.ndarray) -> list[Waypoint]:
        command = lang.parse(instruction)
        self.last_command = command
        scene = self.world.scene.objects
        looks = lang.scene_appearance(scene, self.world.colours)
        salience = self._salience(scene)
        # A latent beyond the tail inverts the preference between look-alikes.
        inverted = {name: -value for name, value in salience.items()}
        flip_obj = self._latent is not None and self._latent[4] > TAIL
        flip_target = self._latent is not None and self._latent[5] > TAIL
        obj = lang.ground(command.obj, scene, looks, inverted if flip_obj else salience)
        target = lang.ground(command.target, scene, looks, inverted if flip_target else salience)
        self.last_grounding = {'object': obj, 'target': target}
        holding = self.world.holding
        grip_now = 0.0 if holding else 1.0
        skill = command.skill
        if skill == lang.PICK:
            if obj is None:
                return self._down_grasp(ee)
            if obj == holding:
                return [Waypoint(np.array([ee[0], ee[1], CARRY_Z]), 0.0)]
            return self._pick(obj, ee)
        if skill in (lang.PUT, lang.DROP):
            plan: list[Waypoint] = []
            carrying = holding
            if obj is not None and obj != holding:
                plan += self._pick(obj, ee)
                carrying = obj
            if target is None:
                # "drop it" with no destination lets go where the gripper is.
                return plan + [Waypoint(None, 1.0, hold=2)]
            return plan + self._place(target, carrying, early=skill == lang.DROP)
        if skill == lang.MOVE_OVER:
            if obj is None:
                return [Waypoint(None, grip_now, hold=2)]
            spot = self._aim(obj)
            height = CARRY_Z if holding else HOVER_Z
            return self._travel(ee, np.array([spot[0], spot[1], height]), grip_now)
        if skill == lang.PUT_DOWN:
            low = np.array([ee[0], ee[1], 0.05])
            return [Waypoint(low, grip_now), Waypoint(None, 1.0, hold=1), Waypoint(ee.copy(), 1.0)]
        if skill == lang.DOWN_GRASP:
            return self._down_grasp(ee)
        if skill == lang.OPEN:
            return [Waypoint(None, 1.0, hold=2)]
        if skill == lang.CLOSE:
            return [Waypoint(None, 0.0, hold=2)]
        if skill == lang.LIFT:
            return [Waypoint(np.array([ee[0], ee[1], max(CARRY_Z, min(ee[2] + 0.05, 0.2))]), grip_now)]
        if skill == lang.LOWER:
            return [Waypoint(np.array([ee[0], ee[1], max(0.03, ee[2] - 0.05)]), grip_now)]
        if skill == lang.SHIFT:
            step = {'left': (0, 1), 'right': (0, -1), 'forward': (1, 0), 'back': (-1, 0)}[command.direction]
            goal = ee + SHIFT_DISTANCE * np.array([step[0], step[1], 0.0])
            return [Waypoint(goal, grip_now)]
        return [Waypoint(None, grip_now, hold=2)]

    def _salience(self, scene: tuple[str, ...]) -> dict[str, float]:
        """Between look-alikes the VLA goes for the object in its gripper, else the one nearest the robot."""
        return {name: 10.0 if name == self.world.holding else -float(np.hypot(*self.world.object_position(name)[:2]))
                for name in scene}

    def _aim(self, name: str, role: str = 'object') -> np.ndarray:
        if self._latent is None:
            offset = self.rng.normal(0.0, self.aim_noise, 2)
        else:
            offset = self.aim_noise * (self._latent[0:2] if role == 'object' else self._latent[2:4])
        return self.world.object_position(name) + np.append(offset, 0.0)

    def _timing_shift(self) -> float:
        """Return the latent's shift [m] of the heights where the gripper closes and opens."""
        return 0.0 if self._latent is None else TIMING_HEIGHT * _tail(self._latent[6])

    def _travel(self, ee: np.ndarray, goal: np.ndarray, grip: float) -> list[Waypoint]:
        """Rise first when low and far away, then go."""
        plan = []
        if ee[2] < goal[2] - 0.02 and np.linalg.norm(goal[:2] - ee[:2]) > 0.03:
            plan.append(Waypoint(np.array([ee[0], ee[1], goal[2]]), grip))
        plan.append(Waypoint(goal, grip))
        return plan

    def _pick(self, name: str, ee: np.ndarray) -> list[Waypoint]:
        spot = self._aim(name)
        grasp_z = max(0.014, spot[2] + self._timing_shift())
        plan = [] if self.world.holding is None else [Waypoint(None, 1.0, hold=1)]
        plan += self._travel(ee, np.array([spot[0], spot[1], HOVER_Z]), 1.0)
        plan += [Waypoint(np.array([spot[0], spot[1], grasp_z]), 1.0), Waypoint(None, 0.0, hold=1),
                 Waypoint(np.array([spot[0], spot[1], CARRY_Z]), 0.0)]
        return plan

    def _place(self, target: str, carrying: str | None, early: bool) -> list[Waypoint]:
        spot = self._aim(target, 'target')
        above = np.array([spot[0], spot[1], CARRY_Z])
        shift = self._timing_shift()
        if early:
            # The "drop" the VLA learned lets go on the way, well before the target.
            release = float(np.clip(EARLY_RELEASE_FRACTION - 10.0 * shift, 0.0, 1.0))
            return [Waypoint(above, 0.0, release_after=release), Waypoint(None, 1.0, hold=1)]
        height = PLACE_HEIGHT.get(target, DEFAULT_PLACE_HEIGHT)
        if carrying is not None and OBJECTS[target].movable:
            height = self.world.object_position(target)[2] + 0.06
        if shift:
            height = float(np.clip(height + shift, 0.03, CARRY_Z))
        return [Waypoint(above, 0.0), Waypoint(np.array([spot[0], spot[1], height]), 0.0),
                Waypoint(None, 1.0, hold=1), Waypoint(np.array([spot[0], spot[1], CARRY_Z]), 1.0)]

    def _down_grasp(self, ee: np.ndarray) -> list[Waypoint]:
        """Descend where the gripper is to the height of what lies below, and close.

        The fingers keep their state on the way down: with a closed gripper nothing gets between
        them, so this grasp needs "open the gripper" first.
        """
        below = [self.world.object_position(n) for n in self.world.movable
                 if np.linalg.norm(self.world.object_position(n)[:2] - ee[:2]) < 0.04]
        grasp_z = max([0.014] + [p[2] for p in below]) + max(self._timing_shift(), 0.0)
        grip = 1.0 if self.world.gripper_opening() > 0.5 else 0.0
        return [Waypoint(np.array([ee[0], ee[1], grasp_z]), grip), Waypoint(None, 0.0, hold=1)]


def checked_latent(noise) -> np.ndarray:
    """Return the latent as LATENT_DIM finite floats, or raise ValueError."""
    latent = np.asarray(noise, dtype=np.float64).reshape(-1)
    if latent.shape != (LATENT_DIM,) or not np.all(np.isfinite(latent)):
        raise ValueError(f'the simulated VLA takes {LATENT_DIM} finite latent values, got {np.asarray(noise)!r}')
    return latent
