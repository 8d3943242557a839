"""Typed, registered configs: every option is one dataclass field, declared once with type, default, range and help.

A config class (a method's, a backend's, a run's, a node's) is a frozen dataclass deriving from
`Config`, its fields made with `setting(...)`. Everything a user sets is derived from those
fields: node parameters (sarl_ros.rosutil.params), launch arguments, config/widowx_sarl.yaml,
`--help` texts and CLI flags (`add_arguments` / `from_arguments`). Values are checked against the
declared type, range and choices when a config is built, whatever the source.

`register_config(kind, name)` files a class under a kind ('method', 'backend', 'run', 'node') and a
name, in the spirit of LeRobot's registered configs; `config_class(kind, name)` finds it again.
This module imports nothing of the package: every layer may use it.
"""
from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, Callable, NamedTuple, TypeVar

C = TypeVar('C', bound='Config')


def setting(default, help: str, *, low=None, high=None, choices=(), parameter: str = ''):
    """Declare one option: its default, one line of help, its allowed range or choices.

    parameter: the node parameter / launch argument name when it differs from the field name.
    """
    meta = {'help': help, 'low': low, 'high': high, 'choices': tuple(choices), 'parameter': parameter}
    if isinstance(default, (list, dict, tuple)) and not isinstance(default, str):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def setting_of(cls: type, name: str, help: str = '', **changes):
    """Declare an option as another config's field (default, range, choices): one declaration, shared.

    E.g. the Q-policy node's temperature is SarlConfig's; help may say more in the new place, and
    `changes` may set a field's range or parameter name (never its default: that stays where it was declared).
    """
    if 'default' in changes:
        raise TypeError('setting_of() shares the default of the field it names; declare a new setting instead')
    spec = next((s for s in settings(cls) if s.name == name), None)
    if spec is None:
        raise ValueError(f'{cls.__name__} has no field {name}')
    kwargs = {'low': spec.low, 'high': spec.high, 'choices': spec.choices, 'parameter': spec.parameter, **changes}
    return setting(spec.default, help or spec.help, **kwargs)


class Setting(NamedTuple):
    """One declared option, read back from a config class."""

    name: str
    kind: type  # bool, int, float, str, tuple or list
    default: Any
    help: str
    low: Any = None
    high: Any = None
    choices: tuple = ()
    parameter: str = ''

    def constraint(self) -> str:
        """Say what values the option allows beyond its type ('' when any), e.g. 'between 1 and 64'."""
        if self.choices:
            return f'one of: {", ".join(map(str, self.choices))}'
        if self.low is not None and self.high is not None:
            return f'between {self.low} and {self.high}'
        if self.low is not None:
            return f'at least {self.low}'
        if self.high is not None:
            return f'at most {self.high}'
        return ''

    def describe(self) -> str:
        """Return the help with the range or choices, as --help shows it."""
        constraint = self.constraint()
        return f'{self.help} ({constraint})' if constraint else self.help


@dataclass(frozen=True)
class Config:
    """Base of every config: checks the fields' types, ranges and choices when built."""

    def __post_init__(self):
        for spec in settings(type(self)):
            value = _converted(spec, getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)
            check_value(spec, value)

    @classmethod
    def settings(cls) -> list[Setting]:
        return settings(cls)

    def with_options(self: C, **options) -> C:
        """Return a copy with some fields changed; unknown names, wrong types or ranges raise ValueError."""
        known = {spec.name: spec for spec in settings(type(self))}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f'{config_label(type(self))} has no option {", ".join(unknown)}; '
                             f'it has {", ".join(known) or "none"}')
        return replace(self, **{name: _converted(known[name], value) for name, value in options.items()})

    def as_dict(self) -> dict:
        return asdict(self)


def config_label(cls: type) -> str:
    return getattr(cls, 'registered_name', '') or cls.__name__


