"""Entry points of the simulator: task names, environments, the simulated VLM and solutions."""
from __future__ import annotations

from typing import Callable

from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.tasks import Task
from sarl_ros.sim.privileged_features import FEATURE_DIM
from sarl_ros.sim.held_out_paper import GROUP as HELD_OUT_PAPER_GROUP
from sarl_ros.sim.held_out_paper import HELD_OUT_PAPER, load_held_out_protocol
from sarl_ros.sim.state import OBSERVABLE_GROUPS
from sarl_ros.sim.task_scenes import HELD_OUT, PAPER, SUITE, TaskSpec
from sarl_ros.sim.task_scenes import TASKS as _CALIBRATED_TASKS

PAPER_TASKS = tuple(spec.name for spec in PAPER)
SUITE_TASKS = tuple(spec.name for spec in SUITE)
HELD_OUT_TASKS = tuple(spec.name for spec in HELD_OUT)
# Paper-style tasks whose objects and words no calibration task uses (held_out_protocol.json).
HELD_OUT_PAPER_TASKS = tuple(spec.name for spec in HELD_OUT_PAPER)
TASKS = {**_CALIBRATED_TASKS, **{spec.name: spec for spec in HELD_OUT_PAPER}}


def task_spec(name: str) -> TaskSpec:
    """Return the spec of a task given its name or its full text."""
    if name in TASKS:
        return TASKS[name]
    text = normalize_prompt(name)
    for spec in TASKS.values():
        if spec.text == text:
            return spec
    raise ValueError(f'unknown simulator task {name!r}; available: {", ".join(sorted(TASKS))}')


def make_env(task: str, seed: int = 0, render: bool = False, width: int = 256, height: int = 256, **kwargs):
    """Return a SemanticEnv (SimTabletopEnv) for a task name or text; kwargs go to the env."""
    from sarl_ros.sim.env import SimTabletopEnv
    return SimTabletopEnv(task_spec(task), seed=seed, render=render, width=width, height=height, **kwargs)


def make_proposer(seed: int = 0, task: str | None = None):
    """Return the simulated VLM (a PromptProposer) for a task; without one, the legacy tasks' VLM.

    Paper tasks get PaperVLMProposer (perceives the camera view with errors), the held-out paper-style
    tasks the same VLM with their own protocol's vocabulary; the legacy tasks keep
    SimVLMProposer, which reads the privileged features of their 'oracle' state.
    """
    group = task_spec(task).group if task is not None else None
    if group == 'paper':
        from sarl_ros.sim.paper_vlm import PaperVLMProposer
        return PaperVLMProposer(seed=seed)
    if group == HELD_OUT_PAPER_GROUP:
        from sarl_ros.sim.paper_vlm import PaperVLMProposer
        return PaperVLMProposer(seed=seed, protocol=load_held_out_protocol())
    from sarl_ros.sim.suite_vlm import SimVLMProposer
    return SimVLMProposer(seed=seed)


class SimulatedVLM:
    """The proposer node's `sim` backend: for each request, the simulated VLM of the task it names.

    The task's name comes with the observation (observation.info['task'], set by the episode manager,
    which resolved it); a paper-style task gets PaperVLMProposer, a legacy task SimVLMProposer. With the
    episode number (observation.info['episode']) each episode gets a VLM of its own, seeded from (seed,
    episode) as the demo seeds its proposer (episode_stream_seed(seed, episode, 'proposer')), so a graph
    proposes the same in every run and a resumed graph what an uninterrupted one would; without it, one
    VLM per task group seeded with `seed` draws on across episodes.
    """

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self._by_group: dict[str, object] = {}
        self._episode_vlm: tuple[tuple[str, int], object] | None = None  # ((group, episode), its VLM)

    def choose_from_pool(self, observation, task: str, history, pool, max_candidates: int):
        """Let the task's simulated VLM choose from a frozen pool (the legacy VLM cannot: it proposes, filtered)."""
        vlm = self._vlm_for(observation, task)
        choose = getattr(vlm, 'choose_from_pool', None)
        if choose is None:
            return vlm.propose(observation, task, history, max_candidates)
        return choose(observation, task, history, pool, max_candidates)

    def propose(self, observation, task: str, history, max_candidates: int):
        return self._vlm_for(observation, task).propose(observation, task, history, max_candidates)

    def _vlm_for(self, observation, task: str):
        spec = task_spec(observation.info.get('task') or task)
        episode = observation.info.get('episode')
        if episode is not None:
            key = (spec.group, int(episode))
            if self._episode_vlm is None or self._episode_vlm[0] != key:
                from sarl_ros.core.episode_loop import episode_stream_seed
                seed = episode_stream_seed(self.seed, int(episode), 'proposer')
                self._episode_vlm = (key, make_proposer(seed=seed, task=spec.name))
            vlm = self._episode_vlm[1]
        else:
            vlm = self._by_group.get(spec.group)
            if vlm is None:
                vlm = self._by_group[spec.group] = make_proposer(seed=self.seed, task=spec.name)
        if spec.group not in OBSERVABLE_GROUPS and len(observation.features) != FEATURE_DIM:
            raise ValueError(f'the simulated VLM of the legacy task {spec.name} reads the privileged state; '
                             'set state_featurizer: auto (or oracle) under vla_executor in the parameter file '
                             '(config:=)')
        return vlm


def env_factories() -> dict[str, Callable[[int], object]]:
    """Return one env factory (seed -> env) per task: paper, held-out paper-style, suite and held-out."""
    return {name: (lambda seed, _name=name: make_env(_name, seed=seed))
            for name in PAPER_TASKS + HELD_OUT_PAPER_TASKS + SUITE_TASKS + HELD_OUT_TASKS}


def fixed_task_prompt(task: str) -> str:
    """Return the prompt the fixed baseline sends every step: the task text itself."""
    return task_spec(task).text


def scripted_solution(task: str, world=None) -> list[str]:
    """Return the hand-written grounded commands that solve the task (in `world`'s layout when it matters)."""
    spec = task_spec(task)
    if spec.scripted_for is not None:
        if world is None:
            raise ValueError(f'the solution of {spec.name} depends on the layout: pass the world (env.world)')
        return list(spec.solution(world))
    return list(spec.scripted)


def make_demonstrator(env):
    """Return the simulated person giving language-guided demonstrations in env's scene (its grounded solution)."""
    from sarl_ros.core.sarl.demonstrations import SubgoalDemonstrator
    return SubgoalDemonstrator(lambda: scripted_solution(env.name, env.world))


class SimTaskCatalog:
    """The simulator's tasks as a TaskCatalog (sarl_ros.core.tasks)."""

    def lookup(self, name_or_text: str) -> Task | None:
        try:
            spec = task_spec(name_or_text)
        except ValueError:
            return None
        return Task(name=spec.name, text=spec.text, max_decisions=spec.max_decisions)


def fixed_prompt_success_rate(env, seeds) -> float:
    """Return the share of reset seeds on which repeating the whole task prompt succeeds (no learner involved)."""
    wins = 0
    for seed in seeds:
        env.reset(seed=seed)
        for _ in range(env.max_decisions):
            outcome = env.step(env.task)
            if outcome.done:
                break
        wins += outcome.success
    return wins / len(seeds)
