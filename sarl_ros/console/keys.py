"""Single keys on a terminal: the console for labs without a browser at the robot.

s success, f failure, r confirm reset, p pause/resume after this episode, c correct the last
verdict (success <-> failure, before the next episode starts), e or Esc emergency stop (latches),
u release the emergency stop (asks y/n first), h help. The terminal is put in
cbreak mode (keys arrive without Enter, Ctrl-C still interrupts) and restored on exit.
"""
from __future__ import annotations

import os
import select
import threading
from typing import Callable, TextIO

from sarl_ros.console.web import CommandRefused, Operator, PeerUnavailable

HELP = ('keys: [s]uccess  [f]ailure  [r]eset confirmed  [p]ause/resume  [c]orrect the last verdict  '
        '[e]/Esc EMERGENCY STOP  [u] release e-stop  [h]elp')
ESC = '\x1b'


class KeyConsole:
    def __init__(self, operator: Operator, is_paused: Callable[[], bool], read_fd: int, out: TextIO):
        self.operator = operator
        self.is_paused = is_paused
        self.fd = read_fd
        self.out = out
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name='operator-keys', daemon=True)
        self._saved_mode = None

    def start(self) -> None:
        self._enter_cbreak()
        self.say(HELP)
        self._thread.start()

    def stop(self) -> None:
        self._closing.set()
        self._thread.join(timeout=2.0)
        self._restore()

    def say(self, text: str) -> None:
        # On a terminal, start at column 0 (a key may have left the cursor mid-line).
        start = '\r' if self.out.isatty() else ''
        self.out.write(f'{start}[operator] {text}\n')
        self.out.flush()

    def _enter_cbreak(self) -> None:
        import termios
        import tty
        if os.isatty(self.fd):
            self._saved_mode = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)

    def _restore(self) -> None:
        if self._saved_mode is not None:
            import termios
            # TCSANOW: waiting for the output to drain could block forever on a terminal nobody reads.
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved_mode)
            self._saved_mode = None

    def _read_key(self) -> str | None:
        """Return one key, or None after a short wait (so stop() is noticed)."""
        ready, _, _ = select.select([self.fd], [], [], 0.2)
        if not ready:
            return None
        data = os.read(self.fd, 1)
        if not data:  # end of input: no terminal any more
            self._closing.set()
            return None
        return data.decode(errors='replace')

    def _run(self) -> None:
        while not self._closing.is_set():
            key = self._read_key()
            if key is not None:
                self.handle(key)

    def handle(self, key: str) -> None:
        commands = {
            's': lambda: self.operator.report_outcome(True),
            'f': lambda: self.operator.report_outcome(False),
            'r': self.operator.confirm_reset,
            'p': lambda: self.operator.set_paused(not self.is_paused()),
            'c': self.operator.correct_last,
            'e': lambda: self.operator.emergency_stop(True, 'operator key'),
            ESC: lambda: self.operator.emergency_stop(True, 'operator key'),
            'u': self._release,
        }
        if key in ('h', '?'):
            self.say(HELP)
            return
        action = commands.get(key)
        if action is None:
            return
        try:
            self.say(action())
        except (CommandRefused, PeerUnavailable) as exc:
            self.say(f'refused: {exc}')

    def _release(self) -> str:
        self.say('release the emergency stop? [y/N]')
        answer = None
        while answer is None and not self._closing.is_set():
            answer = self._read_key()
        if answer != 'y':
            return 'emergency stop stays engaged'
        return self.operator.emergency_stop(False, 'released by key')
