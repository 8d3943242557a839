"""sarl-vla-server: serve a local VLA over HTTP so a GPU server can drive a laptop's arm.

FastAPI + uvicorn with json-numpy, as OpenVLA's REST deploy server (vla-scripts/deploy.py), and
answering like it, so clients written for one work with the other:
  POST /act     {"image": <uint8 HxWx3>, "instruction": str, "unnorm_key": str (optional),
                 "proprio": <float array> (optional)} -> the action array (json-numpy);
                {"encoded": "<that object as json-numpy text>"} -> the action as a JSON *string*
                holding json-numpy text (upstream's double encoding);
                on any failure: 200 with the JSON string "error" (upstream's answer), plus our
                headers X-SARL-Error (the reason) and X-SARL-Error-Kind (request | inference).
                Header X-SARL-Skill-Done: 1 when the backend reports the skill finished.
  POST /reset   start a new prompt (stateful backends; not in upstream)
  GET  /health  {"status": "ok", "backend": ..., "requests": n, "mean_latency_ms": ...} (not in upstream)

Where it answers unlike deploy.py (docs/design/backends.md lists these): a body over --max-body-mb is
refused with HTTP 413 while it is read (deploy.py reads any body whole); with a token (the variable
named by --token-env; required off loopback) a request without `Authorization: Bearer <token>` gets
HTTP 401 (deploy.py has no authentication); a malformed observation is answered "error" with kind
`request`, never handed to the model.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import socket
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sarl_ros.backends import wire
from sarl_ros.backends.http_guard import BodyLimit, bearer_matches, is_loopback
from sarl_ros.core.log_text import printable

log = logging.getLogger('sarl-vla-server')

SKILL_DONE_HEADER = 'X-SARL-Skill-Done'
ERROR_HEADER = 'X-SARL-Error'
ERROR_KIND_HEADER = 'X-SARL-Error-Kind'
UPSTREAM_ERROR = 'error'  # what OpenVLA's deploy server answers on any failure
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a 1920x1080 frame as json-numpy is 8.3 MB
MAX_IMAGE_SIDE = 4096  # a camera frame; anything larger is not an observation
TOKEN_ENV = 'SARL_VLA_TOKEN'


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
        if image is not None:
            check_image(image)
        proprio = payload.get('proprio')
        try:
            proprio = np.zeros(0) if proprio is None else np.asarray(proprio, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f'"proprio" must be an array of numbers ({exc})') from None
        if proprio.size > 64 or not np.all(np.isfinite(proprio)):
            raise BadRequest('"proprio" must be at most 64 finite numbers')
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


def check_image(image: Any) -> None:
    """Raise BadRequest unless `image` is an HxWx3 uint8 array of a camera frame's size."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, 'shape', None)
        dtype = getattr(image, 'dtype', type(image).__name__)
        raise BadRequest(f'"image" must be an encoded HxWx3 uint8 array, got {dtype} {shape}')
    if not (1 <= image.shape[0] <= MAX_IMAGE_SIDE and 1 <= image.shape[1] <= MAX_IMAGE_SIDE):
        raise BadRequest(f'"image" must be 1-{MAX_IMAGE_SIDE} pixels a side, got {image.shape[:2]}')


def parse_act_body(body: bytes) -> tuple[Any, bool]:
    """Return (decoded /act payload, whether it came double-encoded as {"encoded": "<json text>"})."""
    try:
        outer = json.loads(body) if body else None
    except ValueError as exc:
        raise BadRequest(f'the body is not JSON: {exc}') from None
    try:
        if isinstance(outer, dict) and 'encoded' in outer:
            if set(outer) != {'encoded'} or not isinstance(outer['encoded'], str):
                raise BadRequest('a double-encoded request is exactly {"encoded": "<json text>"}')
            return wire.loads(outer['encoded']), True
        return wire._from_json(outer), False
    except BadRequest:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:  # a malformed json-numpy array
        raise BadRequest(f'malformed array in the body ({type(exc).__name__}: {exc})') from None


