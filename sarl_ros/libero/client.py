"""The main process's side of the LIBERO worker: start it, send requests, stop it."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

from sarl_ros.libero import protocol

REPO = Path(__file__).resolve().parents[2]
STAMP = '.sarl_libero_stamp'


def libero_python() -> Path:
    """Return the LIBERO venv's interpreter ($SARL_LIBERO_PYTHON, else <repo>/.venv-libero)."""
    override = os.environ.get('SARL_LIBERO_PYTHON')
    if override:
        return Path(override)
    return Path(os.environ.get('SARL_LIBERO_VENV', REPO / '.venv-libero')) / 'bin' / 'python'


def libero_available() -> bool:
    """Return whether `./sarl setup --libero` finished (its stamp lies next to the interpreter)."""
    python = libero_python()
    return python.is_file() and (python.parent.parent / STAMP).is_file()


class WorkerError(RuntimeError):
    """The worker failed a request or died."""


class LiberoWorker:
    """A LIBERO worker process speaking sarl_ros.libero.protocol over its stdin/stdout."""

    def __init__(self, python: Path | None = None, niceness: int = 0):
        python = Path(python or libero_python())
        if not python.is_file():
            raise FileNotFoundError(f'no LIBERO environment at {python}: run ./sarl setup --libero')
        env = dict(os.environ, PYTHONPATH=str(REPO), MUJOCO_GL=os.environ.get('MUJOCO_GL', 'osmesa'),
                   PYOPENGL_PLATFORM=os.environ.get('PYOPENGL_PLATFORM', 'osmesa'), OMP_NUM_THREADS='1')
        env.pop('PYTHONHOME', None)
        command = [str(python), '-m', 'sarl_ros.libero.worker']
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env, preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
        self._stderr_tail: list[str] = []
        self._lock = threading.Lock()
        # Neither the thread nor the finaliser may hold self: an unreferenced worker must be reaped
        # (the benchmark harness drops its environments without closing them).
        threading.Thread(target=_drain, args=(self._process.stderr, self._stderr_tail), daemon=True).start()
        self._finalizer = weakref.finalize(self, _kill, self._process)

    def call(self, op: str, **fields):
        """Send one request and return its result; WorkerError on failure."""
        with self._lock:
            if self._process.poll() is not None:
                raise WorkerError(f'the LIBERO worker exited ({self._process.returncode}):\n' + self.stderr_tail())
            try:
                protocol.send(self._process.stdin, {'op': op, **fields})
                reply = protocol.receive(self._process.stdout)
            except (BrokenPipeError, protocol.ProtocolError) as exc:
                raise WorkerError(f'the LIBERO worker stopped answering ({exc}):\n' + self.stderr_tail()) from exc
        if not reply.get('ok'):
            raise WorkerError(f'LIBERO worker: {op} failed: {reply.get("error")}')
        return reply.get('result')

    def stderr_tail(self) -> str:
        return '\n'.join(self._stderr_tail)

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.call('close')
            except WorkerError:
                pass
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _drain(stream, tail: list[str]) -> None:
    # Keep the pipe empty (a full pipe would block the worker) and the last lines for errors.
    for raw in stream:
        line = raw.decode('utf-8', 'replace').rstrip()
        if line and 'WARNING' not in line and 'Warning' not in line:
            tail.append(line)
            del tail[:-20]


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def niceness_from_env() -> int:
    """LIBERO scenes are heavy: SARL_LIBERO_NICE (default 0) lowers the worker's priority."""
    try:
        return int(os.environ.get('SARL_LIBERO_NICE', '0'))
    except ValueError:
        print('SARL_LIBERO_NICE must be an integer; ignoring it', file=sys.stderr)
        return 0
