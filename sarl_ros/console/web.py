"""The console's web server: the page, a live stream (Server-Sent Events), and operator commands.

Security: served on 127.0.0.1 unless configured otherwise. With a token (required off the
loopback interface), every API call needs it: the page asks for it once and gets an HttpOnly,
SameSite=Strict session cookie; scripts may send `Authorization: Bearer <token>`. On loopback the
Host header must name the loopback (no DNS rebinding), commands must be JSON (a cross-site form
cannot send it) and a foreign Origin is refused. Bad requests get a 4xx with a reason.
"""
from __future__ import annotations

import asyncio
import hmac
import re
import json
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Literal, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from sarl_ros.backends.http_guard import BodyLimit, bearer_matches, is_loopback
from sarl_ros.console.state import ConsoleState

STATIC = Path(__file__).resolve().parent / 'static'
SESSION_COOKIE = 'sarl_console_session'
LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1', '[::1]']
MAX_BODY_BYTES = 16 * 1024  # every command is a few dozen bytes
FRAME_NAME = re.compile(r'e\d{5}_\d{2}\.jpg')  # an episode's thumbnails: e<episode>_<index>.jpg
# No other page may frame this one (a framed console could be clicked through: clickjacking), and the page
# loads nothing but its own files.
SECURITY_HEADERS = {
    'Content-Security-Policy': "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
}


class CommandRefused(RuntimeError):
    """The graph said no (e.g. no episode is running): HTTP 409."""


class PeerUnavailable(RuntimeError):
    """The node that owns the command did not answer: HTTP 503."""


class Operator(Protocol):
    """The commands the page (and the keys) give; each returns a message for the operator."""

    def report_outcome(self, success: bool) -> str: ...
    def confirm_reset(self) -> str: ...
    def set_paused(self, paused: bool) -> str: ...
    def emergency_stop(self, engage: bool, reason: str) -> str: ...
    def correct_outcome(self, episode: int, success: bool) -> str: ...
    def correct_last(self) -> str: ...
    def demonstrate(self, prompt: str, typed: bool) -> str: ...


class Command(BaseModel):
    # strict: "yes" is not a bool, "3" is not an int; extra fields are refused.
    model_config = ConfigDict(extra='forbid', strict=True)


class OutcomeCommand(Command):
    outcome: Literal['success', 'failure']


class CorrectionCommand(Command):
    episode: int = Field(ge=1)
    outcome: Literal['success', 'failure']


class PauseCommand(Command):
    paused: bool


class EstopCommand(Command):
    reason: str = Field('operator console', max_length=200)


class DemonstrateCommand(Command):
    prompt: str = Field(min_length=1, max_length=200)
    typed: bool = False  # typed by the operator rather than one of the shown candidates

    @field_validator('prompt')
    @classmethod
    def one_line_of_text(cls, prompt: str) -> str:
        prompt = ' '.join(prompt.split())
        if not prompt or any(unicodedata.category(ch).startswith('C') for ch in prompt):
            raise ValueError('a prompt is one line of printable text')
        return prompt


class ReleaseCommand(Command):
    # The release is confirmed in the request itself, not only by the page's dialog.
    confirm: Literal['release']


class SessionRequest(Command):
    token: str = Field(max_length=1024)


class Access:
    """Who may call the API: anyone on loopback without a token, else token holders."""

    def __init__(self, token: str | None):
        self.token = token or None
        self._sessions: set[str] = set()
        self._lock = threading.Lock()

    def token_matches(self, offered: str) -> bool:
        return self.token is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def bearer(self, header: str) -> bool:
        return self.token is not None and bearer_matches(header, self.token)

    def new_session(self) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions.add(session)
        return session

    def allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        if self.bearer(request.headers.get('authorization', '')):
            return True
        with self._lock:
            return request.cookies.get(SESSION_COOKIE, '') in self._sessions


