"""ASGI guards shared by the operator console and the policy server.

BodyLimit refuses a request body larger than `max_bytes` while it is being read: a declared
Content-Length over the limit is answered 413 before a byte of the body is read, and a body
without one (chunked transfer encoding) is counted chunk by chunk and cut off as soon as it
passes the limit, so a server never holds more than the limit (plus one chunk) of any body.
Bearer checks a token in constant time. Both are plain ASGI: no framework needed.
"""
from __future__ import annotations

import hmac
import json
from typing import Awaitable, Callable

from starlette.exceptions import HTTPException

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised into the application when the body passes the limit while it reads it.

    An HTTPException, so a framework that wraps errors met while parsing a body (FastAPI answers
    400) passes it on as it is: 413, and the connection is closed rather than drained.
    """

    def __init__(self, limit: int):
        super().__init__(413, f'request body larger than {limit} bytes', headers={'Connection': 'close'})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get('headers', ()):
        if key.lower() == name:
            return value.decode('latin-1')
    return None


async def send_json(send: Send, status: int, body: object, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b'content-type', b'application/json'), (b'content-length', str(len(data)).encode()),
           (b'connection', b'close')]
    raw += [(k.lower().encode('latin-1'), v.encode('latin-1')) for k, v in (headers or {}).items()]
    await send({'type': 'http.response.start', 'status': status, 'headers': raw})
    await send({'type': 'http.response.body', 'body': data})


class BodyLimit:
    """Answer 413 to any HTTP request whose body exceeds max_bytes, counted as it arrives."""

    def __init__(self, app, max_bytes: int, answer: Callable[[int], tuple[int, object, dict]] | None = None):
        self.app, self.max_bytes = app, int(max_bytes)
        # answer(max_bytes) -> (status, JSON body, headers): a server may keep its own error format.
        self.answer = answer or (lambda limit: (413, {'detail': f'request body larger than {limit} bytes'}, {}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b'content-length')
        try:
            too_big = declared is not None and int(declared) > self.max_bytes
        except ValueError:
            await send_json(send, 400, {'detail': 'Content-Length is not a number'})
            return
        if too_big:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message['type'] == 'http.request':
                received += len(message.get('body', b''))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked(message: dict) -> None:
            nonlocal started
            if message['type'] == 'http.response.start':
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        status, body, headers = self.answer(self.max_bytes)
        await send_json(send, status, body, headers)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>` (constant-time comparison)."""
    if not authorization or not authorization[:7].lower() == 'bearer ':
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
