"""`sarl-vla-server --protocol openpi`: serve a local VLA over openpi's websocket protocol.

What openpi's serving/websocket_policy_server.py does on the wire, written from the protocol:
  - on connect, the server sends its metadata (a msgpack map) as one binary message;
  - then, per binary message (an observation map, numpy arrays in openpi's msgpack convention), it
    runs the policy and answers one binary message: the policy's result map plus "server_timing"
    ({"infer_ms": ..., and from the second request on "prev_total_ms": ...});
  - when inference raises, it sends the traceback as one text message and closes the connection
    with code 1011 (internal error); the server goes on serving other connections;
  - GET /healthz answers 200 "OK" (a plain HTTP request on the same port).
Beyond upstream (which ignores the header): with `--api-key-env NAME` a client must send
"Authorization: Api-Key <the value of NAME>", as openpi's client does when given an api_key; others
get HTTP 401 before the websocket opens.

The served object is an openpi-style policy (infer(obs) -> {"actions": (H, D) array}) or one of
this package's VLAs (act(image, instruction, proprio) -> 7-D action), which ChunkedVLA turns into
a policy answering chunks of `action_horizon` actions for openpi's LIBERO-style observation keys.
"""
from __future__ import annotations

import argparse
import hmac
import http
import logging
import os
import threading
import time
import traceback
from typing import Any

import numpy as np

from sarl_ros.backends import openpi_wire

log = logging.getLogger('sarl-vla-server.openpi')

INTERNAL_ERROR = 1011
ERROR_REASON = 'Internal server error. Traceback included in previous frame.'  # upstream's close reason


class ChunkedVLA:
    """An openpi-style policy over one of this package's VLAs: each inference returns a chunk of actions.

    The VLA is asked `action_horizon` times with the same frame (a stateful VLA advances through its
    skill); its reset() is called when the prompt changes.
    """

    def __init__(self, vla: Any, action_horizon: int = 10, image_key: str = 'observation/image',
                 state_key: str = 'observation/state', prompt_key: str = 'prompt'):
        if action_horizon < 1:
            raise ValueError(f'action_horizon must be positive, got {action_horizon}')
        self.vla = vla
        self.action_horizon = int(action_horizon)
        self.image_key, self.state_key, self.prompt_key = image_key, state_key, prompt_key
        self._prompt: str | None = None

    def infer(self, obs: dict) -> dict:
        """Return {"actions": (action_horizon, 7) float32} for an observation map."""
        if not isinstance(obs, dict):
            raise ValueError(f'an observation is a map, got {type(obs).__name__}')
        missing = [key for key in (self.image_key, self.prompt_key) if key not in obs]
        if missing:
            raise KeyError(f'observation lacks {missing}; it has {sorted(map(str, obs))}')
        image, prompt = obs[self.image_key], obs[self.prompt_key]
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
            raise ValueError(f'{self.image_key} must be an HxWx3 uint8 array')
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f'{self.prompt_key} must be a non-empty string')
        state = np.asarray(obs.get(self.state_key, np.zeros(0)), dtype=np.float64)
        if prompt != self._prompt:
            self.vla.reset()
            self._prompt = prompt
        actions = [np.asarray(self.vla.act(image, prompt, state), dtype=np.float32).reshape(-1)
                   for _ in range(self.action_horizon)]
        return {'actions': np.stack(actions)}

    def reset(self) -> None:
        self._prompt = None
        self.vla.reset()


def as_policy(backend: Any, action_horizon: int = 10) -> Any:
    """Return the backend as an openpi-style policy (it is one when it has infer())."""
    if callable(getattr(backend, 'infer', None)):
        return backend
    return ChunkedVLA(backend, action_horizon=action_horizon)


