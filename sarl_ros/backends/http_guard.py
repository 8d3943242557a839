"""ASGI guards shared by the operator console and the policy server.

BodyLimit refuses a request body larger than `max_bytes` while it is being read: a declared
Content-Length over the limit is answered 413 before a byte of the body is read, and a body
without one (chunked transfer encoding) is counted chunk by chunk and cut off as soon as it
passes the limit, so a server never holds more than the limit (plus one chunk) of any body.
It reads the body before the application runs, so the limit holds on every route.
Bearer checks a token in constant time. Both are plain ASGI: no framework needed.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Awaitable, Callable

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


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
        # The whole body is read here, at most max_bytes of it, before the application sees the request:
        # every route gets the limit, also one that would never read its body.
        chunks, received = [], 0
        while True:
            message = await receive()
            if message['type'] != 'http.request':  # the client went away
                return
            chunk = message.get('body', b'')
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(send)  # with Connection: close; the rest is never read
                return
            chunks.append(chunk)
            if not message.get('more_body', False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {'type': 'http.request', 'body': b''.join(chunks), 'more_body': False}
            return await receive()  # after the body: disconnects (a live stream waits for one)

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        status, body, headers = self.answer(self.max_bytes)
        await send_json(send, status, body, headers)


def is_loopback(host: str) -> bool:
    """Return whether a listening host is this machine only (servers elsewhere must ask for a token)."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return False


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>` (constant-time comparison)."""
    if not authorization or not authorization[:7].lower() == 'bearer ':
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