def build_app(state: ConsoleState, operator: Operator, *, token: str | None = None,
              allowed_hosts: list[str] | None = None, closing: threading.Event | None = None,
              max_body_bytes: int = MAX_BODY_BYTES, frames_dir: Path | None = None) -> FastAPI:
    """Return the console's ASGI app; allowed_hosts None accepts any Host header (token mode).

    frames_dir: the run's episode thumbnails (GET /api/frames/<name>), None for none.
    """
    app = FastAPI(title='SARL operator console', docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)  # counts every body as it is read, on every route
    access = Access(token)
    closing = closing or threading.Event()

    @app.middleware('http')
    async def same_origin_only(request: Request, call_next):
        origin = request.headers.get('origin')
        if origin and origin.split('://', 1)[-1] != request.headers.get('host', ''):
            return JSONResponse({'detail': f'cross-origin request from {origin} refused'}, status_code=403)
        return await call_next(request)

    @app.middleware('http')  # defined last: the outermost, so every answer has the headers
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(CommandRefused)
    async def refused(request: Request, exc: CommandRefused):
        return JSONResponse({'detail': str(exc)}, status_code=409)

    @app.exception_handler(PeerUnavailable)
    async def unavailable(request: Request, exc: PeerUnavailable):
        return JSONResponse({'detail': str(exc)}, status_code=503)

    def authorised(request: Request) -> None:
        if not access.allowed(request):
            raise HTTPException(401, 'a token is required: enter it on the page, or send Authorization: Bearer')

    def json_body(request: Request) -> None:
        # A cross-site HTML form cannot send JSON; requiring it closes that door.
        if request.headers.get('content-type', '').split(';')[0].strip() != 'application/json':
            raise HTTPException(415, 'commands must be sent as application/json')

    command = [Depends(authorised), Depends(json_body)]

    @app.get('/', include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / 'index.html', headers={'Cache-Control': 'no-store'})

    app.mount('/static', StaticFiles(directory=STATIC), name='static')

    @app.get('/api/auth')
    async def auth(request: Request) -> dict:
        return {'token_required': access.token is not None, 'authorised': access.allowed(request)}

    @app.post('/api/session', dependencies=[Depends(json_body)])
    async def session(body: SessionRequest, response: Response) -> dict:
        if access.token is None:
            return {'authorised': True}
        if not access.token_matches(body.token):
            raise HTTPException(401, 'wrong token')
        response.set_cookie(SESSION_COOKIE, access.new_session(), httponly=True, samesite='strict')
        return {'authorised': True}

    @app.get('/api/state', dependencies=[Depends(authorised)])
    async def snapshot() -> dict:
        return state.snapshot()

    @app.get('/api/image.jpg', dependencies=[Depends(authorised)])
    async def image() -> Response:
        jpeg = state.jpeg()
        if jpeg is None:
            raise HTTPException(404, 'no camera image yet')
        return Response(jpeg, media_type='image/jpeg', headers={'Cache-Control': 'no-store'})

    @app.get('/api/frames/{name}', dependencies=[Depends(authorised)])
    async def frame(name: str) -> Response:
        # Only names this console writes: no path can leave the directory.
        path = frames_dir / name if frames_dir is not None and FRAME_NAME.fullmatch(name) else None
        if path is None or not path.is_file():
            raise HTTPException(404, 'no such frame')
        return Response(path.read_bytes(), media_type='image/jpeg', headers={'Cache-Control': 'max-age=86400'})

    @app.get('/api/stream', dependencies=[Depends(authorised)])
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_live(state, request, closing), media_type='text/event-stream',
                                 headers={'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no'})

    @app.post('/api/outcome', dependencies=command)
    async def outcome(body: OutcomeCommand) -> dict:
        return {'message': await run_in_threadpool(operator.report_outcome, body.outcome == 'success')}

    @app.post('/api/reset/confirm', dependencies=command)
    async def confirm_reset() -> dict:
        return {'message': await run_in_threadpool(operator.confirm_reset)}

    @app.post('/api/pause', dependencies=command)
    async def pause(body: PauseCommand) -> dict:
        return {'message': await run_in_threadpool(operator.set_paused, body.paused)}

    @app.post('/api/estop', dependencies=command)
    async def estop(body: EstopCommand) -> dict:
        return {'message': await run_in_threadpool(operator.emergency_stop, True, body.reason)}

    @app.post('/api/estop/release', dependencies=command)
    async def estop_release(body: ReleaseCommand) -> dict:
        return {'message': await run_in_threadpool(operator.emergency_stop, False, 'released on the console')}

    @app.post('/api/demonstrate', dependencies=command)
    async def demonstrate(body: DemonstrateCommand) -> dict:
        return {'message': await run_in_threadpool(operator.demonstrate, body.prompt, body.typed)}

    @app.post('/api/outcome/correct', dependencies=command)
    async def correct(body: CorrectionCommand) -> dict:
        return {'message': await run_in_threadpool(operator.correct_outcome, body.episode,
                                                   body.outcome == 'success')}

    return app


async def _live(state: ConsoleState, request: Request, closing: threading.Event, max_rate_hz: float = 10.0):
    """Yield a snapshot whenever the state changes, at most max_rate_hz, with keep-alives."""
    _, changed = waiter = state.changes.subscribe()
    try:
        sent = -1
        while not closing.is_set() and not await request.is_disconnected():
            view = state.snapshot()
            if view['version'] != sent:
                sent = view['version']
                yield f'data: {json.dumps(view)}\n\n'
            changed.clear()
            if state.version == sent:
                try:
                    await asyncio.wait_for(changed.wait(), timeout=5.0)
                except asyncio.TimeoutError:
                    yield ': keep-alive\n\n'
            await asyncio.sleep(1.0 / max_rate_hz)  # coalesce bursts (hundreds of control steps a second)
    finally:
        state.changes.unsubscribe(waiter)


def listening_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections.
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip('[]'), port))
        sock.listen(32)
    except OSError:
        sock.close()
        raise
    return sock


class ConsoleServer:
    """uvicorn serving the console from a background thread; port 0 picks a free port."""

    def __init__(self, state: ConsoleState, operator: Operator, host: str = '127.0.0.1', port: int = 8080,
                 token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES, frames_dir: Path | None = None):
        import uvicorn
        if not is_loopback(host) and not token:
            raise ValueError(f'serving the console on {host} needs a token')
        self.closing = threading.Event()
        self.state = state
        allowed = LOOPBACK_HOSTS if is_loopback(host) and not token else None
        self.app = build_app(state, operator, token=token, allowed_hosts=allowed, closing=self.closing,
                             max_body_bytes=max_body_bytes, frames_dir=frames_dir)
        self.socket = listening_socket(host, port)
        self.host, self.port = host, self.socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level='warning', access_log=False,
                                                     timeout_graceful_shutdown=2))
        self._thread = threading.Thread(target=self._server.run, kwargs={'sockets': [self.socket]},
                                        name='operator-console-web', daemon=True)

    @property
    def url(self) -> str:
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'http://{host}:{self.port}/'

    def start(self) -> None:
        self._thread.start()

    def wait_started(self, timeout_s: float = 10.0) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not self._server.started:
            time.sleep(0.02)
        return self._server.started

    def stop(self, timeout_s: float = 5.0) -> None:
        self.closing.set()
        self.state.changes.notify()  # live streams see `closing` now, not at their next keep-alive
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self.socket.close()
