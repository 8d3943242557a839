"""An OpenCV camera: a device (index or /dev/videoN) or a video file/stream, read as HxWx3 uint8 RGB.

A device gets the requested size, rate, pixel format (FOURCC, e.g. MJPG, which many USB cameras
need for 640x480 at 30 fps) and a one-frame buffer; a file gets none of these. A lost device
(unplugged USB camera, dropped stream) is reopened on the next read, at most once per
reconnect_interval_s; a video file is rewound at its end when loop is set.
"""
from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)


class CameraError(RuntimeError):
    """No frame could be read from the camera."""


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise ImportError('the opencv camera needs OpenCV: pip install opencv-python-headless') from exc
    return cv2


def is_video_file(source: int | str) -> bool:
    """Return whether a source is a video file (not a device index, /dev/ device node or URL)."""
    return isinstance(source, str) and '://' not in source and not source.startswith('/dev/')


class OpenCVCamera:
    """The Camera interface over cv2.VideoCapture."""

    def __init__(self, source: int | str = 0, width: int | None = 640, height: int | None = 480,
                 fps: float | None = None, loop: bool = True, reconnect_interval_s: float = 1.0,
                 resize: bool = True, open_timeout_s: float = 0.0, fourcc: str | None = None):
        self.source = int(source) if isinstance(source, str) and source.isdigit() else source
        self.width, self.height, self.fps = width, height, fps
        if fourcc and len(fourcc) != 4:
            raise ValueError(f'fourcc must be four characters such as MJPG or YUYV, got {fourcc!r}')
        self.fourcc = fourcc or None
        self.loop = loop
        self.reconnect_interval_s = float(reconnect_interval_s)
        # Devices may ignore the requested size: resize what they deliver so the VLA sees one shape.
        self.resize = resize
        self.is_file = is_video_file(self.source)
        self._capture = None
        self._last_attempt = -float('inf')
        self.reconnects = 0
        self.frames = 0
        self._open()
        deadline = time.monotonic() + open_timeout_s
        while not self._is_open() and time.monotonic() < deadline:
            time.sleep(0.1)
            self._open()
        if not self._is_open():
            log.warning('camera %r is not available yet; reads will retry', self.source)

    def _is_open(self) -> bool:
        return self._capture is not None and self._capture.isOpened()

    def _open(self) -> None:
        cv2 = _cv2()
        self._last_attempt = time.monotonic()
        self.close()
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            return
        if not self.is_file:  # requests to a file are meaningless; a device may honour them
            if self.fourcc:  # first: the pixel format decides which sizes and rates the device offers
                capture.set(cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter_fourcc(*self.fourcc)))
            if self.width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(self.width))
            if self.height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(self.height))
            if self.fps:
                capture.set(cv2.CAP_PROP_FPS, float(self.fps))
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queued old one
        self._capture = capture

    def read(self) -> np.ndarray:
        """Return the next frame as HxWx3 uint8 RGB; CameraError when none is available."""
        cv2 = _cv2()
        if not self._is_open():
            self._reconnect('not open')
        ok, frame = self._capture.read() if self._is_open() else (False, None)
        if not ok and self.is_file and self.loop and self._is_open():
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # end of the video: start again
            ok, frame = self._capture.read()
        if not ok:
            self._reconnect('read failed')
            ok, frame = self._capture.read() if self._is_open() else (False, None)
        if not ok or frame is None:
            raise CameraError(f'no frame from camera {self.source!r} (reconnects so far: {self.reconnects})')
        self.frames += 1
        return self._to_rgb(frame)

    def _reconnect(self, why: str) -> None:
        if time.monotonic() - self._last_attempt < self.reconnect_interval_s:
            return
        log.warning('camera %r %s: reopening', self.source, why)
        self.reconnects += 1
        self._open()

    def _to_rgb(self, frame: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
        else:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self.resize and self.width and self.height and frame.shape[:2] != (self.height, self.width):
            frame = cv2.resize(frame, (int(self.width), int(self.height)), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        """Release the device."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
