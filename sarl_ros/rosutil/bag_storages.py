"""The rosbag2 storage formats rosbags can write: the recorder config lists them, the bag writer uses them (no ROS)."""
from __future__ import annotations

try:
    from rosbags.rosbag2 import StoragePlugin
    STORAGES = tuple(p.name.lower() for p in StoragePlugin)  # ('sqlite3', 'mcap') in rosbags 0.11
except ImportError:
    # Outside the environment (a node started by a python without it) the node must still get far enough
    # to say what is missing: the formats of the pinned rosbags then.
    STORAGES = ('sqlite3', 'mcap')
DEFAULT_STORAGE = 'mcap' if 'mcap' in STORAGES else 'sqlite3'
