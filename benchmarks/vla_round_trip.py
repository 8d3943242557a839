"""Remote VLA round trip: OpenVLA's HTTP path and openpi's websocket path, side by side, over loopback.

OpenVLA path: RemoteVLA -> `sarl-vla-server` (a separate process, POST /act, json-numpy) -> a no-op
backend; one request per action. openpi path: OpenPIVLA (vla:=openpi) -> `sarl-vla-server --protocol
openpi` (a separate process, websocket, msgpack) -> a no-op policy answering a chunk of 10 actions;
one request per chunk (the executor asks again every vla_replan_steps actions). Both servers are
started as the real command, so each figure is what the robot side pays per request on top of
inference: observation encoding, transport, the server framework, decoding, and the answer's way
back. For openpi the observation is laid out as vla:=openpi sends it (third-person frame resized with
padding to 224x224, a black wrist frame of the same size, a 7-D state, the prompt). Each figure is the
median (and p90) of N calls after a warm-up.

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


class ZeroChunkPolicy:
    """An openpi-style policy that answers at once with a chunk of 10 zero actions."""

    def infer(self, obs):
        return {'actions': np.zeros((10, 7), dtype=np.float32)}


def start_server(*extra: str) -> tuple[subprocess.Popen, str]:
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([here, os.environ.get('PYTHONPATH', '')])}
    factory = 'vla_round_trip:ZeroChunkPolicy' if 'openpi' in extra else 'vla_round_trip:ZeroVLA'
    process = subprocess.Popen([sys.executable, '-m', 'sarl_ros.backends.vla_server', '--factory', factory,
                                '--port', '0', '--log-level', 'INFO', *extra],
                               stderr=subprocess.PIPE, text=True, env=env)
    for line in process.stderr:
        match = re.search(r'on ((?:http|ws)://127\.0\.0\.1:\d+)', line)
        if match:
            return process, match.group(1)
    raise RuntimeError('the server exited before saying where it listens')


def measure(client, image, n: int, proprio=None) -> tuple[float, float]:
    for _ in range(5):
        client.reset()
        client.act(image, 'pick up the cup', proprio)
    times = []
    for _ in range(n):
        client.reset()  # openpi: drop the chunk, so every call is one request
        start = time.perf_counter()
        client.act(image, 'pick up the cup', proprio)
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-n', type=int, default=200, help='calls per frame size')
    args = parser.parse_args(argv)
    from sarl_ros.backends.openpi_client import OpenPIVLA
    from sarl_ros.backends.vla_client import RemoteVLA
    rng = np.random.default_rng(0)
    frames = (('none', None), ('224x224', (224, 224, 3)), ('640x480', (480, 640, 3)))
    print(f'{"path":>8} {"frame":>9} {"median ms":>10} {"p90 ms":>8}   (n={args.n}, loopback, one request each)')
    for path in ('openvla', 'openpi'):
        process, url = start_server(*(('--protocol', 'openpi') if path == 'openpi' else ()))
        try:
            if path == 'openvla':
                client = RemoteVLA(url=url, check_health=False, timeout_s=30.0)
            else:
                # The proprio stands for the state (vla_state_source proprio): no robot in the benchmark.
                client = OpenPIVLA(host=url, port=0, state_source='proprio', timeout_s=30.0)
            for label, shape in frames:
                if path == 'openpi' and shape is None:
                    continue  # openpi's observation always carries a frame
                image = None if shape is None else rng.integers(0, 256, size=shape, dtype=np.uint8)
                median, p90 = measure(client, image, args.n, None if path == 'openvla' else np.zeros(7))
                print(f'{path:>8} {label:>9} {median:10.2f} {p90:8.2f}')
            client.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    print('openvla: one request per action; openpi: one request per chunk (every vla_replan_steps actions, 5 by '
          'default), 640x480 resized with padding to 224x224 on the client (included)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
