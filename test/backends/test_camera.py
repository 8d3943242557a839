"""The OpenCV camera over a video file written by cv2 in the test."""
from __future__ import annotations

import numpy as np
import pytest

from sarl_ros.backends.camera import CameraError, OpenCVCamera
from sarl_ros.backends.registry import make_camera

cv2 = pytest.importorskip('cv2')
COLORS_RGB = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


@pytest.fixture
def video(tmp_path):
    path = str(tmp_path / 'scene.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (64, 48))
    assert writer.isOpened()
    for red, green, blue in COLORS_RGB:
        writer.write(np.full((48, 64, 3), (blue, green, red), np.uint8))  # cv2 writes BGR
    writer.release()
    return path


def dominant_channel(frame):
    return int(np.argmax(frame.reshape(-1, 3).mean(axis=0)))


def test_frames_are_rgb_uint8_in_order_and_the_video_loops(video):
    camera = make_camera('opencv', source=video, width=64, height=48, fps=10.0)
    frames = [camera.read() for _ in range(4)]
    assert all(f.dtype == np.uint8 and f.shape == (48, 64, 3) for f in frames)
    assert [dominant_channel(f) for f in frames] == [0, 1, 2, 0]  # red, green, blue, then from the start
    camera.close()


def test_frames_are_resized_to_the_requested_resolution(video):
    camera = OpenCVCamera(source=video, width=32, height=24)
    assert camera.read().shape == (24, 32, 3)


def test_end_of_video_without_loop_is_a_clear_error(video):
    camera = OpenCVCamera(source=video, width=64, height=48, loop=False, reconnect_interval_s=60)
    for _ in COLORS_RGB:
        camera.read()
    with pytest.raises(CameraError, match='no frame'):
        camera.read()


def test_a_lost_camera_is_reopened(video):
    camera = OpenCVCamera(source=video, width=64, height=48, reconnect_interval_s=0.0)
    camera.read()
    camera._capture.release()  # the device went away
    frame = camera.read()
    assert camera.reconnects == 1 and dominant_channel(frame) == 0  # reopened from the first frame


def test_a_missing_device_raises_on_read_and_recovers_when_it_appears(tmp_path, video):
    import shutil
    path = str(tmp_path / 'later.avi')
    camera = OpenCVCamera(source=path, width=64, height=48, reconnect_interval_s=0.0)
    with pytest.raises(CameraError, match='later.avi'):
        camera.read()
    shutil.copy(video, path)
    assert camera.read().shape == (48, 64, 3)


def test_digit_strings_are_device_indices_and_unknown_backends_list_choices():
    camera = OpenCVCamera(source='7', reconnect_interval_s=60)  # no /dev/video7 here
    assert camera.source == 7 and not camera.is_file
    with pytest.raises(CameraError, match='camera 7'):
        camera.read()
    with pytest.raises(ValueError, match="unknown camera backend 'realsense'; choose one of \\['opencv'\\]"):
        make_camera('realsense')
