"""A loopback HTTP proxy that serves scripted faults in front of a real server (tests only).

The faults sit on the wire, not in a server's handler class, so the same proxy stands in
front of uvicorn (sarl-vla-server) and of http.server (the chat-completions stand-in).
Each request takes the next fault of `plan`, then `then` for ever: None forwards it;
'hang' reads the request and never answers; 'drop' reads it and closes the connection;
'cut' answers a 200 header and part of the body, then closes. Every forwarded request is
sent with `Connection: close`, so one connection carries one request and each is counted.
"""
from __future__ import annotations

import socket
import threading

FAULTS = ('hang', 'drop', 'cut')
_CUT_ANSWER = (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'
               b'{"partial": ')


def _read_request(conn: socket.socket) -> bytes | None:
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    length = 0
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    lines = [line for line in head.split(b'\r\n') if not line.lower().startswith(b'connection:')]
    return b'\r\n'.join(lines + [b'Connection: close']) + b'\r\n\r\n' + body


class FaultProxy:
    """Forward 127.0.0.1:<port> to `target` (host, port), with scripted faults; count requests."""

    def __init__(self, target: tuple[str, int], plan=(), then=None):
        unknown = [f for f in (*plan, then) if f is not None and f not in FAULTS]
        if unknown:
            raise ValueError(f'unknown faults {unknown}; choose from {FAULTS}')
        self.target, self.plan, self.then = target, list(plan), then
        self.requests = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.url = 'http://127.0.0.1:%d' % self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests += 1
                fault = self.plan.pop(0) if self.plan else self.then
            if fault == 'hang':
                self._release.wait(60)
            elif fault == 'cut':
                conn.sendall(_CUT_ANSWER)
            elif fault is None:
                with socket.create_connection(self.target, timeout=30) as upstream:
                    upstream.sendall(request)
                    while chunk := upstream.recv(65536):
                        conn.sendall(chunk)

    def close(self):
        self._release.set()
        self._listener.close()
