"""Camera node contract: relay at its own rate, sensor QoS, CameraInfo beside each image."""
import time

import numpy as np
from params import overrides
from sensor_msgs.msg import CameraInfo, Image

from sarl_ros.nodes.camera_node import CameraNode
from sarl_ros.rosutil.images import from_image_msg, to_image_msg
from sarl_ros.rosutil.qos import SENSOR


def test_relay_republishes_frames_with_camera_info(ros):
    ros.add(CameraNode(**overrides(backend='relay', source_topic='/test_cam/source', rate_hz=50.0,
                                   frame_id='bridge_cam')))
    source = ros.publisher(Image, '/test_cam/source', SENSOR)
    images = ros.subscribe(Image, '/camera/image_raw', SENSOR)
    infos = ros.subscribe(CameraInfo, '/camera/camera_info', SENSOR)
    frame = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)

    def keep_publishing():
        source.publish(to_image_msg(frame))
        return len(images) >= 3 and len(infos) >= 3

    ros.wait_for(keep_publishing, what='relayed frames')
    assert np.array_equal(from_image_msg(images[-1]), frame)
    assert images[-1].header.frame_id == 'bridge_cam'
    info = infos[-1]
    assert (info.width, info.height) == (64, 48)
    assert info.k[2] == (64 - 1) / 2 and info.k[0] > 0


def test_relay_does_not_repeat_stale_frames(ros):
    camera = ros.add(CameraNode(**overrides(backend='relay', source_topic='/test_cam/once', rate_hz=100.0)))
    source = ros.publisher(Image, '/test_cam/once', SENSOR)
    images = ros.subscribe(Image, '/camera/image_raw', SENSOR)
    ros.wait_for(lambda: source.get_subscription_count() > 0 and
                 camera.count_subscribers('/camera/image_raw') > 0, what='discovery')
    time.sleep(0.5)
    source.publish(to_image_msg(np.zeros((4, 4, 3), np.uint8)))
    ros.wait_for(lambda: images, what='the one frame')
    time.sleep(0.3)  # 30 timer ticks at 100 Hz
    assert len(images) == 1


def test_missing_camera_is_retried_and_picked_up_when_it_appears(ros, tmp_path):
    import cv2
    video = tmp_path / 'late.avi'
    camera = ros.add(CameraNode(**overrides(backend='opencv', device=str(video), rate_hz=20.0)))
    images = ros.subscribe(Image, '/camera/image_raw', SENSOR)
    time.sleep(0.5)  # ten ticks without a device: logged, nothing published, the node lives on
    assert not images and camera.published == 0
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    ros.wait_for(lambda: images, timeout=20, what='frames once the device exists')
    assert (images[-1].width, images[-1].height) == (640, 480)  # resized to the configured size
    assert camera.device.reconnects >= 1
