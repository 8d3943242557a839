"""Declaring a node's parameters from its config class, with descriptors, and checking them.

Each node's parameters are the fields of its registered config (sarl_ros.node_configs): one
ROS parameter per field, its descriptor carrying the help and the allowed range or choices.
config/widowx_sarl.yaml carries the same defaults (a test keeps the two equal), and launch
arguments override them.
"""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException

from sarl_ros.core.config import Setting, settings


class ParameterError(ValueError):
    pass


def declare_parameters(node, config_class: type):
    """Declare one parameter per field of a node config on the node; return the values as a checked config."""
    values = {}
    for spec in settings(config_class):
        # Backends are chosen at start-up; changing a parameter of a running node is not supported.
        descriptor = ParameterDescriptor(description=spec.help, read_only=True,
                                         additional_constraints=spec.constraint())
        default = list(spec.default) if spec.kind in (list, tuple) else spec.default
        try:
            value = node.declare_parameter(spec.name, default, descriptor).value
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
    return config_class(**values)


def expectation(spec: Setting) -> str:
    """Say what a parameter accepts, e.g. `int (default 60)` or `str, one of: sim, widowx`."""
    if spec.choices:
        return f'{spec.kind.__name__}, one of: {", ".join(spec.choices)}'
    return f'{spec.kind.__name__} (default {spec.default!r})'


def refusal(spec: Setting, node, exc: Exception) -> str:
    where = f'{node.get_name()}.{spec.name}'
    # The value as given on the command line or in the parameter file.
    given = getattr(node, '_parameter_overrides', {}).get(spec.name)
    if given is not None:
        return f'parameter {where}={given.value!r} has the wrong type; expected {expectation(spec)}'
    return f'parameter {where} refused ({exc}); expected {expectation(spec)}'


def check_value(spec: Setting, value: Any, node_name: str = '') -> Any:
    """Return the value as the field's type; ParameterError naming the parameter when it is not allowed."""
    where = f'{node_name}.{spec.name}' if node_name else spec.name
    if spec.choices and value not in spec.choices:
        raise ParameterError(f'parameter {where}={value!r} is not known; choose one of: '
                             f'{", ".join(spec.choices)}')
    expected = spec.kind
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected in (list, tuple) and isinstance(value, (list, tuple)):
        value = expected(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ParameterError(f'parameter {where} must be {expected.__name__}, got {value!r}')
    if spec.low is not None and value < spec.low:
        raise ParameterError(f'parameter {where}={value!r} is below its minimum {spec.low}')
    if spec.high is not None and value > spec.high:
        raise ParameterError(f'parameter {where}={value!r} is above its maximum {spec.high}')
    return value
