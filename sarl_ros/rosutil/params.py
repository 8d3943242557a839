"""Declaring node parameters with descriptors, and checking them.

Each node lists its parameters as Param specs; config/widowx_sarl.yaml carries the same
defaults (a test keeps the two equal), and launch arguments override them.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Sequence

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    read_only: bool = True  # backends are chosen at start-up; changing one live is not supported


class ParameterError(ValueError):
    pass


def declare_parameters(node, specs: Sequence[Param]) -> SimpleNamespace:
    """Declare every spec on the node and return the values, validated."""
    values = {}
    for spec in specs:
        constraint = f'one of: {", ".join(spec.choices)}' if spec.choices else ''
        descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only,
                                         additional_constraints=constraint)
        try:
            value = node.declare_parameter(spec.name, spec.default, descriptor).value
        except ParameterException as exc:
            # rclpy refuses a value of another type than the default's (`-p episodes:=abc`).
            raise ParameterError(refusal(spec, node, exc)) from None
        values[spec.name] = check_value(spec, value, node.get_name())
    # rclpy ignores values given for parameters a node does not have (`-p episodes:=3` to the
    # Q-policy); say so instead of leaving the user to wonder.
    ignored = sorted(set(getattr(node, '_parameter_overrides', {})) - set(values) - {'use_sim_time'})
    if ignored:
        node.get_logger().warning(f'ignoring unknown parameter(s) {", ".join(ignored)}; '
                                  f'{node.get_name()} has: {", ".join(values)}')
    return SimpleNamespace(**values)


def expectation(spec: Param) -> str:
    """Say what a parameter accepts, e.g. `int (default 60)` or `str, one of: sim, widowx`."""
    if spec.choices:
        return f'{type(spec.default).__name__}, one of: {", ".join(spec.choices)}'
    return f'{type(spec.default).__name__} (default {spec.default!r})'


def refusal(spec: Param, node, exc: Exception) -> str:
    where = f'{node.get_name()}.{spec.name}'
    # The value as given on the command line or in the parameter file.
    given = getattr(node, '_parameter_overrides', {}).get(spec.name)
    if given is not None:
        return f'parameter {where}={given.value!r} has the wrong type; expected {expectation(spec)}'
    return f'parameter {where} refused ({exc}); expected {expectation(spec)}'


def check_value(spec: Param, value: Any, node_name: str = '') -> Any:
    where = f'{node_name}.{spec.name}' if node_name else spec.name
    if spec.choices and value not in spec.choices:
        raise ParameterError(f'parameter {where}={value!r} is not known; choose one of: '
                             f'{", ".join(spec.choices)}')
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected):
        raise ParameterError(f'parameter {where} must be {expected.__name__}, got {value!r}')
    return value
