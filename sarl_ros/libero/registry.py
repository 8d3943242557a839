"""Entry points of the LIBERO-10 benchmark: task names, environments, the simulated VLM."""
from __future__ import annotations

from typing import Callable

from sarl_ros.libero.client import libero_available

# LIBERO-10 in the package's order (libero.libero.benchmark 'libero_10'), short names for the CLI.
TASK_NAMES = ('libero10_soup_sauce_basket', 'libero10_cheese_butter_basket', 'libero10_stove_moka',
              'libero10_bowl_drawer_close', 'libero10_mugs_on_plates', 'libero10_book_caddy',
              'libero10_mug_pudding_plate', 'libero10_soup_cheese_basket', 'libero10_two_mokas_stove',
              'libero10_mug_microwave_close')
GROUP = 'libero10'


def task_index(name: str) -> int:
    if name not in TASK_NAMES:
        raise ValueError(f'unknown LIBERO-10 task {name!r}; available: {", ".join(TASK_NAMES)}')
    return TASK_NAMES.index(name)


def make_env(name: str, seed: int = 0, **kwargs):
    """Return a LiberoEnv (starts a worker process in the LIBERO venv)."""
    from sarl_ros.libero.env import LiberoEnv
    return LiberoEnv(task_index(name), seed=seed, **kwargs)


def make_proposer(seed: int = 0):
    from sarl_ros.libero.libero_vlm import LiberoVLMProposer
    return LiberoVLMProposer(seed=seed)


def env_factories() -> dict[str, Callable[[int], object]]:
    """One env factory (seed -> env) per LIBERO-10 task; empty without `./sarl setup --libero`."""
    if not libero_available():
        return {}
    return {name: (lambda seed, _name=name: make_env(_name, seed=seed)) for name in TASK_NAMES}
