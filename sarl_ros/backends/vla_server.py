"""sarl-vla-server: serve a local VLA over HTTP so a GPU server can drive a laptop's arm.

Endpoints (the request/response shapes of OpenVLA's REST deploy server, so clients written
for one work with the other):
  POST /act     {"image": <uint8 HxWx3>, "instruction": str, "unnorm_key": str (optional),
                 "proprio": <float array> (optional)} -> the action array; header
                 X-SARL-Skill-Done: 1 when the backend reports the skill finished.
  POST /reset   start a new prompt (stateful backends)
  GET  /health  {"status": "ok", "backend": ..., "requests": n, "mean_latency_ms": ...}
Arrays are JSON-encoded as in sarl_ros.backends.wire (json_numpy's convention).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import numpy as np

from sarl_ros.backends import wire

log = logging.getLogger('sarl-vla-server')

SKILL_DONE_HEADER = 'X-SARL-Skill-Done'
MAX_REQUEST_BYTES = 80 * 1024 * 1024


class BadRequest(ValueError):
    """The client sent something the server cannot act on (HTTP 400)."""


class VLAService:
    """The served backend, its lock (one inference at a time) and request statistics."""

    def __init__(self, vla: Any, description: str = ''):
        self.vla = vla
        self.description = description or type(vla).__name__
        self._lock = threading.Lock()
        self._accepts_unnorm_key = 'unnorm_key' in inspect.signature(vla.act).parameters
        self.requests = 0
        self.total_latency_s = 0.0

    def act(self, payload: Any) -> tuple[np.ndarray, bool]:
        """Return (action, skill_done) for a decoded /act payload."""
        if not isinstance(payload, dict):
            raise BadRequest('the /act body must be a JSON object')
        image, instruction = payload.get('image'), payload.get('instruction')
        if not isinstance(instruction, str) or not instruction.strip():
            raise BadRequest('"instruction" must be a non-empty string')
        if image is not None and (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3):
            raise BadRequest('"image" must be an encoded HxWx3 uint8 array')
        proprio = payload.get('proprio')
        proprio = np.zeros(0) if proprio is None else np.asarray(proprio, dtype=np.float64)
        kwargs = {}
        if self._accepts_unnorm_key and payload.get('unnorm_key'):
            kwargs['unnorm_key'] = str(payload['unnorm_key'])
        start = time.perf_counter()
        with self._lock:
            action = np.asarray(self.vla.act(image, instruction, proprio, **kwargs), dtype=np.float32)
            done = bool(self.vla.skill_done())
        self.requests += 1
        self.total_latency_s += time.perf_counter() - start
        return action, done

    def reset(self) -> None:
        """Start a new prompt."""
        with self._lock:
            self.vla.reset()

    def health(self) -> dict:
        """Return the status document of GET /health."""
        mean = 1000.0 * self.total_latency_s / self.requests if self.requests else 0.0
        return {'status': 'ok', 'backend': self.description, 'requests': self.requests,
                'mean_latency_ms': round(mean, 3)}


def make_handler(service: VLAService) -> type[BaseHTTPRequestHandler]:
    """Return the request handler class bound to one service."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'  # keep-alive: one TCP connection per client

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *args):  # route http.server's stderr lines to logging
            log.debug('%s ' + fmt, self.address_string(), *args)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.rstrip('/') == '/health':
                self._reply(200, json.dumps(service.health()))
            else:
                self._reply(404, json.dumps({'error': f'no such endpoint {self.path}; try /health, /act, /reset'}))

        def do_POST(self):  # noqa: N802
            path = self.path.rstrip('/')
            try:
                body = self._body()
                if path == '/act':
                    action, done = service.act(wire.loads(body) if body else None)
                    self._reply(200, wire.dumps(action), {SKILL_DONE_HEADER: str(int(done))})
                elif path == '/reset':
                    service.reset()
                    self._reply(200, json.dumps({'status': 'reset'}))
                else:
                    self._reply(404, json.dumps({'error': f'no such endpoint {self.path}'}))
            except ValueError as exc:  # malformed JSON or arrays, and the backend's input checks
                self._reply(400, json.dumps({'error': f'bad request: {exc}'}))
            except Exception as exc:  # noqa: BLE001 - the server outlives a failing inference
                log.exception('inference failed')
                self._reply(500, json.dumps({'error': f'{type(exc).__name__}: {exc}'}))

        def _body(self) -> bytes:
            length = int(self.headers.get('Content-Length') or 0)
            if length > MAX_REQUEST_BYTES:
                raise BadRequest(f'request of {length} bytes exceeds {MAX_REQUEST_BYTES}')
            return self.rfile.read(length) if length else b''

        def _reply(self, status: int, text: str, headers: dict | None = None):
            data = text.encode('utf-8')
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def make_server(vla: Any, host: str = '127.0.0.1', port: int = 8777, description: str = '') -> ThreadingHTTPServer:
    """Return an HTTP server (not yet serving) for a VLA; port 0 picks a free port."""
    server = ThreadingHTTPServer((host, port), make_handler(VLAService(vla, description)))
    server.daemon_threads = True
    return server


def _factory(spec: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(':')
    if not attribute:
        raise ValueError(f'--factory must be module:callable, got {spec!r}')
    return getattr(importlib.import_module(module_name), attribute)


def build_backend(args: argparse.Namespace) -> Any:
    """Return the VLA the command line asks for."""
    if args.factory:
        return _factory(args.factory)()
    from sarl_ros.backends.registry import make_vla
    if args.backend == 'remote':
        raise ValueError('the server serves a local backend; --backend remote would only relay')
    return make_vla(args.backend, model=args.model, device=args.device, dtype=args.dtype,
                    unnorm_key=args.unnorm_key or None, attn_implementation=args.attn_implementation or None)


def parse_args(argv=None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(prog='sarl-vla-server', description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--backend', default='openvla', help='Local VLA backend (sarl_ros.backends.registry)')
    parser.add_argument('--factory', default='', help='Instead of --backend: module:callable returning a VLA')
    parser.add_argument('--model', default='openvla/openvla-7b', help='Checkpoint id or directory')
    parser.add_argument('--device', default='auto', help='Torch device (auto: cuda:0 when available)')
    parser.add_argument('--dtype', default='auto', help='Torch dtype (auto: bfloat16 on CUDA, float32 on CPU)')
    parser.add_argument('--unnorm-key', default='bridge_orig', help='Default action statistics key')
    parser.add_argument('--attn-implementation', default='', help='e.g. flash_attention_2 (empty: default)')
    parser.add_argument('--host', default='127.0.0.1', help='Interface to listen on (0.0.0.0: every one)')
    parser.add_argument('--port', type=int, default=8777, help='TCP port')
    parser.add_argument('--log-level', default='INFO')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the server until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format='%(asctime)s %(name)s %(levelname)s %(message)s')
    vla = build_backend(args)
    server = make_server(vla, args.host, args.port, description=args.factory or f'{args.backend}:{args.model}')
    host, port = server.server_address[:2]
    log.info('serving %s on http://%s:%d (POST /act, POST /reset, GET /health)', type(vla).__name__, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info('stopped')
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