def _header_text(text: str) -> str:
    return ' '.join(str(text).split())[:300].encode('ascii', 'replace').decode('ascii')


def make_app(service: VLAService, token: str | None = None, max_body_bytes: int = MAX_REQUEST_BYTES):
    """Return the FastAPI application serving one VLA; with a token every request needs it (Bearer)."""
    app = FastAPI(title='sarl-vla-server', docs_url=None, redoc_url=None, openapi_url=None)

    def error(kind: str, reason: str) -> Response:
        # Upstream's answer (status 200, the JSON string "error"), with the reason in headers.
        return JSONResponse(UPSTREAM_ERROR, headers={ERROR_HEADER: _header_text(reason), ERROR_KIND_HEADER: kind})

    if token:
        @app.middleware('http')
        async def bearer_only(request: Request, call_next):
            if not bearer_matches(request.headers.get('authorization'), token):
                return JSONResponse({'detail': 'a token is required: Authorization: Bearer <token>'}, status_code=401,
                                    headers={'WWW-Authenticate': 'Bearer', ERROR_KIND_HEADER: 'request',
                                             ERROR_HEADER: 'unauthorized'})
            return await call_next(request)

    def too_large(limit: int):
        reason = f'request body larger than {limit} bytes'
        return 413, {'detail': reason}, {ERROR_HEADER: reason, ERROR_KIND_HEADER: 'request'}

    # Outermost: a body is counted as it arrives, also chunked ones, on every route.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, answer=too_large)

    @app.post('/act')
    async def act(request: Request) -> Response:
        try:
            payload, double_encoded = parse_act_body(await request.body())  # at most max_body_bytes (BodyLimit)
            action, done = await run_in_threadpool(service.act, payload)
        except ValueError as exc:  # malformed JSON or arrays, and the backend's input checks
            log.warning('bad /act request: %s', printable(exc))
            return error('request', f'bad request: {exc}')
        except Exception as exc:  # noqa: BLE001 - the server outlives a failing inference
            log.error('inference failed: %s', printable(f'{type(exc).__name__}: {exc}'),
                      exc_info=log.isEnabledFor(logging.DEBUG))  # the traceback only when asked for
            return error('inference', f'{type(exc).__name__}: {exc}')
        text = wire.dumps(action)
        content = json.dumps(text) if double_encoded else text  # upstream: a JSON string of json-numpy text
        return Response(content, media_type='application/json', headers={SKILL_DONE_HEADER: str(int(done))})

    @app.post('/reset')
    async def reset() -> dict:
        await run_in_threadpool(service.reset)
        return {'status': 'reset'}

    @app.get('/health')
    async def health() -> dict:
        return service.health()

    return app


