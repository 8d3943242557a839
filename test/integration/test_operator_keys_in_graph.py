"""Single keys in the terminal where `sarl-graph` runs (a pty here): the console node reads them.

The graph's processes share the launcher's terminal; the console puts it in cbreak mode while
it runs and restores it when the graph is interrupted.
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time

import pytest

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')


def _as_a_background_job():
    # A shell starts `sarl-graph ... &` (and a CI script's jobs) with SIGINT ignored: it must stop on SIGINT anyway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_keys_in_the_graph_terminal_stop_release_and_pause(tmp_path, graph_config):
    config = graph_config()  # the console on a free port: never collides with a running console
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(config),
         'episodes:=20', f'output_dir:={tmp_path / "run"}'],
        stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ, PYTHONUNBUFFERED='1'), start_new_session=True,
        preexec_fn=_as_a_background_job)
    seen = ''

    def read_until(text, timeout=120.0):
        nonlocal seen
        end = time.monotonic() + timeout
        while text not in seen:
            assert time.monotonic() < end and proc.poll() is None, f'no {text!r} in: {seen[-3000:]}'
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536).decode(errors='replace')

    try:
        read_until('[operator] keys:')
        read_until('[operator] episode 1: start')
        mode = termios.tcgetattr(slave)[3]
        assert not mode & termios.ICANON and not mode & termios.ECHO  # cbreak: keys without Enter
        os.write(master, b'e')
        read_until('[operator] emergency stop engaged')
        # The terminal says what the run now needs from the person, and with which key.
        read_until('[operator] NEEDS YOU: the emergency stop is engaged: make the arm safe, then release it (key u)')
        os.write(master, b'uy')
        read_until('[operator] emergency stop released')
        os.write(master, b'p')
        read_until('[operator] pausing after the current episode')
        read_until('paused (paused by the operator)')
        # Pauses before the next episode to start: episode 2 if the key came before its start, else 3.
        paused = re.findall(r'\[operator\] episode (\d+): paused \(paused by the operator\)', seen)
        started = [int(n) for n in re.findall(r'\[operator\] episode (\d+): start', seen)]
        assert paused and int(paused[0]) == max(started) + 1, seen[-3000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C in the graph's terminal
        end = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < end:  # keep reading, as a terminal does
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536).decode(errors='replace')
                except OSError:
                    break
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    mode = termios.tcgetattr(slave)[3]
    os.close(slave)
    os.close(master)
    assert mode & termios.ICANON and mode & termios.ECHO, f'the terminal was not restored: {seen[-3000:]}'
    assert proc.returncode == 130 and 'ignored SIGINT' not in seen, seen[-3000:]
