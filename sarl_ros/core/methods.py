"""Method registry: make_policy(name, ...) for SARL and the baselines.

The action-space RL baselines (dsrl, residual: sarl_ros.core.action_rl) are Policies too; they keep the
task prompt fixed and steer the VLA's execution (an environment with attach_steering, i.e. the simulator).
"""
from __future__ import annotations

import inspect
from typing import Callable

from sarl_ros.core.action_rl import DsrlPolicy, ResidualPolicy
from sarl_ros.core.baselines import (BlindSarlPolicy, FixedPolicy, IclPolicy, OracleSarlPolicy, RandomPolicy,
                                     UcbPolicy)
from sarl_ros.core.policies import Policy, SarlPolicy

from sarl_ros.core.method_names import BENCH_METHODS, METHODS  # noqa: F401 - the names, without torch

METHOD_FACTORIES: dict[str, Callable[..., Policy]] = {
    'sarl': SarlPolicy,
    'fixed': FixedPolicy,
    'icl': IclPolicy,
    'random': RandomPolicy,
    'sarl_blind': BlindSarlPolicy,
    'sarl_oracle': OracleSarlPolicy,
    'ucb': UcbPolicy,
    'dsrl': DsrlPolicy,
    'residual': ResidualPolicy,
}


def register_method(name: str, factory: Callable[..., Policy]) -> None:
    """Add a method (e.g. an action-space RL baseline) to the registry make_policy draws from."""
    if name in METHOD_FACTORIES:
        raise ValueError(f'method {name!r} is registered already')
    METHOD_FACTORIES[name] = factory


def _accepted_keywords(factory: Callable) -> set[str] | None:
    accepted: set[str] = set()
    for klass in (factory.__mro__ if inspect.isclass(factory) else (factory,)):
        init = klass.__init__ if inspect.isclass(factory) else klass
        if init is object.__init__:
            continue
        params = inspect.signature(init).parameters.values()
        accepted |= {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return accepted
    return accepted


def method_defaults(name: str) -> dict:
    """Return the keyword options of a method with their defaults (the one place they are set)."""
    factory = METHOD_FACTORIES.get(name)
    if factory is None:
        raise ValueError(f'unknown method {name!r}; choose one of {", ".join(METHOD_FACTORIES)}')
    defaults: dict = {}
    for klass in (factory.__mro__ if inspect.isclass(factory) else (factory,)):
        init = klass.__init__ if inspect.isclass(factory) else klass
        if init is object.__init__:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind == p.KEYWORD_ONLY and p.default is not p.empty:
                defaults.setdefault(p.name, p.default)
    return defaults


def make_policy(name: str, *, seed: int = 0, encoder: str = 'auto', temperature: float = 0.2, gamma: float = 0.9,
                **kw) -> Policy:
    """Return a fresh policy of a method (see METHOD_FACTORIES); ValueError for unknown names or options."""
    factory = METHOD_FACTORIES.get(name)
    if factory is None:
        raise ValueError(f'unknown method {name!r}; choose one of {", ".join(METHOD_FACTORIES)}')
    accepted = _accepted_keywords(factory)
    unknown = sorted(set(kw) - accepted) if accepted is not None else []
    if unknown:
        raise ValueError(f'method {name!r} does not take {", ".join(unknown)}; it takes {", ".join(sorted(accepted))}')
    return factory(seed=seed, encoder=encoder, temperature=temperature, gamma=gamma, **kw)
