"""QoS profiles: sensor data for images, reliable for everything that must not be lost."""
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

SENSOR = qos_profile_sensor_data

# Candidate sets, transitions, rewards and events are the experiment's record: keep all.
# Transient-local: a recorder or monitor that is discovered a moment after the first
# episode started still receives the last 1000 messages instead of missing them.
RECORD = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Latched state (e.g. the current episode), so a late subscriber still gets the last value.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Nodes that act on the record (not archive it) subscribe volatile: compatible with any
# reliable publisher, e.g. `ros2 topic pub`, and no replay of old events at start-up.
RECORD_LISTEN = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.VOLATILE)
