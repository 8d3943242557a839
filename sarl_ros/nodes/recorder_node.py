"""Recorder: writes every SARL topic to a rosbag2 (MCAP) without rosbag2 installed.

Subscribes to the recorded topics as serialized CDR and writes it unchanged through the
pure-Python `rosbags` library, with the message definitions of this package, so the bag
reads in `ros2 bag`, rosbags and `sarl-replay`. Camera images are decimated. Data reaches
the disk every flush_period_s; shutdown (Ctrl-C, SIGTERM, the graph ending) closes the bag
with its index and metadata.yaml, and a bag cut short by a crash is still readable
(`sarl-replay repair` completes it).
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from sarl_ros.core.durability.resume import fresh_bag_path
from sarl_ros.node_configs import RecorderConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.recording.bag.writer import BagWriter, BagWriterError
from sarl_ros.recording.bag.message_types import IMAGE_TYPE, TOPIC_TYPES
from sarl_ros.rosutil.imports import message_class
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import RECORD, SENSOR


class RecorderNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('recorder', **node_options)
        self.p = declare_parameters(self, RecorderConfig)
        self._check_parameters()
        self.bag_path = fresh_bag_path(Path(self.p.output_dir))
        self.writer = BagWriter(self.bag_path, self.p.storage, custom_data={
            'sarl_ros.recorder': 'recorder_node', 'sarl_ros.image_decimation': str(self.p.image_decimation)})
        self.received: dict[str, int] = {}
        # Close on any shutdown of the context, also when the executor is not ours (tests).
        self.context.on_shutdown(self.close)
        try:
            self._subscribe()
        except BaseException:
            # Ctrl-C during start-up, or a bad type: run_node never sees this node, so close here.
            self.close()
            raise
        self.create_timer(self.p.flush_period_s, self._flush)
        self.get_logger().info(f'recording {len(self.p.topics)} topics to {self.bag_path} ({self.p.storage}, '
                               f'1 of every {self.p.image_decimation} images)')

    def _check_parameters(self):
        if self.p.image_decimation < 1:
            raise ValueError(f'recorder.image_decimation must be at least 1, got {self.p.image_decimation}')
        if self.p.flush_period_s <= 0:
            raise ValueError(f'recorder.flush_period_s must be positive, got {self.p.flush_period_s}')
        unknown = [t for t in self.p.topics if t not in TOPIC_TYPES]
        if unknown or not self.p.topics:
            raise ValueError(f'recorder.topics: cannot record {", ".join(unknown) or "nothing"}; '
                             f'choose from {", ".join(TOPIC_TYPES)}')

    def _subscribe(self):
        for topic in self.p.topics:
            msgtype = TOPIC_TYPES[topic]
            image = msgtype == IMAGE_TYPE
            qos = SENSOR if image else RECORD
            self.writer.add_topic(topic, msgtype, reliable=qos.reliability == ReliabilityPolicy.RELIABLE,
                                  depth=qos.depth, transient_local=qos.durability == DurabilityPolicy.TRANSIENT_LOCAL)
            self.received[topic] = 0
            self.create_subscription(message_class(msgtype), topic, partial(self._on_message, topic, image), qos,
                                     raw=True)

    def _on_message(self, topic: str, image: bool, data: bytes):
        count = self.received[topic]
        self.received[topic] = count + 1
        if image and count % self.p.image_decimation:
            return
        try:
            self.writer.write(topic, self.get_clock().now().nanoseconds, data)
        except BagWriterError:
            pass  # a message arriving while the bag closes at shutdown

    def _flush(self):
        try:
            self.writer.flush()
        except OSError as exc:
            self.get_logger().error(f'cannot write {self.bag_path}: {exc}', throttle_duration_sec=10.0)

    def close(self):
        """Close the bag (index, summary, metadata.yaml); safe to call more than once."""
        writer = getattr(self, 'writer', None)
        if writer is None or writer.closed:
            return
        writer.close()
        written = sum(writer.counts.values())
        # print, not the logger: this also runs after the context (and its logging) shut down.
        print(f'[recorder] bag closed: {self.bag_path} ({written} messages)', flush=True)


NODE_CLASS = RecorderNode


def main(argv=None):
    return run_node('recorder', __doc__.splitlines()[0], RecorderConfig, RecorderNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
