"""Scripted, position-based skills on a LIBERO scene (runs in the LIBERO worker).

A skill executes the goal predicates of one LIBERO-90 instruction (On/In: pick and place;
Open/Close/Turnon/Turnoff: move to the articulated part and push it along its joint) with 7-D
delta actions at 20 Hz. The skills read object poses from the simulator, as the WidowX
simulator's VLA does: they stand in for a policy that sees; the learner never gets these poses.
Nothing here knows the LIBERO-10 tasks.
"""
from __future__ import annotations

import re

import numpy as np

OPEN, CLOSED = -1.0, 1.0
GAIN = 10.0  # action units per metre of error: full speed beyond 10 cm
ARRIVED = 0.01  # [m]
HOVER = 0.12  # [m] above an object before descending
PLACE_CLEARANCE = 0.10  # [m] above a destination when releasing
GRIP_STEPS = 12
WAYPOINT_STEPS = 60
PUSH_STEPS = 40

_INSTANCE = re.compile(r'^(?P<instance>.+?_\d+)(?:_(?P<region>.+))?$')


def category(instance: str) -> str:
    """Return an instance's category: 'akita_black_bowl_1' -> 'akita_black_bowl'."""
    return re.sub(r'_\d+$', '', instance)


def ground_name(name: str, scene_names: set[str]) -> str | None:
    """Map an object or region named by a LIBERO-90 instruction onto this scene, or None.

    Same instance name first; otherwise the same category with the lowest instance number (and
    the same region of it), so "plate_1" of another scene grounds to this scene's first plate.
    """
    if name in scene_names:
        return name
    match = _INSTANCE.match(name)
    if not match:
        return None
    wanted, region = category(match.group('instance')), match.group('region')
    instances = sorted(n for n in scene_names if _INSTANCE.match(n) and not _INSTANCE.match(n).group('region')
                       and category(n) == wanted)
    for instance in instances:
        candidate = f'{instance}_{region}' if region else instance
        if candidate in scene_names:
            return candidate
    return None


