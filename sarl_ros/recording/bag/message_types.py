"""The message types a SARL bag holds, as a rosbags typestore (no ROS needed).

The sarl_ros definitions come from this package's msg/*.msg (the checkout, or the
installed share/sarl_ros/msg); std_msgs and sensor_msgs come from rosbags' ROS 2 store.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sarl_ros import names

PACKAGE = 'sarl_ros'
IMAGE_TYPE = 'sensor_msgs/msg/Image'

# Topic -> message type, for every recorded topic.
TOPIC_TYPES = {
    names.TOPIC_CANDIDATES: 'sarl_ros/msg/CandidateSet',
    names.TOPIC_TRANSITIONS: 'sarl_ros/msg/Transition',
    names.TOPIC_REWARDS: 'sarl_ros/msg/RewardSignal',
    names.TOPIC_EVENTS: 'sarl_ros/msg/EpisodeEvent',
    names.TOPIC_LEARNER_STATS: 'sarl_ros/msg/LearnerStats',
    names.TOPIC_EXECUTED_ACTIONS: 'sarl_ros/msg/ExecutedAction',
    names.TOPIC_CAMERA: IMAGE_TYPE,
    names.TOPIC_SIM_CAMERA: IMAGE_TYPE,
}
SARL_TOPICS = tuple(t for t, typ in TOPIC_TYPES.items() if typ.startswith(f'{PACKAGE}/'))


class InterfaceError(RuntimeError):
    """The sarl_ros message definitions cannot be found or parsed."""


def msg_directories() -> list[Path]:
    """Return where msg/*.msg may be, most specific first."""
    found = [Path(__file__).resolve().parents[2] / 'msg']  # a source checkout
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            found.append(Path(prefix) / 'share' / PACKAGE / 'msg')
    return found


def find_msg_directory() -> Path:
    """Return the directory holding this package's .msg files."""
    for directory in msg_directories():
        if (directory / 'Transition.msg').is_file():
            return directory
    searched = ', '.join(str(d) for d in msg_directories())
    raise InterfaceError(f'the sarl_ros message definitions (msg/*.msg) were not found; searched {searched}')


def own_definitions() -> dict[str, str]:
    """Return {'sarl_ros/msg/Name': text of Name.msg} for every message of this package."""
    directory = find_msg_directory()
    return {f'{PACKAGE}/msg/{p.stem}': p.read_text() for p in sorted(directory.glob('*.msg'))}


@lru_cache(maxsize=1)
def own_typestore():
    """Return a typestore with ROS 2 (kilted) standard types and this package's messages."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(_newest_ros2_store(Stores))
    types = {}
    for name, text in own_definitions().items():
        try:
            types.update(get_types_from_msg(text, name))
        except Exception as exc:  # noqa: BLE001 - the parser raises several types
            raise InterfaceError(f'cannot parse {name}: {exc}') from exc
    store.register(types)
    return store


def _newest_ros2_store(stores):
    for name in ('ROS2_KILTED', 'ROS2_JAZZY', 'ROS2_HUMBLE'):
        if hasattr(stores, name):
            return getattr(stores, name)
    raise InterfaceError('this rosbags version has no ROS 2 type store')


def definition_and_hash(msgtype: str) -> tuple[str, str]:
    """Return the concatenated .msg definition (as `ros2 bag record` stores it) and its RIHS01 hash."""
    store = own_typestore()
    msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
    return msgdef, store.hash_rihs01(msgtype)


def field_names(store, msgtype: str) -> list[str]:
    """Return the field names of a type in a typestore."""
    return [name for name, _ in store.fielddefs[msgtype][1]]
