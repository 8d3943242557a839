"""One LIBERO task in the LIBERO venv: build, reset from a packaged init state, observe, run skills.

Runs only inside the LIBERO worker (imports libero, robosuite and mujoco<4).
"""
from __future__ import annotations

import os
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np

from sarl_ros.libero.skills import OPEN, SkillRunner, ground_name

SETTLE_STEPS = 10  # objects settle after set_init_state (standard LIBERO evaluation does the same)
HELD_DISTANCE = 0.05  # [m] an object this close to the closed gripper counts as held


def _quiet(fn, *args, **kwargs):
    with redirect_stdout(StringIO()):
        return fn(*args, **kwargs)


def _suite(name: str):
    from libero.libero import benchmark
    return _quiet(benchmark.get_benchmark(name))


def _bddl_path(task) -> Path:
    from libero.libero import get_libero_path
    return Path(get_libero_path('bddl_files')) / task.problem_folder / task.bddl_file


def suite_instructions(name: str) -> list[dict]:
    """Return [{'language', 'goal', 'name'}] for every task of a suite, from its BDDL files."""
    from libero.libero.envs.bddl_utils import robosuite_parse_problem
    suite = _suite(name)
    out = []
    for index in range(suite.get_num_tasks()):
        task = suite.get_task(index)
        parsed = robosuite_parse_problem(str(_bddl_path(task)))
        out.append({'name': task.name, 'language': ' '.join(parsed['language_instruction']),
                    'goal': [list(p) for p in parsed['goal_state']]})
    return out


class LiberoScene:
    """A built LIBERO task and the scripted skills acting on it."""

    def __init__(self, suite: str, task_index: int, image_size: int = 64, seed: int = 0):
        from libero.libero.envs.env_wrapper import ControlEnv
        self.suite = _suite(suite)
        if not 0 <= task_index < self.suite.get_num_tasks():
            raise ValueError(f'{suite} has tasks 0..{self.suite.get_num_tasks() - 1}, not {task_index}')
        self.task = self.suite.get_task(task_index)
        self.init_states = self.suite.get_task_init_states(task_index)
        self.image_size = int(image_size)
        self.env = _quiet(ControlEnv, bddl_file_name=str(_bddl_path(self.task)), has_renderer=False,
                          has_offscreen_renderer=self.image_size > 0, use_camera_obs=False, hard_reset=False,
                          # The episode budget is ours (decisions); robosuite's 1000-step horizon would
                          # refuse actions in the middle of a long episode.
                          ignore_done=True,
                          camera_heights=max(self.image_size, 1), camera_widths=max(self.image_size, 1))
        self.env.seed(seed)
        self.goal = [list(p) for p in self.env.env.parsed_problem['goal_state']]
        self.skills = SkillRunner(self.env, np.random.default_rng(seed))
        self.names = set(self.env.env.object_states_dict)

    @property
    def language(self) -> str:
        return self.task.language

    def reset(self, init_index: int, seed: int) -> dict:
        """Restore init state init_index (mod the packaged count), let objects settle, observe."""
        _quiet(self.env.reset)
        self.env.set_init_state(self.init_states[init_index % len(self.init_states)])
        for _ in range(SETTLE_STEPS):
            self.env.step(np.array([0, 0, 0, 0, 0, 0, OPEN]))
        self.skills.rng = np.random.default_rng(seed)
        self.skills.gripper = OPEN
        return self.observe()

    def ground(self, predicates: list[list[str]]) -> list[list[str]] | None:
        """Map a LIBERO-90 goal onto this scene's names; None if some object is not here."""
        grounded = []
        for predicate in predicates:
            names = [ground_name(n.lower(), self.names) for n in predicate[1:]]
            if any(n is None for n in names):
                return None
            grounded.append([predicate[0].lower(), *names])
        return grounded

    def execute(self, predicates: list[list[str]], budget: int) -> dict:
        """Ground and run one LIBERO-90 skill; an ungroundable one idles for one control step."""
        grounded = self.ground(predicates)
        if grounded is None:
            self.skills.steps, self.skills.budget = 0, 1
            self.skills.hold(self.skills.gripper, 1)
            steps = 1
        else:
            steps = self.skills.run(grounded, budget)
        return {'control_steps': steps, 'grounded': grounded, 'observation': self.observe()}

    def idle(self, steps: int) -> dict:
        """Hold still for steps control steps (gripper unchanged)."""
        self.skills.steps, self.skills.budget = 0, int(steps)
        self.skills.hold(self.skills.gripper, int(steps))
        return {'control_steps': self.skills.steps, 'observation': self.observe()}

    def scripted_solve(self, budget: int = 1500) -> dict:
        """Run this task's own BDDL goal as skills (the smoke test's solution; not used by the bench)."""
        steps = self.skills.run(self.goal, budget)
        return {'control_steps': steps, 'observation': self.observe()}

    def success(self) -> bool:
        return bool(self.env.check_success())

    def goal_facts(self) -> list[bool]:
        inner = self.env.env
        return [bool(inner._eval_predicate(p)) for p in self.goal]

    def held_object(self) -> str | None:
        if self.skills.gripper == OPEN:
            return None
        eef = self.skills.eef()
        for name in self.env.env.objects_dict:
            if np.linalg.norm(self.skills.position(name) - eef) < HELD_DISTANCE:
                return name
        return None

    def render(self) -> np.ndarray | None:
        if self.image_size <= 0:
            return None
        frame = self.env.env.sim.render(camera_name='agentview', width=self.image_size, height=self.image_size)
        return np.ascontiguousarray(frame[::-1])  # MuJoCo's offscreen frames come upside down

    def observe(self) -> dict:
        robot = self.env.env.robots[0]
        qpos = np.array(self.env.env.sim.data.qpos[robot._ref_gripper_joint_pos_indexes], dtype=np.float32)
        proprio = np.concatenate([self.skills.eef().astype(np.float32), qpos])
        return {'proprio': proprio, 'image': self.render(), 'success': self.success(), 'facts': self.goal_facts(),
                'held': self.held_object(), 'goal': self.goal}

    def close(self) -> None:
        self.env.close()


def configure_rendering() -> None:
    os.environ.setdefault('MUJOCO_GL', 'osmesa')
    os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')