class OpenPIPolicyServer:
    """A websocket server speaking openpi's protocol for one policy; one inference at a time."""

    def __init__(self, policy: Any, host: str = '127.0.0.1', port: int = 8000, metadata: dict | None = None,
                 api_key: str = ''):
        from websockets.sync.server import serve
        self.policy = policy
        self.metadata = dict(metadata or {})
        self._api_key = api_key
        self._lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self._server = serve(self._handle, host, port, compression=None, max_size=None,
                             process_request=self._process_request)
        self.server_address = self._server.socket.getsockname()[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f'ws://{host}:{port}'

    def serve_forever(self) -> None:
        """Serve until shutdown() (from another thread) or Ctrl-C."""
        self._server.serve_forever()

    def start(self) -> 'OpenPIPolicyServer':
        """Serve in a background thread; return self."""
        self._thread = threading.Thread(target=self.serve_forever, name='openpi-server', daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, close open connections, wait for the serving thread."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _process_request(self, connection, request):
        if request.path == '/healthz':
            return connection.respond(http.HTTPStatus.OK, 'OK\n')
        if self._api_key:
            given = request.headers.get('Authorization', '')
            if not hmac.compare_digest(given.encode(), f'Api-Key {self._api_key}'.encode()):
                log.warning('refused a connection without the right API key')
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, 'missing or wrong API key\n')
        return None

    def _handle(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed
        peer = ws.remote_address  # not readable any more once the socket is closed
        log.info('connection from %s opened', peer)
        try:
            ws.send(openpi_wire.packb(self.metadata))
            previous_total_ms = None
            while True:
                message = ws.recv()
                start = time.monotonic()
                try:
                    obs = openpi_wire.unpackb(message)
                    with self._lock:
                        infer_start = time.monotonic()
                        result = self.policy.infer(obs)
                        infer_ms = 1000 * (time.monotonic() - infer_start)
                    result = dict(result)
                    timing = {'infer_ms': infer_ms}
                    if previous_total_ms is not None:
                        timing['prev_total_ms'] = previous_total_ms
                    result['server_timing'] = timing
                    reply = openpi_wire.packb(result)
                except Exception:  # noqa: BLE001 - the error goes to the client, the server goes on
                    self.errors += 1
                    log.exception('inference failed; the traceback is sent to the client')
                    ws.send(traceback.format_exc())
                    ws.close(code=INTERNAL_ERROR, reason=ERROR_REASON)
                    return
                self.requests += 1
                ws.send(reply)
                previous_total_ms = 1000 * (time.monotonic() - start)
        except ConnectionClosed:
            log.info('connection from %s closed', peer)


def make_openpi_server(backend: Any, host: str = '127.0.0.1', port: int = 8000, metadata: dict | None = None,
                       api_key: str = '', action_horizon: int = 10) -> OpenPIPolicyServer:
    """Return a server (not yet serving) for a policy or a VLA; port 0 picks a free port."""
    return OpenPIPolicyServer(as_policy(backend, action_horizon), host, port, metadata, api_key)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the openpi protocol's options to sarl-vla-server's command line."""
    group = parser.add_argument_group('--protocol openpi')
    group.add_argument('--action-horizon', type=int, default=10,
                       help='Actions per answered chunk when serving one of this package\'s VLAs')
    group.add_argument('--api-key-env', default='',
                       help='Require "Authorization: Api-Key <value of this variable>" (empty: no key)')


def serve(args: argparse.Namespace, backend: Any, description: str = '') -> int:
    """Serve a backend over openpi's protocol until interrupted (sarl-vla-server --protocol openpi)."""
    api_key = ''
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, '')
        if not api_key:
            raise SystemExit(f'--api-key-env names {args.api_key_env}, which is not set')
    metadata = {'server': 'sarl-vla-server', 'backend': description or type(backend).__name__,
                'action_horizon': args.action_horizon}
    server = make_openpi_server(backend, args.host, args.port, metadata, api_key, args.action_horizon)
    log.info('serving %s on %s (openpi websocket protocol; GET /healthz)', type(backend).__name__, server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        log.info('stopped')
    return 0