class SkillRunner:
    """Turns grounded goal predicates into actions on a robosuite env (the LIBERO ControlEnv)."""

    def __init__(self, env, rng: np.random.Generator, aim_noise: float = 0.005):
        self.env = env  # libero ControlEnv
        self.rng = rng
        self.aim_noise = aim_noise
        self.gripper = OPEN
        self.steps = 0
        self.budget = 0

    @property
    def inner(self):
        return self.env.env

    # --- poses -----------------------------------------------------------------------------
    def eef(self) -> np.ndarray:
        return np.array(self.inner.sim.data.site_xpos[self.inner.robots[0].eef_site_id], dtype=np.float64)

    def position(self, name: str) -> np.ndarray:
        return np.array(self.inner.object_states_dict[name].get_geom_state()['pos'], dtype=np.float64)

    # --- low-level motion ------------------------------------------------------------------
    def _act(self, delta: np.ndarray, grip: float) -> bool:
        if self.steps >= self.budget:
            return False
        action = np.zeros(7)
        action[:3] = np.clip(delta * GAIN, -1.0, 1.0)
        action[6] = grip
        self.env.step(action)
        self.gripper = grip
        self.steps += 1
        return True

    def move_to(self, target: np.ndarray, grip: float | None = None, limit: int = WAYPOINT_STEPS) -> bool:
        """Servo towards target for at most limit steps.

        A blocked arm gives up there and goes on; False only when the control-step budget ran out.
        """
        grip = self.gripper if grip is None else grip
        for _ in range(limit):
            error = target - self.eef()
            if np.linalg.norm(error) < ARRIVED:
                return True
            if not self._act(error, grip):
                return False
        return True

    def hold(self, grip: float, steps: int = GRIP_STEPS) -> bool:
        return all(self._act(np.zeros(3), grip) for _ in range(steps))

    def _aim(self, point: np.ndarray) -> np.ndarray:
        noisy = point.copy()
        noisy[:2] += self.rng.normal(0.0, self.aim_noise, size=2)
        return noisy

    # --- skills ----------------------------------------------------------------------------
    def pick(self, obj: str) -> bool:
        target = self._aim(self.position(obj))
        above = target + [0, 0, HOVER]
        grasp = target + [0, 0, 0.01]
        return (self.move_to(above, OPEN) and self.move_to(grasp, OPEN)
                and self.hold(CLOSED) and self.move_to(above + [0, 0, 0.05], CLOSED))

    def place(self, destination: str) -> bool:
        target = self._aim(self.position(destination))
        above = target + [0, 0, PLACE_CLEARANCE + 0.08]
        release = target + [0, 0, PLACE_CLEARANCE]
        return (self.move_to(above, CLOSED) and self.move_to(release, CLOSED) and self.hold(OPEN)
                and self.move_to(above, OPEN))

    def articulate(self, part: str, goal: str) -> bool:
        """Grasp the articulated part and push it along its joint towards the goal state."""
        fixture = _INSTANCE.match(part).group('instance') if _INSTANCE.match(part) else part
        joint = self._joint_for(fixture, part)
        if joint is None:
            return False
        sim = self.inner.sim
        joint_id = sim.model.joint_name2id(joint)
        body = sim.model.jnt_bodyid[joint_id]
        handle = np.array(sim.data.xpos[body], dtype=np.float64)
        axis = np.array(sim.data.xaxis[joint_id], dtype=np.float64)
        anchor = np.array(sim.data.xanchor[joint_id], dtype=np.float64)
        prismatic = sim.model.jnt_type[joint_id] == 2
        lever = handle - anchor
        direction = axis if prismatic else np.cross(axis, lever if np.linalg.norm(lever) > 1e-3 else [1, 0, 0])
        direction = direction / max(np.linalg.norm(direction), 1e-9)
        sign = self._sign_towards(fixture, joint, goal)
        if not (self.move_to(handle + [0, 0, HOVER], OPEN) and self.move_to(handle, OPEN) and self.hold(CLOSED)):
            return False
        for _ in range(PUSH_STEPS):
            if not self._act(sign * direction * 0.01, CLOSED):
                return False
        return self.hold(OPEN) and self.move_to(self.eef() + [0, 0, 0.08], OPEN)

    def _joint_for(self, fixture: str, part: str) -> str | None:
        obj = self.inner.get_object(fixture)
        joints = [j for j in getattr(obj, 'joints', []) if 'free' not in j]
        if not joints:
            return None
        words = part[len(fixture):].strip('_').split('_')
        named = [j for j in joints if words and words[0] and words[0] in j]
        return (named or joints)[0]

    def _sign_towards(self, fixture: str, joint: str, goal: str) -> float:
        """+1 if increasing qpos approaches the goal state of the fixture, else -1."""
        obj = self.inner.get_object(fixture)
        sim = self.inner.sim
        low, high = sim.model.jnt_range[sim.model.joint_name2id(joint)]
        test = {'open': getattr(obj, 'is_open', None), 'close': getattr(obj, 'is_close', None),
                'turnon': getattr(obj, 'turn_on', None), 'turnoff': getattr(obj, 'turn_off', None)}.get(goal)
        try:
            return 1.0 if test is not None and test(high) and not test(low) else -1.0
        except Exception:  # an object without articulation ranges: push the default way
            return 1.0

    def run(self, predicates: list[list[str]], budget: int) -> int:
        """Execute grounded predicates in order within budget control steps; return steps used."""
        self.steps, self.budget = 0, budget
        for predicate in predicates:
            verb = predicate[0].lower()
            if verb in ('on', 'in') and len(predicate) == 3:
                ok = self.pick(predicate[1]) and self.place(predicate[2])
            elif verb in ('open', 'close', 'turnon', 'turnoff') and len(predicate) == 2:
                ok = self.articulate(predicate[1], verb)
            else:
                ok = False
            if not ok:
                break
        return self.steps
