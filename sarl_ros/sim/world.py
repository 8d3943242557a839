"""One simulated tabletop: MuJoCo model and state, scene resets, the grasp rule and the camera."""
from __future__ import annotations

import atexit
import threading
import weakref
from dataclasses import dataclass, field

import mujoco
import numpy as np

from sarl_ros.sim.model import (ARM_JOINTS, CAMERA_POS, CAMERA_TARGET, FINGER_RANGE, HOME_QPOS, OBJECTS,
                                PAINT_COLOURS, PAINT_GROUP, build_mjcf)

# Grasp-attachment rule (documented in docs/design/sim.md): when the gripper is commanded closed
# and a movable object's centre lies between the fingertips, the object is welded to the
# gripper; opening the gripper removes the weld. Finger/object contact is not simulated.
CAPTURE_RADIUS = 0.028  # [m] horizontal distance from the fingertip centre
CAPTURE_BELOW = 0.022  # [m] the object centre may be this far below the fingertips ...
CAPTURE_ABOVE = 0.045  # [m] ... or this far above them (between the fingers)
SCENE_MARGIN = 0.006  # [m] extra clearance between sampled object footprints
RESET_JITTER = 0.015  # [m] how far a person's reset moves each object from where it stood (paper-like reset)


@dataclass(frozen=True)
class Placement:
    """Where reset_scene may put one object: a box on the table, or inside another object."""

    x: tuple[float, float] = (0.17, 0.36)
    y: tuple[float, float] = (-0.18, 0.18)
    inside: str | None = None  # name of a container (pot, plate, towel): placed on/in it


@dataclass(frozen=True)
class SceneSpec:
    """The objects of a scene and where each may appear."""

    placements: dict[str, Placement] = field(default_factory=dict)
    # Look-alike groups: (objects, colours); each reset paints the objects with distinct colours
    # drawn from the list, so which one is "the red pot" changes from scene to scene.
    colours: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()

    @property
    def objects(self) -> tuple[str, ...]:
        return tuple(self.placements)


