"""Method registry: make_policy(name, ...) for SARL, its ablations and the baselines.

SARL variants are one typed SarlConfig each (sarl_ros.core.sarl.config.SARL_VARIANTS): options
given here are checked against its fields (name, type, range) and change a copy. The baselines keep
their keyword options. The action-space RL baselines (dsrl, residual: sarl_ros.core.baselines.action_rl) are
Policies too; they keep the task prompt fixed and steer the VLA's execution (the simulator).
"""
from __future__ import annotations

import inspect
from typing import Callable

from sarl_ros.core.baselines.action_rl import DsrlPolicy, ResidualPolicy
from sarl_ros.core.baselines.simple import FixedPolicy, IclPolicy, RandomPolicy, UcbPolicy
from sarl_ros.core.policy import Policy
from sarl_ros.core.baselines.sarl_text import SarlPolicy
from sarl_ros.core.sarl.config import SARL_VARIANTS, SarlConfig
from sarl_ros.core.sarl.policy import PaperSarlPolicy

from sarl_ros.core.method_names import BENCH_METHODS, METHODS, SARL_METHODS  # noqa: F401 - names without torch

METHOD_FACTORIES: dict[str, Callable[..., Policy]] = {
    'sarl_text': SarlPolicy,
    'fixed': FixedPolicy,
    'icl': IclPolicy,
    'random': RandomPolicy,
    'ucb': UcbPolicy,
    'dsrl': DsrlPolicy,
    'residual': ResidualPolicy,
}


def register_method(name: str, factory: Callable[..., Policy]) -> None:
    """Add a method (e.g. an action-space RL baseline) to the registry make_policy draws from."""
    if name in METHOD_FACTORIES or name in SARL_VARIANTS:
        raise ValueError(f'method {name!r} is registered already')
    METHOD_FACTORIES[name] = factory


def _known(name: str) -> None:
    if name not in METHOD_FACTORIES and name not in SARL_VARIANTS:
        raise ValueError(f'unknown method {name!r}; choose one of {", ".join([*SARL_VARIANTS, *METHOD_FACTORIES])}')


def _keywords(factory: Callable) -> dict:
    """Return the keyword-only options of a baseline's constructor (and its bases') with their defaults."""
    found: dict = {}
    for klass in factory.__mro__ if inspect.isclass(factory) else (factory,):
        init = klass.__init__ if inspect.isclass(factory) else klass
        if init is object.__init__:
            continue
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind == p.KEYWORD_ONLY:
                found.setdefault(p.name, None if p.default is p.empty else p.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return found


def method_config(name: str, **options) -> SarlConfig:
    """Return the SarlConfig of a SARL variant with options applied (ValueError for other methods)."""
    if name not in SARL_VARIANTS:
        raise ValueError(f'{name!r} is not a SARL variant; SARL variants: {", ".join(SARL_VARIANTS)}')
    return SARL_VARIANTS[name].with_options(**options)


def method_defaults(name: str) -> dict:
    """Return the options of a method with their defaults."""
    _known(name)
    if name in SARL_VARIANTS:
        return SARL_VARIANTS[name].as_dict()
    return {k: v for k, v in _keywords(METHOD_FACTORIES[name]).items() if k not in ('seed', 'encoder')}


def make_policy(name: str, *, seed: int = 0, encoder: str = 'auto', **options) -> Policy:
    """Return a fresh policy of a method; ValueError for unknown names or options (naming the valid ones)."""
    _known(name)
    if name in SARL_VARIANTS:
        return PaperSarlPolicy(method_config(name, **options), seed=seed, method=name, encoder=encoder)
    factory = METHOD_FACTORIES[name]
    accepted = _keywords(factory)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f'method {name!r} does not take {", ".join(unknown)}; it takes {", ".join(sorted(accepted))}')
    return factory(seed=seed, encoder=encoder, **options)
