"""The OpenCV camera over a video file written by cv2 in the test."""
from __future__ import annotations

import numpy as np
import pytest

from sarl_ros.backends.camera import CameraError, OpenCVCamera
from sarl_ros.backends.catalog import make_camera

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


class RecordingCapture:
    """cv2.VideoCapture for a device that is not here: records what is asked of it, delivers one size of frame."""

    instances = []

    def __init__(self, source, *args):
        self.source, self.props = source, []
        RecordingCapture.instances.append(self)

    def isOpened(self):  # noqa: N802 - cv2's naming
        return True

    def set(self, prop, value):
        self.props.append((prop, value))
        return True

    def read(self):
        return True, np.zeros((720, 1280, 3), np.uint8)

    def release(self):
        pass


def test_dev_video_paths_are_devices_that_get_format_size_rate_and_buffer(monkeypatch):
    RecordingCapture.instances.clear()
    monkeypatch.setattr(cv2, 'VideoCapture', RecordingCapture)
    camera = OpenCVCamera(source='/dev/video2', width=640, height=480, fps=30.0, fourcc='MJPG')
    assert not camera.is_file
    capture = RecordingCapture.instances[-1]
    assert capture.source == '/dev/video2'
    assert capture.props == [(cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter_fourcc(*'MJPG'))),  # format first
                             (cv2.CAP_PROP_FRAME_WIDTH, 640.0), (cv2.CAP_PROP_FRAME_HEIGHT, 480.0),
                             (cv2.CAP_PROP_FPS, 30.0), (cv2.CAP_PROP_BUFFERSIZE, 1)]
    assert camera.read().shape == (480, 640, 3)  # a device that ignored the size is resized
    with pytest.raises(ValueError, match='four characters'):
        OpenCVCamera(source='/dev/video2', fourcc='MJPEG')


def test_video_files_get_no_device_settings(video, monkeypatch):
    RecordingCapture.instances.clear()
    monkeypatch.setattr(cv2, 'VideoCapture', RecordingCapture)
    camera = OpenCVCamera(source=video, fourcc='MJPG')
    assert camera.is_file and RecordingCapture.instances[-1].props == []


RGB = (200, 60, 30)


def _yuv(rgb):
    r, g, b = rgb  # BT.601 limited range, what OpenCV's YUV422 conversions assume
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return [int(round(c)) for c in (y, u, v)]


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'yuv422', 'yuv422_yuy2'])
def test_relayed_images_in_common_driver_encodings_become_rgb(encoding):
    from types import SimpleNamespace

    from sarl_ros.rosutil.images import from_image_msg
    height, width = 4, 6
    y, u, v = _yuv(RGB)
    pixel = {'rgb8': list(RGB), 'bgr8': list(RGB[::-1]), 'rgba8': [*RGB, 255], 'bgra8': [*RGB[::-1], 255],
             'yuv422': [u, y, v, y], 'yuv422_yuy2': [y, u, y, v]}[encoding]
    per_pixel = 2 if encoding.startswith('yuv') else len(pixel)
    row = bytes(pixel) * (width * per_pixel // len(pixel))
    msg = SimpleNamespace(height=height, width=width, encoding=encoding, step=len(row) + 8,  # padded rows
                          data=(row + bytes(8)) * height)
    image = from_image_msg(msg)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(image.reshape(-1, 3), np.tile(RGB, (height * width, 1)), atol=3)
