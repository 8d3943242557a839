"""Benchmark task registry: the toy MDPs, plus the simulated WidowX tasks when sarl_ros.sim is importable.

Groups: toy, paper (the SARL paper's four WidowX tasks, observable state), held_out_paper (paper-style
tasks with objects and words no calibration task uses), suite and held_out (the first simulated suite,
privileged state; together: legacy), all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sarl_ros.harness.toy_mdps import TOY_TASKS, make_toy_env, make_toy_proposer


# Groups a --tasks list may name; legacy stands for suite + held_out.
GROUPS = ('toy', 'paper', 'held_out_paper', 'suite', 'held_out', 'legacy', 'libero10')


@dataclass(frozen=True)
class BenchTask:
    name: str
    make_env: Callable  # seed -> SemanticEnv
    make_proposer: Callable  # seed -> PromptProposer
    group: str  # 'toy', 'paper', 'held_out_paper', 'suite', 'held_out' or 'libero10'
    # (seed, state mode) -> SemanticEnv for tasks with more than one state (paper: observable / oracle)
    make_env_with_state: Callable | None = None
    # env -> a demonstrator choosing the grounded commands in that env's scene (simulated tasks)
    make_demonstrator: Callable | None = None

    def env_for(self, seed: int, state_mode: str, scene_seed: int | None = None):
        """Return an environment giving the state a method asks for (where the task has a choice).

        scene_seed: keep that scene across resets (paper-like); only the simulated paper-style tasks have it.
        """
        if self.make_env_with_state is None:
            if scene_seed is not None:
                raise ValueError(f'task {self.name} has no paper-like reset (only the simulated paper-style tasks)')
            return self.make_env(seed)
        return self.make_env_with_state(seed, state_mode, scene_seed=scene_seed)


def _sim_tasks() -> dict[str, BenchTask]:
    try:
        from sarl_ros.sim import registry
    except ImportError:
        return {}
    suite = set(registry.SUITE_TASKS)
    # Paper-style groups: the perceiving VLM of their protocol, and a choice of state (observable / oracle).
    paper_style = {**{n: 'paper' for n in registry.PAPER_TASKS},
                   **{n: 'held_out_paper' for n in registry.HELD_OUT_PAPER_TASKS}}
    tasks = {}
    for name, factory in registry.env_factories().items():
        if name in paper_style:
            tasks[name] = BenchTask(name, factory, lambda seed, n=name: registry.make_proposer(seed=seed, task=n),
                                    paper_style[name],
                                    lambda seed, state, n=name, **kw: registry.make_env(
                                        n, seed=seed, state=state, **kw),
                                    registry.make_demonstrator)
        else:
            tasks[name] = BenchTask(name, factory, lambda seed: registry.make_proposer(seed=seed),
                                    'suite' if name in suite else 'held_out')
    return tasks


def _libero_tasks() -> dict[str, BenchTask]:
    # LIBERO-10 (issue 15): present only after `./sarl setup --libero`; the scenes run in a worker process.
    from sarl_ros.libero import registry
    return {name: BenchTask(name, factory, lambda seed: registry.make_proposer(seed=seed), registry.GROUP)
            for name, factory in registry.env_factories().items()}


def available_tasks() -> dict[str, BenchTask]:
    """Return every task the benchmark can run, by name."""
    tasks = {name: BenchTask(name, lambda seed, n=name: make_toy_env(n, seed),
                             lambda seed, n=name: make_toy_proposer(n, seed), 'toy') for name in TOY_TASKS}
    tasks.update(_sim_tasks())
    tasks.update(_libero_tasks())
    return tasks


def resolve_tasks(spec: str, tasks: dict[str, BenchTask] | None = None) -> list[str]:
    """Return task names from a comma list of names or groups (GROUPS, or all)."""
    tasks = available_tasks() if tasks is None else tasks
    names: list[str] = []
    for item in (s.strip() for s in spec.split(',') if s.strip()):
        if item == 'all':
            # LIBERO-10 costs minutes per episode: only by name or with the libero10 group.
            names += [n for n, t in tasks.items() if t.group != 'libero10']
        elif item in GROUPS:
            groups = ('suite', 'held_out') if item == 'legacy' else (item,)
            group = [n for n, t in tasks.items() if t.group in groups]
            if not group:
                hint = './sarl setup --libero' if item == 'libero10' else 'is sarl_ros.sim importable?'
                raise ValueError(f'no {item} tasks available ({hint})')
            names += group
        elif item in tasks:
            names.append(item)
        else:
            raise ValueError(f'unknown task {item!r}; available: {", ".join(tasks)} '
                             f'(groups: {", ".join(GROUPS)}, all)')
    if not names:
        raise ValueError('no task given')
    return list(dict.fromkeys(names))


def default_task_spec() -> str:
    """Return 'paper' when the simulated tasks are available, else 'toy'."""
    return 'paper' if any(t.group == 'paper' for t in available_tasks().values()) else 'toy'