def _listening_socket(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then; without
    # it, Nagle's algorithm and the client's delayed ACK add ~40 ms to every answer.
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


class PolicyServer:
    """uvicorn serving the app on a socket bound at construction (port 0: a free port, known at once)."""

    def __init__(self, app, host: str = '127.0.0.1', port: int = 8777, log_level: str = 'warning'):
        import uvicorn
        self.socket = _listening_socket(host, port)
        self.server_address = self.socket.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False,
                                                     timeout_graceful_shutdown=2))
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f'http://{host}:{port}'

    def serve_forever(self) -> None:
        """Serve until shutdown() (or Ctrl-C in the main thread)."""
        self._stopped.clear()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop serving; return once serve_forever (in another thread) has returned."""
        self._server.should_exit = True
        self._stopped.wait(timeout_s)

    def server_close(self) -> None:
        """Release the listening socket."""
        self.socket.close()


def make_server(vla: Any, host: str = '127.0.0.1', port: int = 8777, description: str = '',
                token: str | None = None, max_body_bytes: int = MAX_REQUEST_BYTES) -> PolicyServer:
    """Return a policy server (not yet serving) for a VLA; port 0 picks a free port.

    Off the loopback interface a token is required (ValueError without one).
    """
    if not token and not is_loopback(host):
        raise ValueError(f'serving on {host} needs a token: set {TOKEN_ENV} (clients send Authorization: Bearer)')
    return PolicyServer(make_app(VLAService(vla, description), token=token or None, max_body_bytes=max_body_bytes),
                        host, port)


def _factory(spec: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(':')
    if not attribute:
        raise ValueError(f'--factory must be module:callable, got {spec!r}')
    return getattr(importlib.import_module(module_name), attribute)


def build_backend(args: argparse.Namespace) -> Any:
    """Return the VLA the command line asks for."""
    if args.factory:
        return _factory(args.factory)()
    from sarl_ros.backends.catalog import make_vla
    if args.backend == 'remote':
        raise ValueError('the server serves a local backend; --backend remote would only relay')
    return make_vla(args.backend, model=args.model, device=args.device, dtype=args.dtype,
                    unnorm_key=args.unnorm_key or None, attn_implementation=args.attn_implementation or None)


def parse_args(argv=None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(prog='sarl-vla-server', description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--backend', default='openvla', help='Local VLA backend (sarl_ros.backends.catalog)')
    parser.add_argument('--factory', default='', help='Instead of --backend: module:callable returning a VLA')
    parser.add_argument('--model', default='openvla/openvla-7b', help='Checkpoint id or directory')
    parser.add_argument('--device', default='auto', help='Torch device (auto: cuda:0 when available)')
    parser.add_argument('--dtype', default='auto', help='Torch dtype (auto: bfloat16 on CUDA, float32 on CPU)')
    parser.add_argument('--unnorm-key', default='bridge_orig', help='Default action statistics key')
    parser.add_argument('--attn-implementation', default='', help='e.g. flash_attention_2 (empty: default)')
    parser.add_argument('--host', default='127.0.0.1', help='Interface to listen on (0.0.0.0: every one)')
    parser.add_argument('--port', type=int, default=8777, help='TCP port')
    parser.add_argument('--token-env', default=TOKEN_ENV,
                        help='Environment variable holding the bearer token every request must carry '
                             '(required when --host is not loopback); never logged')
    parser.add_argument('--max-body-mb', type=float, default=MAX_REQUEST_BYTES / 2**20,
                        help='Largest request body, counted while it is read (chunked ones too)')
    parser.add_argument('--log-level', default='INFO')
    parser.add_argument('--protocol', choices=('openvla', 'openpi'), default='openvla',
                        help='openvla: HTTP as OpenVLA\'s deploy.py; openpi: openpi\'s websocket policy server')
    from sarl_ros.backends import openpi_server
    openpi_server.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the server until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format='%(asctime)s %(name)s %(levelname)s %(message)s')
    token = os.environ.get(args.token_env, '') or None
    if token is None and not is_loopback(args.host):
        print(f'sarl-vla-server: serving on {args.host} needs a token: set {args.token_env} '
              '(clients send Authorization: Bearer <token>; or serve on 127.0.0.1 behind an SSH tunnel)',
              file=sys.stderr)
        return 2
    vla = build_backend(args)
    if args.protocol == 'openpi':  # sarl_ros.backends.openpi_server (its own API key, --api-key-env)
        from sarl_ros.backends import openpi_server
        return openpi_server.serve(args, vla, description=args.factory or f'{args.backend}:{args.model}')
    server = make_server(vla, args.host, args.port, description=args.factory or f'{args.backend}:{args.model}',
                         token=token, max_body_bytes=int(args.max_body_mb * 2**20))
    log.info('serving %s on %s (POST /act, POST /reset, GET /health)%s', type(vla).__name__, server.url,
             ' (token required)' if token else '')
    try:
        server.serve_forever()  # uvicorn handles Ctrl-C and SIGTERM
    finally:
        server.server_close()
        log.info('stopped')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
