"""vla:=openpi: a VLA served by openpi's websocket policy server (pi0, pi0-FAST, pi0.5; scripts/serve_policy.py).

The protocol (openpi's websocket_policy_server.py and websocket_client_policy.py):
  connect ws://host:port (no compression, no size limit; optional header "Authorization: Api-Key <key>")
  <- one binary message: the server's metadata (a msgpack map)
  -> one binary message per inference: the observation map (openpi_wire: numpy arrays tagged)
  <- one binary message: the result map, "actions" an (H, D) chunk, plus "server_timing"
  <- or, when inference failed: one *text* message (the traceback), then the server closes (1011)
  GET /healthz on the same port answers 200 "OK".

openpi-client 0.1.2 pins numpy<2 (this project runs numpy 2.4), so this client speaks the protocol
itself with websockets + msgpack; test/backends/test_openpi_conformance.py checks the bytes against
openpi-client's own packer and runs openpi-client's WebsocketClientPolicy against our server.

Each chunk is executed for `replan_steps` control steps before the server is asked again (openpi's
ActionChunkBroker with action_horizon = replan_steps, and its LIBERO example's replan_steps); a new
prompt (reset) or an emergency stop (the executor stops calling act) drops the rest of the chunk.
Each action is turned into the WidowX adapter's convention: dx dy dz [m], droll dpitch dyaw [rad]
in the base frame, gripper 1 open / 0 closed (sarl_ros.core.interfaces.ACTION_DIM).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from sarl_ros.backends import openpi_wire
from sarl_ros.backends.arm_safety import euler_to_matrix, matrix_to_euler
from sarl_ros.backends.retry import backoff_delay
from sarl_ros.core.interfaces import ACTION_DIM

log = logging.getLogger(__name__)

STATE_SOURCES = ('ee_pose', 'ee_pose_padded', 'proprio')
ACTION_FRAMES = ('delta', 'absolute')


class OpenPIError(RuntimeError):
    """The openpi server could not be reached, refused the client, or answered with an error."""


class OpenPIServerError(OpenPIError):
    """The server sent an error (its traceback, as a text message) instead of actions."""


def resize_with_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Return the frame scaled (bilinear) to fit height x width, aspect kept, centred on black.

    The same geometry as openpi_client.image_tools.resize_with_pad (tf.image.resize_with_pad): the
    scale is the larger of the two ratios, sizes and offsets are truncated to ints.
    """
    from PIL import Image
    image = np.asarray(image)
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    ratio = max(w / width, h / height)
    new_h, new_w = int(h / ratio), int(w / ratio)
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), resample=Image.BILINEAR))
    out = np.zeros((height, width) + image.shape[2:], dtype=image.dtype)
    top, left = max(0, int((height - new_h) / 2)), max(0, int((width - new_w) / 2))
    out[top:top + new_h, left:left + new_w] = resized
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return an RGB frame as uint8 (float frames in [0, 1] are scaled, as openpi's convert_to_uint8)."""
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        image = (255 * image).astype(np.uint8)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 RGB frame, got {image.dtype} {image.shape}')
    return image


def gripper_to_widowx(value: float, open_value: float, closed_value: float) -> float:
    """Map the policy's gripper value linearly onto the adapter's 1 open / 0 closed, clipped to [0, 1]."""
    if open_value == closed_value:
        raise ValueError('gripper_open and gripper_closed must differ')
    return float(np.clip((value - closed_value) / (open_value - closed_value), 0.0, 1.0))


def absolute_to_delta(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Return the delta (dx dy dz, droll dpitch dyaw) taking the current pose to an absolute target pose.

    Poses are x y z roll pitch yaw; the rotation delta follows the WidowX adapter's convention
    R_target = R_delta @ R_current (arm_safety.target_pose), so applying it reaches the target.
    """
    delta = np.empty(6)
    delta[:3] = np.asarray(target[:3], dtype=np.float64) - np.asarray(current[:3], dtype=np.float64)
    rotation = euler_to_matrix(target[3:6]) @ euler_to_matrix(current[3:6]).T
    delta[3:] = matrix_to_euler(rotation)
    return delta


class OpenPIVLA:
    """The VLA interface over openpi's websocket protocol, executing each action chunk as a broker does."""

    accepts_noise = False  # openpi's wire carries no latent noise (DSRL refuses it)

    def __init__(self, host: str = '127.0.0.1', port: int = 8000, api_key_env: str = '',
                 image_key: str = 'observation/image', wrist_image_key: str = 'observation/wrist_image',
                 state_key: str = 'observation/state', state_source: str = 'ee_pose', state_dim: int = 0,
                 prompt_key: str = 'prompt', resize: int = 224, action_horizon: int = 10, replan_steps: int = 5,
                 action_frame: str = 'delta', gripper_open: float = 1.0, gripper_closed: float = 0.0,
                 timeout_s: float = 10.0, retries: int = 2, backoff_s: float = 0.25, connect: bool = True):
        if state_source not in STATE_SOURCES:
            raise ValueError(f'vla_state_source must be one of {STATE_SOURCES}, got {state_source!r}')
        if action_frame not in ACTION_FRAMES:
            raise ValueError(f'vla_action_frame must be one of {ACTION_FRAMES}, got {action_frame!r}')
        if action_horizon < 1 or not 1 <= replan_steps <= action_horizon:
            raise ValueError(f'need 1 <= vla_replan_steps <= vla_action_horizon, got {replan_steps}, {action_horizon}')
        if timeout_s <= 0 or retries < 0 or resize < 0 or state_dim < 0:
            raise ValueError('need vla_timeout_s > 0, vla_retries >= 0, vla_resize >= 0 and vla_state_dim >= 0')
        if not image_key or not prompt_key:
            raise ValueError('vla_image_key and vla_prompt_key must not be empty')
        gripper_to_widowx(0.0, gripper_open, gripper_closed)  # refuses open == closed now, not mid-episode
        self.uri = host if host.startswith(('ws://', 'wss://')) else f'ws://{host}'
        if port:
            self.uri += f':{port}'
        self.api_key_env = api_key_env
        self.image_key, self.wrist_image_key = image_key, wrist_image_key
        self.state_key, self.state_source, self.state_dim = state_key, state_source, int(state_dim)
        self.prompt_key, self.resize = prompt_key, int(resize)
        self.action_horizon, self.replan_steps = int(action_horizon), int(replan_steps)
        self.action_frame = action_frame
        self.gripper_open, self.gripper_closed = float(gripper_open), float(gripper_closed)
        self.timeout_s, self.retries, self.backoff_s = float(timeout_s), int(retries), float(backoff_s)
        self.robot = None  # bound by build_stack: the end-effector pose for ee_pose state and absolute actions
        self.server_metadata: dict = {}
        self.inferences = 0  # requests answered (one per chunk)
        self.connections = 0  # connections opened (reconnects included)
        self.last_latency_s = 0.0
        self.last_server_timing: dict = {}
        self._ws = None
        self._chunk: np.ndarray | None = None
        self._next = 0
        if connect:
            try:
                self._connection()
                log.info('openpi server %s: metadata %s', self.uri, _short(self.server_metadata))
            except OpenPIError as exc:  # the server may start after the robot side; act() retries
                log.warning('openpi server not reachable yet: %s', exc)

    # --- VLA interface ----------------------------------------------------------------------
    def bind_robot(self, robot) -> None:
        """Read the end-effector pose from this robot (its ee_state(): x y z roll pitch yaw gripper)."""
        self.robot = robot

    def reset(self) -> None:
        """Start a new prompt: drop the rest of the current chunk."""
        self._chunk, self._next = None, 0

    def skill_done(self) -> bool:
        """Return False: openpi policies do not say when a skill is finished."""
        return False

    def act(self, image: np.ndarray | None, instruction: str, proprio: np.ndarray | None = None) -> np.ndarray:
        """Return the next action of the current chunk, asking the server for a new chunk when it is used up."""
        if self._chunk is None or self._next >= min(self.replan_steps, len(self._chunk)):
            self._chunk = self._request_chunk(image, instruction, proprio)
            self._next = 0
        raw = self._chunk[self._next]
        self._next += 1
        return self._to_widowx(raw)

    def close(self) -> None:
        """Close the connection."""
        self._drop()

    # --- observation and actions ----------------------------------------------------------
    def observation(self, image: np.ndarray | None, instruction: str, proprio: np.ndarray | None) -> dict[str, Any]:
        """Return the observation map sent to the server (the layout of the options)."""
        if image is None:
            raise OpenPIError('vla:=openpi needs camera frames (the executor has no camera)')
        frame = to_uint8(image)
        if self.resize:
            frame = resize_with_pad(frame, self.resize, self.resize)
        obs: dict[str, Any] = {self.image_key: np.ascontiguousarray(frame), self.prompt_key: str(instruction)}
        if self.wrist_image_key:
            obs[self.wrist_image_key] = np.zeros_like(frame)  # Bridge's WidowX has no wrist camera
        if self.state_key:
            obs[self.state_key] = self.state(proprio)
        return obs

    def state(self, proprio: np.ndarray | None) -> np.ndarray:
        """Return the state vector the options describe (float32)."""
        if self.state_source == 'proprio':
            if proprio is None:
                raise OpenPIError('vla_state_source proprio: the executor passed no proprio')
            state = np.asarray(proprio, dtype=np.float64).reshape(-1)
        else:
            ee = self._ee_state()
            state = ee if self.state_source == 'ee_pose' else np.concatenate([ee[:6], [0.0], ee[6:7]])
        if self.state_dim:
            state = np.concatenate([state, np.zeros(max(0, self.state_dim - len(state)))])[:self.state_dim]
        return state.astype(np.float32)

    def _ee_state(self) -> np.ndarray:
        ee_state = getattr(self.robot, 'ee_state', None)
        if ee_state is None:
            raise OpenPIError(f'vla_state_source {self.state_source} and absolute actions need the robot\'s '
                              'end-effector pose (Robot.ee_state); choose vla_state_source proprio')
        state = np.asarray(ee_state(), dtype=np.float64).reshape(-1)
        if state.shape != (7,):
            raise OpenPIError(f'the robot\'s ee_state() must be x y z roll pitch yaw gripper, got {state.shape}')
        return state

    def _to_widowx(self, raw: np.ndarray) -> np.ndarray:
        action = np.empty(ACTION_DIM)
        if self.action_frame == 'absolute':
            action[:6] = absolute_to_delta(raw[:6], self._ee_state())
        else:
            action[:6] = raw[:6]
        action[6] = gripper_to_widowx(float(raw[6]), self.gripper_open, self.gripper_closed)
        return action

    # --- the wire -----------------------------------------------------------------------
    def _request_chunk(self, image, instruction: str, proprio) -> np.ndarray:
        result = self.infer(self.observation(image, instruction, proprio))
        actions = result.get('actions') if isinstance(result, dict) else None
        if not isinstance(actions, np.ndarray) or actions.dtype.kind not in 'fiu':
            raise OpenPIError(f'the openpi server answered without an "actions" array: {_short(result)}')
        chunk = np.asarray(actions, dtype=np.float64)
        if chunk.ndim == 1:  # a policy answering one action, not a chunk
            chunk = chunk[None, :]
        if chunk.ndim != 2 or chunk.shape[0] < 1 or chunk.shape[1] < ACTION_DIM:
            raise OpenPIError(f'expected an (H, >= {ACTION_DIM}) action chunk, got shape {actions.shape}')
        chunk = chunk[:self.action_horizon, :ACTION_DIM]  # models pad actions to their own dimension
        if not np.all(np.isfinite(chunk)):
            raise OpenPIError('the openpi server sent non-finite actions')
        return chunk

    def infer(self, obs: dict[str, Any]) -> dict:
        """Send one observation, return the server's result map; reconnect and retry on transport failures.

        A server-sent error (text message) is raised at once as OpenPIServerError (the server closes
        that connection; the next call connects again).
        """
        data = openpi_wire.packb(obs)
        last_error = ''
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(backoff_delay(self.backoff_s, attempt))
            start = time.perf_counter()
            try:
                ws = self._connection()
                ws.send(data)
                reply = ws.recv(timeout=self.timeout_s)
            except OpenPIError as exc:
                if isinstance(exc.__cause__, PermissionError):
                    raise
                last_error = str(exc)
                continue
            except TimeoutError:
                last_error = f'no answer within {self.timeout_s} s'
                self._drop()  # a late answer would be taken for the next request's
            except Exception as exc:  # noqa: BLE001 - websockets' ConnectionClosed and OS errors
                last_error = f'{type(exc).__name__}: {exc}'
                self._drop()
            else:
                self.last_latency_s = time.perf_counter() - start
                if isinstance(reply, str):
                    self._drop()
                    raise OpenPIServerError(f'the openpi server at {self.uri} failed: {_last_lines(reply)}')
                try:
                    result = openpi_wire.unpackb(reply)
                except openpi_wire.WireError as exc:
                    self._drop()
                    raise OpenPIError(f'the openpi server sent a message that is not openpi msgpack: {exc}') \
                        from None
                self.inferences += 1
                if isinstance(result, dict) and isinstance(result.get('server_timing'), dict):
                    self.last_server_timing = result['server_timing']
                return result
            log.warning('openpi request to %s failed (attempt %d of %d): %s', self.uri, attempt + 1,
                        self.retries + 1, last_error)
        raise OpenPIError(f'openpi request to {self.uri} failed after {self.retries + 1} attempts '
                          f'(timeout {self.timeout_s} s each): {last_error}')

    def _connection(self):
        if self._ws is not None:
            return self._ws
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect
        headers = None
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, '')
            if not key:
                raise OpenPIError(f'vla_api_key_env names {self.api_key_env}, which is not set') \
                    from PermissionError(self.api_key_env)
            headers = {'Authorization': f'Api-Key {key}'}
        try:
            # legacy=True: the connection is returned directly and kept across calls (websockets >= 16).
            ws = connect(self.uri, compression=None, max_size=None, additional_headers=headers,
                         open_timeout=self.timeout_s, close_timeout=1.0, legacy=True)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise OpenPIError(f'the openpi server at {self.uri} refused the API key (HTTP {status}; key from '
                                  f'{self.api_key_env or "no variable"})') from PermissionError(status)
            raise OpenPIError(f'the openpi server at {self.uri} refused the connection: HTTP {status}') from None
        except (OSError, TimeoutError) as exc:
            raise OpenPIError(f'cannot connect to {self.uri}: {exc}') from None
        except Exception as exc:  # noqa: BLE001 - websockets' handshake errors
            raise OpenPIError(f'cannot connect to {self.uri}: {type(exc).__name__}: {exc}') from None
        try:
            metadata = openpi_wire.unpackb(ws.recv(timeout=self.timeout_s))
        except Exception as exc:  # noqa: BLE001 - closed, timed out, or not msgpack
            ws.close()
            raise OpenPIError(f'the openpi server at {self.uri} sent no metadata on connect: '
                              f'{type(exc).__name__}: {exc}') from None
        self.server_metadata = metadata if isinstance(metadata, dict) else {'metadata': metadata}
        self.connections += 1
        self._ws = ws
        return ws

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - already closed
                pass


def _last_lines(text: str, n: int = 6) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return ' | '.join(lines[-n:])[:1000]


def _short(value: Any) -> str:
    text = repr({k: (f'<array {v.dtype} {v.shape}>' if isinstance(v, np.ndarray) else v) for k, v in value.items()}
                if isinstance(value, dict) else value)
    return text[:300]


def main(argv=None) -> int:
    """Check an openpi server from the robot side: metadata, then the latency of N inferences."""
    import argparse
    import statistics
    parser = argparse.ArgumentParser(prog='python -m sarl_ros.backends.openpi_client', description=main.__doc__)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8000)
    parser.add_argument('--api-key-env', default='')
    parser.add_argument('--instruction', default='pick up the cup')
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    parser.add_argument('--state-dim', type=int, default=8)
    parser.add_argument('-n', type=int, default=20, help='Number of inferences')
    parser.add_argument('--timeout-s', type=float, default=60.0)
    args = parser.parse_args(argv)
    client = OpenPIVLA(host=args.host, port=args.port, api_key_env=args.api_key_env, state_source='proprio',
                       state_dim=args.state_dim, timeout_s=args.timeout_s, connect=False)
    frame = np.random.default_rng(0).integers(0, 256, size=(*args.size, 3), dtype=np.uint8)
    latencies, chunk = [], None
    for _ in range(max(1, args.n)):
        client.reset()
        client.act(frame, args.instruction, np.zeros(args.state_dim))
        chunk = client._chunk
        latencies.append(client.last_latency_s * 1000)
    print('metadata:', _short(client.server_metadata))
    print(f'chunk: {chunk.shape[0]} actions; first {np.round(chunk[0], 4).tolist()}')
    latencies.sort()
    print(f'inference round trip over {len(latencies)} calls: median {statistics.median(latencies):.1f} ms, '
          f'p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms, max {latencies[-1]:.1f} ms')
    client.close()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
