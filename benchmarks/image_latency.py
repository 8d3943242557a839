"""Camera image latency between processes: camera node -> subscriber, 640x480 RGB at 10 Hz.

The camera node runs as its own process with the OpenCV backend reading a 640x480 video file
(written here with cv2), stamping each frame at capture; this process subscribes to
/camera/image_raw with sensor-data QoS and measures receive time minus that stamp (same host,
same clock), including the subscriber's conversion back to numpy. The same frames
are also converted in-process (to_image_msg / from_image_msg) to show what the transport adds.

    ./sarl run python benchmarks/image_latency.py [--seconds 15]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_video(path: Path, frames: int = 40) -> Path:
    """Write a short 640x480 video of random frames (lossless MJPG is not needed for timing)."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (640, 480))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    writer.release()
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=15.0)
    args = parser.parse_args(argv)
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from sarl_ros.rosutil.images import from_image_msg, to_image_msg
    from sarl_ros.rosutil.qos import SENSOR

    video = write_video(Path(tempfile.mkdtemp(prefix='sarl_latency_')) / 'frames.avi')
    procs = [subprocess.Popen([sys.executable, '-m', 'sarl_ros.nodes.camera_node', '--ros-args',
                               '-p', 'backend:=opencv', '-p', f'device:={video}', '-p', 'rate_hz:=10.0',
                               '--log-level', 'warn'])]
    rclpy.init()
    node = rclpy.create_node('latency_probe')
    latencies = []

    def on_image(msg):
        now = node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        from_image_msg(msg)  # the subscriber's conversion is part of what a user pays
        latencies.append((time.monotonic(), (now - stamp) / 1e6))

    node.create_subscription(Image, '/camera/image_raw', on_image, SENSOR)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 30
        while not latencies and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        if not latencies:
            print('no image arrived within 30 s', file=sys.stderr)
            return 1
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            executor.spin_once(timeout_sec=0.1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        node.destroy_node()
        rclpy.try_shutdown()
    steady = np.array([ms for t, ms in latencies if t >= start + 1.0])
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    for _ in range(50):
        from_image_msg(to_image_msg(frame))
    convert_ms = (time.perf_counter() - t0) / 50 * 1e3
    rate = len(steady) / max(args.seconds - 1.0, 1e-9)
    print(f'640x480 rgb8, OpenCV camera node at 10 Hz, {len(steady)} frames at {rate:.1f} Hz '
          f'(transport {os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "DEFAULT")})')
    print(f'latency capture stamp -> subscriber in another process: median {np.median(steady):.2f} ms, '
          f'p90 {np.percentile(steady, 90):.2f} ms, max {steady.max():.2f} ms')
    print(f'in-process conversion numpy -> Image -> numpy: {convert_ms:.2f} ms per frame')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
