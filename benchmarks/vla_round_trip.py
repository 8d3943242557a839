"""Remote VLA round trip: RemoteVLA -> sarl-vla-server (a separate process) -> a no-op backend.

The server is started as the real command (`python -m sarl_ros.backends.vla_server --factory ...`),
so the figure is what the robot side pays per action over loopback on top of inference: request
encoding, HTTP, the server framework, decoding, and the answer's way back. Frames of three sizes
are sent; each figure is the median (and p90) of N calls after a warm-up.

    ./sarl run python benchmarks/vla_round_trip.py [-n 200]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np


class ZeroVLA:
    """A backend that answers at once: the benchmark measures transport, not inference."""

    def reset(self):
        pass

    def act(self, image, instruction, proprio):
        return np.zeros(7)

    def skill_done(self):
        return False


def start_server() -> tuple[subprocess.Popen, str]:
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([here, os.environ.get('PYTHONPATH', '')])}
    process = subprocess.Popen([sys.executable, '-m', 'sarl_ros.backends.vla_server', '--factory',
                                'vla_round_trip:ZeroVLA', '--port', '0', '--log-level', 'INFO'],
                               stderr=subprocess.PIPE, text=True, env=env)
    for line in process.stderr:
        match = re.search(r'on (http://127\.0\.0\.1:\d+)', line)
        if match:
            return process, match.group(1)
    raise RuntimeError('the server exited before saying where it listens')


def measure(client, image, n: int) -> tuple[float, float]:
    for _ in range(5):
        client.act(image, 'pick up the cup')
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.act(image, 'pick up the cup')
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-n', type=int, default=200, help='calls per frame size')
    args = parser.parse_args(argv)
    from sarl_ros.backends.vla_client import RemoteVLA
    process, url = start_server()
    try:
        client = RemoteVLA(url=url, check_health=False, timeout_s=30.0)
        rng = np.random.default_rng(0)
        print(f'{"frame":>12} {"median ms":>10} {"p90 ms":>8}   (n={args.n}, loopback, server {url})')
        for label, shape in (('none', None), ('224x224', (224, 224, 3)), ('640x480', (480, 640, 3))):
            image = None if shape is None else rng.integers(0, 256, size=shape, dtype=np.uint8)
            median, p90 = measure(client, image, args.n)
            print(f'{label:>12} {median:10.2f} {p90:8.2f}')
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
