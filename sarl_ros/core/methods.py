"""Method registry: build SARL, its ablations and the baselines from their registered configs.

Every method's options are the fields of one config class (sarl_ros.core.config, kind 'method'):
SarlConfig for SARL, whose named variants are SarlConfig instances (SARL_VARIANTS), and one config
per baseline (FixedConfig, ..., DsrlConfig, ResidualConfig). `make_policy_from_config(config)` builds
the policy a config describes; `make_policy(name, **options)` is the convenience entry: it checks the
options against the config's fields (name, type, range) and applies them to the method's default
config. The action-space RL baselines (dsrl, residual: sarl_ros.core.baselines.action_rl) are Policies
too; they keep the task prompt fixed and steer the VLA's execution (the simulator).
"""
from __future__ import annotations

from sarl_ros.core.baselines.action_rl import DsrlPolicy, ResidualPolicy
from sarl_ros.core.baselines.sarl_text import SarlPolicy
from sarl_ros.core.baselines.simple import FixedPolicy, IclPolicy, RandomPolicy, UcbPolicy
from sarl_ros.core.config import Config, config_class, config_label
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER
from sarl_ros.core.policy import Policy
from sarl_ros.core.sarl.config import SARL_VARIANTS, SarlConfig
from sarl_ros.core.sarl.policy import PaperSarlPolicy

from sarl_ros.core.method_names import BENCH_METHODS, METHODS, SARL_METHODS  # noqa: F401 - names without torch

# The baselines' policy classes; each names its config class (config_class), registered under the method name.
METHOD_FACTORIES: dict[str, type[Policy]] = {
    'sarl_text': SarlPolicy,
    'fixed': FixedPolicy,
    'icl': IclPolicy,
    'random': RandomPolicy,
    'ucb': UcbPolicy,
    'dsrl': DsrlPolicy,
    'residual': ResidualPolicy,
}


def register_method(name: str, factory: type[Policy]) -> None:
    """Add a method (a Policy class with a config_class) to the registry make_policy draws from."""
    if name in METHOD_FACTORIES or name in SARL_VARIANTS:
        raise ValueError(f'method {name!r} is registered already')
    if not issubclass(getattr(factory, 'config_class', object), Config):
        raise TypeError(f'{factory.__name__} names no config class (config_class)')
    METHOD_FACTORIES[name] = factory


def _known(name: str) -> None:
    if name not in METHOD_FACTORIES and name not in SARL_VARIANTS:
        raise ValueError(f'unknown method {name!r}; choose one of {", ".join([*SARL_VARIANTS, *METHOD_FACTORIES])}')


def default_config(name: str) -> Config:
    """Return the config a method runs with when no option is given."""
    _known(name)
    if name in SARL_VARIANTS:
        return SARL_VARIANTS[name]
    factory = METHOD_FACTORIES[name]
    registered = _registered_config(name)
    return (registered or factory.config_class)()


def _registered_config(name: str) -> type | None:
    try:
        return config_class('method', name)
    except ValueError:
        return None  # a method added with register_method uses its policy class's config


def method_config(name: str, **options) -> Config:
    """Return a method's config with options applied; ValueError naming the valid options for unknown ones."""
    base = default_config(name)
    if name not in SARL_VARIANTS:
        accepted = [spec.name for spec in base.settings()]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(f'method {name!r} does not take {", ".join(unknown)}; it takes {", ".join(accepted)}')
    return base.with_options(**options)


def method_defaults(name: str) -> dict:
    """Return the options of a method with their defaults (its config's fields)."""
    return default_config(name).as_dict()


def make_policy_from_config(config: Config, *, method: str = '', seed: int = 0,
                            encoder: str = DEFAULT_ENCODER) -> Policy:
    """Return a fresh policy built from a method's config (method: the name it runs under, e.g. a SARL variant)."""
    method = method or config_label(type(config))
    _known(method)
    if isinstance(config, SarlConfig):
        if method not in SARL_VARIANTS:
            raise ValueError(f'a SarlConfig runs one of the SARL variants ({", ".join(SARL_VARIANTS)}), not {method!r}')
        return PaperSarlPolicy(config, seed=seed, method=method, encoder=encoder)
    factory = METHOD_FACTORIES.get(method)
    if factory is None or not isinstance(config, factory.config_class):
        raise ValueError(f'method {method!r} is not built from a {type(config).__name__}')
    return factory(config, seed=seed, encoder=encoder)


def make_policy(name: str, *, seed: int = 0, encoder: str = DEFAULT_ENCODER, **options) -> Policy:
    """Return a fresh policy of a method; ValueError for unknown names or options (naming the valid ones)."""
    return make_policy_from_config(method_config(name, **options), method=name, seed=seed, encoder=encoder)
