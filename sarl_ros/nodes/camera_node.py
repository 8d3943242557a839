"""Camera: publishes sensor_msgs/Image and CameraInfo at a fixed rate, sensor-data QoS.

Backends: `opencv` (a device index or a video file) or `relay` (re-publish an existing
image topic, such as the simulator's camera or a RealSense driver, at this node's rate).
"""
from __future__ import annotations

import threading

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from sarl_ros import names
from sarl_ros.backends import catalog
from sarl_ros.node_configs import CameraConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.images import to_image_msg
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import SENSOR


def camera_info(width: int, height: int, fov_deg: float, header) -> CameraInfo:
    """Return a pinhole model with no distortion, from the field of view."""
    import math
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return CameraInfo(header=header, width=width, height=height, distortion_model='plumb_bob',
                      d=[0.0] * 5, k=[f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


class CameraNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('camera', **node_options)
        self.p = declare_parameters(self, CameraConfig)
        if self.p.rate_hz <= 0:
            raise ValueError(f'camera.rate_hz must be positive, got {self.p.rate_hz}')
        self.image_pub = self.create_publisher(Image, names.TOPIC_CAMERA, SENSOR)
        self.info_pub = self.create_publisher(CameraInfo, names.TOPIC_CAMERA_INFO, SENSOR)
        self._latest = None
        self._lock = threading.Lock()
        self._warned = False
        self.device = None
        if self.p.backend == 'relay':
            self.create_subscription(Image, self.p.source_topic, self._on_source, SENSOR)
        else:
            device = int(self.p.device) if self.p.device.isdigit() else self.p.device
            self.device = catalog.make_camera('opencv', source=device, width=self.p.width, height=self.p.height,
                                              fps=self.p.rate_hz, fourcc=self.p.fourcc or None)
        self.create_timer(1.0 / self.p.rate_hz, self._tick)
        self.published = 0
        self.get_logger().info(f'ready: backend={self.p.backend} rate={self.p.rate_hz} Hz')

    def _on_source(self, msg):
        with self._lock:
            self._latest = msg

    def _tick(self):
        if self.device is not None:
            try:
                frame = self.device.read()
            except Exception as exc:  # noqa: BLE001 - a lost camera is logged, not fatal
                self.get_logger().error(f'camera read failed: {exc}', throttle_duration_sec=5.0)
                return
            msg = to_image_msg(frame, stamp=self.get_clock().now().to_msg(), frame_id=self.p.frame_id)
        else:
            with self._lock:
                msg, self._latest = self._latest, None
            if msg is None:
                if not self._warned and self.published == 0:
                    self.get_logger().warning(f'no image on {self.p.source_topic} yet')
                    self._warned = True
                return
            msg.header.frame_id = self.p.frame_id
        self.image_pub.publish(msg)
        self.info_pub.publish(camera_info(msg.width, msg.height, self.p.fov_deg, msg.header))
        self.published += 1

    def close(self):
        release = getattr(self.device, 'close', None)
        if release is not None:
            release()


NODE_CLASS = CameraNode


def main(argv=None):
    return run_node('camera', __doc__.splitlines()[0], CameraConfig, CameraNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