class TabletopWorld:
    """The MuJoCo world one robot, VLA, camera and success check share."""

    def __init__(self, scene: SceneSpec, seed: int = 0, width: int = 256, height: int = 256):
        self.scene = scene
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(scene.objects))
        self.data = mujoco.MjData(self.model)
        self.width, self.height = width, height
        self.lock = threading.RLock()
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.arm_qpos = np.array([self.model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.arm_dofs = np.array([self.model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([self.model.joint(f).qposadr[0] for f in ('left_finger', 'right_finger')])
        self.ee_site = self.model.site('ee').id
        self.gripper_body = self.model.body('gripper_link').id
        self.movable = tuple(n for n in scene.objects if OBJECTS[n].movable)
        self._free_qpos = {n: self.model.joint(f'{n}_free').qposadr[0] for n in self.movable}
        self._free_dof = {n: self.model.joint(f'{n}_free').dofadr[0] for n in self.movable}
        self._weld = {n: self.model.equality(f'grasp_{n}').id for n in self.movable}
        self.holding: str | None = None
        self.control_steps = 0
        self.colours: dict[str, str] = {}
        # Task roles fixed at reset ("right_pot" -> "pot_b"), set by the task (TaskSpec.assign_roles).
        self.roles: dict[str, str] = {}
        self._paint_geoms = {name: [g for g in range(self.model.ngeom)
                                    if self.model.geom_bodyid[g] == self.model.body(name).id
                                    and self.model.geom_group[g] == PAINT_GROUP]
                             for name in scene.objects}
        self._base_layouts: dict[int, dict] = {}
        self.reset_scene(seed)

    # --- scene ---------------------------------------------------------------------------
    def reset_scene(self, seed: int, scene_seed: int | None = None, jitter: float = RESET_JITTER) -> None:
        """Put the arm home and lay out the objects for an episode.

        scene_seed None: a new scene from `seed` (look-alike colours re-painted, every position
        re-sampled in its region): the harder generalisation setting. With a scene_seed: the scene a
        person keeps between episodes (paper-like reset): colours and a base layout come from
        scene_seed, and each episode (`seed`) jitters every object by up to `jitter` metres
        around its base position, as a person putting things back would.
        """
        with self.lock:
            mujoco.mj_resetData(self.model, self.data)
            self.release()
            self.data.qpos[self.arm_qpos] = HOME_QPOS
            self.data.ctrl[:len(ARM_JOINTS)] = HOME_QPOS
            self.data.qpos[self.finger_qpos] = FINGER_RANGE[1]
            self.data.ctrl[len(ARM_JOINTS):] = FINGER_RANGE[1]
            rng = np.random.default_rng(seed)
            if scene_seed is None:
                self._paint(rng)
                for _ in range(50):
                    if self._place_objects(rng):
                        break
                else:
                    raise RuntimeError(f'no collision-free layout of {self.scene.objects} found')
            else:
                self._paint(np.random.default_rng([int(scene_seed), 0x5CE7E]))
                self._apply_layout(self._jittered(self._base_layout(int(scene_seed)), rng, float(jitter)), rng)
            mujoco.mj_forward(self.model, self.data)
            # Let resting objects settle so the first decision sees a still scene.
            mujoco.mj_step(self.model, self.data, nstep=25)
            self.control_steps = 0

    def _sample_layout(self, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, float]]:
        for _ in range(50):
            layout = self._try_layout(rng)
            if layout is not None:
                return layout
        raise RuntimeError(f'no collision-free layout of {self.scene.objects} found')

    def _base_layout(self, scene_seed: int) -> dict[str, tuple[np.ndarray, float]]:
        """Return the kept scene's base layout (free-standing objects only), the same for every episode."""
        cached = self._base_layouts.get(scene_seed)
        if cached is None:
            cached = self._base_layouts[scene_seed] = self._sample_layout(
                np.random.default_rng([scene_seed, 0xBA5E]))
        return cached

    def _jittered(self, base, rng: np.random.Generator, jitter: float) -> dict[str, tuple[np.ndarray, float]]:
        layout: dict[str, tuple[np.ndarray, float]] = {}
        placed: list[tuple[np.ndarray, float]] = []
        for name, (xy, yaw) in base.items():
            footprint = _footprint(name)
            moved = xy
            for _ in range(20):
                candidate = xy + rng.uniform(-jitter, jitter, size=2)
                if all(np.linalg.norm(candidate - other) >= footprint + size + SCENE_MARGIN for other, size in placed):
                    moved = candidate
                    break
            layout[name] = (moved, yaw + rng.uniform(-0.15, 0.15))
            placed.append((moved, footprint))
        return layout

    def _try_layout(self, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, float]] | None:
        """Return a collision-free (xy, yaw) per free-standing object, or None."""
        layout: dict[str, tuple[np.ndarray, float]] = {}
        placed: list[tuple[np.ndarray, float]] = []
        for name, spot in self.scene.placements.items():
            if spot.inside is not None:
                continue
            footprint = _footprint(name)
            xy = _sample_free_xy(rng, spot, footprint, placed)
            if xy is None:
                return None
            placed.append((xy, footprint))
            turn = 0.6 if name in ('hammer', 'spoon', 'carrot') else 0.3
            layout[name] = (xy, rng.uniform(-turn, turn))
        return layout

    def _apply_layout(self, layout, rng: np.random.Generator) -> None:
        for name, spot in self.scene.placements.items():
            obj = OBJECTS[name]
            if spot.inside is not None:
                host = self.object_position(spot.inside)
                xy = host[:2] + rng.uniform(-0.012, 0.012, size=2)
                z = _inner_floor(spot.inside) + obj.rest_height + 0.002
                yaw = rng.uniform(-0.3, 0.3)
            else:
                xy, yaw = layout[name]
                z = obj.rest_height + 0.001
            self._put(name, xy, z, yaw)

    def _put(self, name: str, xy, z: float, yaw: float) -> None:
        """Place one object (a free body, or a fixed one through its mocap) and update the kinematics."""
        obj = OBJECTS[name]
        turn = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        if obj.movable:
            adr = self._free_qpos[name]
            self.data.qpos[adr:adr + 3] = (xy[0], xy[1], z)
            self.data.qpos[adr + 3:adr + 7] = turn
        else:
            mocap = self.model.body_mocapid[self.model.body(name).id]
            self.data.mocap_pos[mocap] = (xy[0], xy[1], obj.rest_height)
            self.data.mocap_quat[mocap] = turn
        mujoco.mj_kinematics(self.model, self.data)

    def _place_objects(self, rng: np.random.Generator) -> bool:
        placed: list[tuple[np.ndarray, float]] = []
        for name, spot in self.scene.placements.items():
            obj = OBJECTS[name]
            footprint = _footprint(name)
            if spot.inside is not None:
                host = self.object_position(spot.inside)
                xy = host[:2] + rng.uniform(-0.012, 0.012, size=2)
                z = _inner_floor(spot.inside) + obj.rest_height + 0.002
            else:
                xy = _sample_free_xy(rng, spot, footprint, placed)
                if xy is None:
                    return False
                z = obj.rest_height + 0.001
                placed.append((xy, footprint))
            yaw = rng.uniform(-0.6, 0.6) if name in ('hammer', 'spoon', 'carrot') else rng.uniform(-0.3, 0.3)
            self._put(name, xy, z, yaw)
        return True

    def _paint(self, rng: np.random.Generator) -> None:
        self.colours = {}
        for names, palette in self.scene.colours:
            if len(palette) < len(names):
                raise ValueError(f'{len(names)} look-alikes {names} need as many colours, got {palette}')
            chosen = rng.choice(len(palette), size=len(names), replace=False)
            for name, index in zip(names, chosen):
                colour = palette[int(index)]
                self.colours[name] = colour
                for geom in self._paint_geoms[name]:
                    self.model.geom_rgba[geom, :3] = PAINT_COLOURS[colour]

    # --- state ---------------------------------------------------------------------------
    def object_position(self, name: str) -> np.ndarray:
        """Return the world position of an object's body origin."""
        return self.data.xpos[self.model.body(name).id].copy()

    def image_x(self, name: str) -> float:
        """Return where an object appears across the camera image, -1 (left edge) .. 1 (right edge).

        "The right pot" means right in the camera's view, as for a person looking at the image.
        """
        return image_x(self.object_position(name))

    def ee_position(self) -> np.ndarray:
        return self.data.site_xpos[self.ee_site].copy()

    def ee_matrix(self) -> np.ndarray:
        return self.data.site_xmat[self.ee_site].reshape(3, 3).copy()

    def gripper_opening(self) -> float:
        """Return the finger opening scaled to 0 (closed) .. 1 (open)."""
        lo, hi = FINGER_RANGE
        return float(np.clip((self.data.qpos[self.finger_qpos].mean() - lo) / (hi - lo), 0.0, 1.0))

    def arm_joint_positions(self) -> np.ndarray:
        return self.data.qpos[self.arm_qpos].copy()

    # --- grasp rule ----------------------------------------------------------------------
    def object_between_fingers(self) -> str | None:
        """Return the movable object whose centre lies in the capture region, nearest first."""
        tip = self.ee_position()
        best, best_distance = None, np.inf
        for name in self.movable:
            offset = self.object_position(name) - tip
            horizontal = float(np.hypot(offset[0], offset[1]))
            if horizontal <= CAPTURE_RADIUS and -CAPTURE_BELOW <= offset[2] <= CAPTURE_ABOVE:
                if horizontal < best_distance:
                    best, best_distance = name, horizontal
        return best

    def attach(self, name: str) -> None:
        """Weld an object to the gripper at its current relative pose."""
        body = self.model.body(name).id
        gripper_pos = self.data.xpos[self.gripper_body]
        gripper_quat = self.data.xquat[self.gripper_body]
        inverse = np.zeros(4)
        mujoco.mju_negQuat(inverse, gripper_quat)
        relative_pos = np.zeros(3)
        mujoco.mju_rotVecQuat(relative_pos, self.data.xpos[body] - gripper_pos, inverse)
        relative_quat = np.zeros(4)
        mujoco.mju_mulQuat(relative_quat, inverse, self.data.xquat[body])
        weld = self._weld[name]
        self.model.eq_data[weld, 0:3] = 0.0
        self.model.eq_data[weld, 3:6] = relative_pos
        self.model.eq_data[weld, 6:10] = relative_quat
        self.model.eq_data[weld, 10] = 1.0
        self.data.eq_active[weld] = 1
        self.holding = name

    def release(self) -> None:
        """Remove the grasp weld, if any."""
        self.data.eq_active[:] = 0
        self.holding = None

    # --- time and images -----------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Run the physics for a duration (the actuator targets stay as set)."""
        steps = max(1, int(round(seconds / self.model.opt.timestep)))
        mujoco.mj_step(self.model, self.data, nstep=steps)

    def render(self, width: int | None = None, height: int | None = None, plain: bool = False) -> np.ndarray:
        """Return the over-the-shoulder camera image, HxWx3 uint8 RGB (default size: the world's).

        plain: without shadows, reflections and skybox, ~4x cheaper in software rendering (used for
        the small per-decision render Q_sem's observable state is computed from).
        """
        size = (width or self.width, height or self.height)
        with self.lock:
            renderer = self._renderers.get(size)
            if renderer is None:
                if not self._renderers:
                    # Free the GL contexts before interpreter shutdown tears down the OSMesa bindings.
                    atexit.register(_close_if_alive, weakref.ref(self))
                renderer = self._renderers[size] = mujoco.Renderer(self.model, height=size[1], width=size[0])
            renderer.update_scene(self.data, camera='over_shoulder')
            if plain:
                for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                             mujoco.mjtRndFlag.mjRND_SKYBOX):
                    renderer.scene.flags[flag] = False
            return renderer.render().copy()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers = {}


def _close_if_alive(world_ref) -> None:
    world = world_ref()
    if world is not None:
        world.close()


_CAMERA_FORWARD = (CAMERA_TARGET - CAMERA_POS) / np.linalg.norm(CAMERA_TARGET - CAMERA_POS)
_CAMERA_RIGHT = np.cross(_CAMERA_FORWARD, [0.0, 0.0, 1.0]) / np.linalg.norm(np.cross(_CAMERA_FORWARD, [0.0, 0.0, 1.0]))
_CAMERA_HALF_FOV = np.tan(np.radians(55.0) / 2)


def image_x(position: np.ndarray) -> float:
    """Return the horizontal image coordinate of a world point in the over-the-shoulder camera (-1 .. 1)."""
    offset = np.asarray(position, dtype=np.float64) - CAMERA_POS
    depth = float(offset @ _CAMERA_FORWARD)
    return float(offset @ _CAMERA_RIGHT) / max(depth, 1e-6) / _CAMERA_HALF_FOV


def _footprint(name: str) -> float:
    sizes = {'hammer': 0.07, 'spoon': 0.06, 'carrot': 0.055, 'plate': 0.066, 'pot': 0.07, 'towel': 0.072,
             'mushroom': 0.027, 'sushi': 0.028, 'cube': 0.026, 'banana': 0.055, 'pot_b': 0.07,
             'bowl_large': 0.068, 'bowl_small': 0.05, 'toy_a': 0.028, 'toy_b': 0.028, 'lid': 0.055,
             'corn': 0.05, 'pan': 0.065, 'sponge': 0.03, 'potato': 0.028, 'can_a': 0.024, 'can_b': 0.024,
             'dish_large': 0.066, 'dish_small': 0.046}
    return sizes[name]


def _inner_floor(container: str) -> float:
    return {'pot': 0.008, 'pot_b': 0.008, 'plate': 0.012, 'towel': 0.006, 'bowl_large': 0.006,
            'bowl_small': 0.006, 'pan': 0.006, 'dish_large': 0.01, 'dish_small': 0.01}[container]


def _sample_free_xy(rng: np.random.Generator, spot: Placement, footprint: float,
                    placed: list[tuple[np.ndarray, float]]) -> np.ndarray | None:
    for _ in range(100):
        xy = np.array([rng.uniform(*spot.x), rng.uniform(*spot.y)])
        if all(np.linalg.norm(xy - other) >= footprint + size + SCENE_MARGIN for other, size in placed):
            return xy
    return None
