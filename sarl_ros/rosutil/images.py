"""numpy RGB <-> sensor_msgs/Image, with cv_bridge when it is installed."""
from __future__ import annotations

import numpy as np

# Bytes per pixel of the encodings read. yuv422 is UYVY and yuv422_yuy2 YUYV (sensor_msgs'
# image_encodings); RealSense and usb_cam drivers publish these, and rgba8/bgra8.
_ENCODINGS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4, 'yuv422': 2, 'uyvy': 2,
              'yuv422_yuy2': 2, 'yuyv': 2}

try:  # A ROS workstation has cv_bridge; the PyPI environment does not need it.
    from cv_bridge import CvBridge
    _BRIDGE = CvBridge()
except Exception:  # noqa: BLE001 - any import failure means: use the numpy path
    _BRIDGE = None


def to_image_msg(rgb: np.ndarray, stamp=None, frame_id: str = 'camera'):
    from sensor_msgs.msg import Image
    rgb = np.ascontiguousarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}')
    if _BRIDGE is not None:
        msg = _BRIDGE.cv2_to_imgmsg(rgb, encoding='rgb8')
    else:
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8',
                    is_bigendian=0, step=rgb.shape[1] * 3)
        msg.data = rgb.tobytes()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def from_image_msg(msg) -> np.ndarray | None:
    """HxWx3 uint8 RGB, or None for an empty image (no camera yet)."""
    if msg.height == 0 or msg.width == 0:
        return None
    channels = _ENCODINGS.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r}; use one of {sorted(_ENCODINGS)}')
    row = msg.width * channels
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if msg.step < row or buf.size < msg.step * msg.height:
        raise ValueError(f'image data too short: {buf.size} bytes for {msg.height}x{msg.step}')
    img = buf[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :row]
    img = img.reshape(msg.height, msg.width, channels)
    return to_rgb(img, msg.encoding)


def to_rgb(img: np.ndarray, encoding: str) -> np.ndarray:
    """Return an HxWxC uint8 image of a sensor_msgs encoding as HxWx3 RGB."""
    if encoding in ('bgr8', 'bgra8'):
        img = img[:, :, 2::-1]
    elif encoding == 'rgba8':
        img = img[:, :, :3]
    elif encoding == 'mono8':
        img = np.repeat(img, 3, axis=2)
    elif encoding in ('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'):
        import cv2
        code = cv2.COLOR_YUV2RGB_UYVY if encoding in ('yuv422', 'uyvy') else cv2.COLOR_YUV2RGB_YUY2
        img = cv2.cvtColor(np.ascontiguousarray(img), code)
    return np.ascontiguousarray(img)
