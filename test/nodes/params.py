"""Parameter overrides for nodes constructed in tests."""
from rclpy.parameter import Parameter


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}
