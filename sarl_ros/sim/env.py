"""The simulated tabletop as a SemanticEnv: each action is a prompt the simulated VLA executes.

State modes (Observation.features):
  'observable'  what the real robot has (ObservableFeaturizer over joint states, the gripper, a small
                camera render per decision, the prompts executed this episode): the paper tasks' default;
  'oracle'      privileged simulator state (sarl_ros.sim.privileged_features: positions, held flags, subgoal
                flags): the legacy tasks' default, and the labelled `sarl_oracle` ablation.
observation.info['scene_view'] is what the camera shows (objects, their colours and image positions,
what is held or inside what): the simulated VLM reads it only through its perception stand-in.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.executor import execute_prompt, require_latent_noise
from sarl_ros.core.mdp import Observation, StepOutcome, judge_step
from sarl_ros.sim.robot import SimRobot
from sarl_ros.sim.state import FEATURE_IMAGE_SIDE, STATE_MODES, StateCamera, check_state_mode, default_state_mode
from sarl_ros.sim.state import make_state_featurizer
from sarl_ros.sim.task_scenes import TaskSpec
from sarl_ros.sim.view import scene_view
from sarl_ros.sim.vla import SimVLA
from sarl_ros.sim.world import TabletopWorld

DEFAULT_CONTROL_STEPS = 12  # control steps per prompt (2.4 s at 5 Hz); skills usually end earlier
__all__ = ['FEATURE_IMAGE_SIDE', 'STATE_MODES', 'SimCamera', 'SimTabletopEnv', 'reset_task_scene']


def reset_task_scene(world: TabletopWorld, robot: SimRobot, vla: SimVLA, spec: TaskSpec, seed: int,
                     scene_seed: int | None = None) -> None:
    """Lay out a task's scene for an episode, arm at home, layout roles fixed, VLA noise reseeded (env and graph alike).

    scene_seed None re-paints and re-samples the scene from `seed`; a scene_seed keeps the scene's
    colours and base layout across episodes (paper-like reset, TabletopWorld.reset_scene).
    """
    with world.lock:
        world.reset_scene(seed, scene_seed=scene_seed)
        robot.home()
        world.roles = spec.assign_roles(world) if spec.assign_roles else {}
    vla.rng = np.random.default_rng(seed + 104729)
    vla.reset()


class SimCamera:
    """The Camera interface over the world's over-the-shoulder view."""

    def __init__(self, world: TabletopWorld):
        self.world = world

    def read(self) -> np.ndarray:
        return self.world.render()


class SimTabletopEnv:
    """A task on the simulated WidowX tabletop (implements sarl_ros.core.mdp.SemanticEnv)."""

    def __init__(self, spec: TaskSpec, seed: int = 0, render: bool = False, width: int = 256, height: int = 256,
                 control_steps: int = DEFAULT_CONTROL_STEPS, subgoal_bonus: float = 0.0,
                 max_decisions: int | None = None, state: str | None = None, scene_seed: int | None = None):
        if control_steps <= 0:
            raise ValueError(f'control_steps must be positive, got {control_steps}')
        self.state_mode = check_state_mode(state or default_state_mode(spec))
        self.history: list[str] = []  # prompts executed this episode: the observable state's history part
        self.spec = spec
        self.scene_seed = scene_seed  # None: colours re-painted every reset; else the kept scene (paper-like)
        self.task = spec.text
        self.name = spec.name
        self.max_decisions = max_decisions or spec.max_decisions
        self.control_steps = control_steps
        self.subgoal_bonus = subgoal_bonus
        self.render_images = render
        self.world = TabletopWorld(spec.scene, seed=seed, width=width, height=height)
        self.robot = SimRobot(self.world)
        self.vla = SimVLA(self.world, seed=seed + 7919)
        self.camera = SimCamera(self.world)
        self.featurizer = make_state_featurizer(self.state_mode, self.world, spec)
        # Oracle state reads no frame, so none is rendered for it.
        self.state_camera = StateCamera(self.world) if self.state_mode == 'observable' else None
        self._seed_rng = np.random.default_rng(seed)
        self.decisions = 0
        self._achieved: set[str] = set()
        self.steering = None  # action-space RL inside each prompt's execution (attach_steering)

    def attach_steering(self, steering) -> None:
        """Let action-space RL (DSRL, residual RL) act inside every prompt's execution; None detaches."""
        if steering is not None and steering.needs_noise:
            require_latent_noise(self.vla)
        self.steering = steering

    def reset(self, seed: int | None = None) -> Observation:
        """Sample a new scene (from seed, else the env's own sequence) and return its observation."""
        if seed is None:
            seed = int(self._seed_rng.integers(2 ** 31))
        reset_task_scene(self.world, self.robot, self.vla, self.spec, seed, self.scene_seed)
        self.decisions = 0
        self.history = []
        self._achieved = set()
        return self._observe()

    def step(self, prompt: str) -> StepOutcome:
        """Execute one prompt for up to control_steps control steps and score the result."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f'a prompt must be a non-empty string, got {prompt!r}')
        camera = self.camera if self.render_images else None
        run = execute_prompt(self.robot, camera, self.vla, prompt, self.control_steps, steering=self.steering)
        self.decisions += 1
        self.history.append(prompt)
        success = bool(self.spec.success(self.world))
        failed = self.spec.failed_for_good(self.world)
        reward, terminal = judge_step(success, failed)
        flags = self._subgoal_flags()
        newly = [name for name, done in flags.items() if done and name not in self._achieved]
        self._achieved.update(newly)
        if self.subgoal_bonus and not success:
            reward += self.subgoal_bonus * len(newly)
        observation = self._observe()
        observation.info.update(outcome=run.outcome, clipped_steps=run.clipped_steps,
                                command=self.vla.last_command, grounding=dict(self.vla.last_grounding))
        return StepOutcome(observation=observation, reward=reward, terminal=terminal,
                           truncated=not terminal and self.decisions >= self.max_decisions,
                           success=success, control_steps=run.control_steps, failed_for_good=failed,
                           info={'subgoals': flags, 'new_subgoals': newly, 'lost_object': failed,
                                 'outcome': run.outcome})

    def success(self) -> bool:
        return bool(self.spec.success(self.world))

    def render(self) -> np.ndarray:
        return self.world.render()

    def _subgoal_flags(self) -> dict[str, bool]:
        return {name: bool(check(self.world)) for name, check in self.spec.subgoals}

    def _observe(self) -> Observation:
        image = self.world.render() if self.render_images else None
        # The same inputs the graph's executor gives the same featurizer (sarl_ros.sim.ros_stack).
        frame = self.state_camera.read() if self.state_camera is not None else None
        features = self.featurizer.features(frame, self.robot.joint_state(), self.history)
        return Observation(features=features, image=image,
                           info={'task': self.name, 'subgoals': self._subgoal_flags(), 'holding': self.world.holding,
                                 'decisions': self.decisions, 'scene_view': scene_view(self.world)})