def settings(cls: type) -> list[Setting]:
    """Return every declared option of a config class, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        if 'help' not in f.metadata:
            raise TypeError(f'{cls.__name__}.{f.name} is not declared with setting()')
        default = f.default if f.default is not MISSING else f.default_factory()
        meta = f.metadata
        out.append(Setting(f.name, _kind(hints[f.name], default), default, meta['help'], meta['low'], meta['high'],
                           meta['choices'], meta['parameter']))
    return out


def _kind(hint, default) -> type:
    origin = typing.get_origin(hint) or hint
    if origin in (bool, int, float, str, tuple, list):
        return origin
    if origin in (typing.Union, getattr(types, 'UnionType', typing.Union)):
        # `float | None`: the option's kind is the non-None one; None stays allowed (an 'unset' default).
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(kinds) == 1:
            return _kind(kinds[0], default)
    if isinstance(origin, type) and issubclass(origin, Config):
        return origin  # a nested config (e.g. a method's SAC settings)
    return type(default)


def _converted(spec: Setting, value):
    """Return the value as the declared type (a CLI or YAML string, an int for a float); ValueError if it is not one."""
    kind = spec.kind
    if value is None and spec.default is None:
        return None
    if isinstance(kind, type) and issubclass(kind, Config):
        return _nested(spec, value)
    if kind is bool:
        if isinstance(value, str) and value.strip().lower() in ('true', 'false', '1', '0'):
            return value.strip().lower() in ('true', '1')
        if not isinstance(value, bool):
            raise ValueError(f'{spec.name} must be true or false, got {value!r}')
        return value
    if kind in (tuple, list):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(',') if part.strip()]
        return kind(value)
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(f'{spec.name} must be an integer, got {value!r}')
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f'{spec.name} must be an integer, got {value!r}') from None
        if not number.is_integer():
            raise ValueError(f'{spec.name} must be an integer, got {value!r}')
        return int(number)
    if kind is float and isinstance(value, bool):
        raise ValueError(f'{spec.name} must be a number, got {value!r}')
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f'{spec.name} must be a {kind.__name__}, got {value!r}') from None


def _nested(spec: Setting, value):
    """Return a nested config: as given, or the field's default with a mapping's fields changed."""
    if isinstance(value, spec.kind):
        return value
    if not isinstance(value, dict):
        raise ValueError(f'{spec.name} must be a {spec.kind.__name__} or a mapping of its options, got {value!r}')
    # A mapping changes the field's own default (a method's SAC settings differ from SAC's published ones),
    # so as_dict() of a config builds the same config again.
    return spec.default.with_options(**value)


def check_value(spec: Setting, value) -> None:
    """Raise ValueError naming the option when a value is outside its choices or range."""
    if value is None:
        return  # an unset optional value (its default is None)
    if spec.choices and value not in spec.choices:
        raise ValueError(f'{spec.name}={value!r}: choose one of {", ".join(map(str, spec.choices))}')
    if spec.low is not None and value < spec.low:
        raise ValueError(f'{spec.name}={value!r} is below its minimum {spec.low}')
    if spec.high is not None and value > spec.high:
        raise ValueError(f'{spec.name}={value!r} is above its maximum {spec.high}')


# --- the registry ------------------------------------------------------------------------------------

KINDS = ('method', 'backend', 'run', 'node')
_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}


def register_config(kind: str, name: str) -> Callable[[type], type]:
    """Class decorator: file a config class under (kind, name); a name is registered once."""
    if kind not in KINDS:
        raise ValueError(f'unknown config kind {kind!r}; choose one of {", ".join(KINDS)}')

    def register(cls: type) -> type:
        if name in _REGISTRY[kind] and _REGISTRY[kind][name] is not cls:
            raise ValueError(f'{kind} config {name!r} is registered already ({_REGISTRY[kind][name].__name__})')
        settings(cls)  # every field must be declared with setting()
        cls.registered_name = name
        _REGISTRY[kind][name] = cls
        return cls
    return register


def config_class(kind: str, name: str) -> type:
    """Return the registered config class; ValueError naming the registered ones if there is none."""
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        known = ', '.join(_REGISTRY.get(kind, {})) or 'none'
        raise ValueError(f'unknown {kind} {name!r}; choose one of {known}') from None


def registered(kind: str) -> dict[str, type]:
    return dict(_REGISTRY[kind])


# --- command lines -------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser, cls: type, *, only: tuple[str, ...] = (),
                  skip: tuple[str, ...] = (), prefix: str = '', given_only: bool = False) -> None:
    """Add one --flag per option of a config class (dashes for underscores), defaulting to the field's.

    given_only: a flag not on the command line sets nothing (argparse.SUPPRESS), so a caller can apply
    just the given options onto a config of its own (e.g. a SARL variant's, whose defaults differ).
    """
    for spec in settings(cls):
        if (only and spec.name not in only) or spec.name in skip:
            continue
        flag = '--' + (prefix + spec.name).replace('_', '-')
        default = argparse.SUPPRESS if given_only else spec.default
        text = f'{spec.describe()} (default: {spec.default})' if given_only else spec.describe()
        kwargs: dict[str, Any] = {'dest': prefix + spec.name, 'default': default, 'help': text.replace('%', '%%')}
        if spec.kind is bool:
            kwargs['action'] = argparse.BooleanOptionalAction
        else:
            kwargs['type'] = _argument_type(spec)
            kwargs['metavar'] = spec.kind.__name__.upper() if not spec.choices else '{' + ','.join(spec.choices) + '}'
        parser.add_argument(flag, **kwargs)


def _argument_type(spec: Setting):
    def parse(text: str):
        try:
            value = _converted(spec, text)
            check_value(spec, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value
    parse.__name__ = spec.kind.__name__
    return parse


def from_arguments(args: argparse.Namespace, cls: type[C], *, prefix: str = '', **overrides) -> C:
    """Build a config from the flags add_arguments added (flags not added keep their defaults)."""
    values = {spec.name: getattr(args, prefix + spec.name) for spec in settings(cls)
              if hasattr(args, prefix + spec.name)}
    values.update(overrides)
    return cls(**values)
