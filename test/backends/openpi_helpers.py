"""openpi-protocol peers for the tests: an upstream-style server and tiny policies.

UpstreamStyleServer follows openpi's serving/websocket_policy_server.py as a protocol (written for
these tests, not copied): asyncio websockets server, no compression, no size limit; metadata as
the first binary message; one binary answer per observation with "server_timing"; on an
exception the traceback as a text message, then close code 1011; GET /healthz -> 200 "OK".
It packs with openpi-client's own msgpack_numpy when installed (the wire as upstream produces
it), else with ours. It also records each connection's Authorization header, and can drop a
connection without answering (a server dying mid-request) for the prompts in `drop_prompts`.
"""
from __future__ import annotations

import asyncio
import http
import threading
import time
import traceback

import numpy as np

try:  # openpi's own packer (requirements/no_deps.txt); numpy 2 is fine for this module
    from openpi_client import msgpack_numpy as upstream_wire
except ImportError:  # pragma: no cover - the conformance tests skip without it
    upstream_wire = None

from sarl_ros.backends import openpi_wire


class ChunkPolicy:
    """A tiny deterministic policy answering (horizon, 7) chunks: row i moves by `step` and counts i.

    actions[i] = [dx, dy, dz, 0, 0, 0.01 * i, gripper]; the gripper value says closed when the prompt
    contains "grasp" (in the conventions gripper_open / gripper_closed). Records what it saw.
    """

    def __init__(self, horizon: int = 10, step=(0.01, 0.0, -0.005), gripper_open: float = 1.0,
                 gripper_closed: float = 0.0, action_dim: int = 7):
        self.horizon, self.step = horizon, np.asarray(step, dtype=np.float64)
        self.gripper_open, self.gripper_closed = gripper_open, gripper_closed
        self.action_dim = action_dim
        self.observations: list[dict] = []
        self.answers: list[np.ndarray] = []

    def infer(self, obs: dict) -> dict:
        self.observations.append(obs)
        prompt = obs['prompt']
        if prompt == 'fail':
            raise ValueError('the tiny policy was asked to fail')
        if prompt == 'slow':
            time.sleep(1.0)
        gripper = self.gripper_closed if 'grasp' in prompt else self.gripper_open
        chunk = np.zeros((self.horizon, self.action_dim), dtype=np.float32)
        chunk[:, :3] = self.step
        chunk[:, 5] = 0.01 * np.arange(self.horizon)
        chunk[:, 6] = gripper
        self.answers.append(chunk.copy())
        return {'actions': chunk}


class UpstreamStyleServer:
    """An openpi-protocol websocket server in a background thread (its own event loop)."""

    def __init__(self, policy, metadata: dict | None = None, port: int = 0, drop_prompts=()):
        self.policy = policy
        self.metadata = metadata if metadata is not None else {'policy': 'tiny', 'action_horizon': 10}
        self.drop_prompts = set(drop_prompts)
        self.headers: list[str | None] = []
        self.connections = 0
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def start(self) -> 'UpstreamStyleServer':
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError('the upstream-style server did not start')
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(timeout=10)

    def _pack(self, value) -> bytes:
        return upstream_wire.packb(value) if upstream_wire is not None else openpi_wire.packb(value)

    def _unpack(self, data: bytes):
        return upstream_wire.unpackb(data) if upstream_wire is not None else openpi_wire.unpackb(data)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        import websockets.asyncio.server as ws_server
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()

        def health(connection, request):
            self.headers.append(request.headers.get('Authorization'))
            if request.path == '/healthz':
                return connection.respond(http.HTTPStatus.OK, 'OK\n')
            return None

        async with ws_server.serve(self._handler, '127.0.0.1', self._port, compression=None, max_size=None,
                                   process_request=health) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    async def _handler(self, websocket) -> None:
        import websockets
        self.connections += 1
        await websocket.send(self._pack(self.metadata))
        previous_total = None
        while True:
            try:
                message = await websocket.recv()
                started = time.monotonic()
                obs = self._unpack(message)
                if obs.get('prompt') in self.drop_prompts:
                    self.drop_prompts.discard(obs['prompt'])  # once: the retry on a new connection succeeds
                    websocket.transport.abort()  # the server goes away mid-request: no answer, no close frame
                    return
                infer_started = time.monotonic()
                result = dict(self.policy.infer(obs))
                result['server_timing'] = {'infer_ms': 1000 * (time.monotonic() - infer_started)}
                if previous_total is not None:
                    result['server_timing']['prev_total_ms'] = previous_total
                await websocket.send(self._pack(result))
                previous_total = 1000 * (time.monotonic() - started)
            except websockets.ConnectionClosed:
                return
            except Exception:  # noqa: BLE001 - as upstream: traceback as text, then close 1011
                await websocket.send(traceback.format_exc())
                await websocket.close(code=1011, reason='Internal server error. Traceback included in previous '
                                                        'frame.')
                return


def tiny_torch_policy():
    """sarl-vla-server --factory: the tiny torch VLA of backend_helpers (a real network, CPU)."""
    from backend_helpers import TinyTorchVLA
    return TinyTorchVLA(seed=0)


def chunk_policy():
    """sarl-vla-server --factory: the deterministic chunk policy."""
    return ChunkPolicy()
