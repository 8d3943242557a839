"""The rosbag2 storage formats rosbags can write: the recorder config lists them, the bag writer uses them (no ROS)."""
from __future__ import annotations

from rosbags.rosbag2 import StoragePlugin

STORAGES = tuple(p.name.lower() for p in StoragePlugin)  # ('sqlite3', 'mcap') in rosbags 0.11
DEFAULT_STORAGE = 'mcap' if 'mcap' in STORAGES else 'sqlite3'
