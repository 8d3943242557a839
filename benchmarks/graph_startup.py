"""Graph start to first decision: how long `sarl-graph` (one process per node) takes to choose its first prompt.

Starts the shipped graph (default task, the shipped parameter file: MiniLM encoder, console off) on a
fresh output directory and measures, from the moment the launcher process is started:
  - each node's `ready:` line (its services are up; the Q-policy's sentence encoder may still load),
  - the episode manager's `all N nodes ready` (every service and action it calls is ready),
  - the first decision: the first CandidateSet the Q-policy publishes (a probe node subscribes),
then stops the graph. Repeats `--runs` times and prints each figure per run and the median.
The machine's load average is printed with the figures: they are only comparable at similar load.

    ./sarl run python benchmarks/graph_startup.py --runs 3 [--encoder hashing]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

READY = re.compile(r'^\[(\w+)\] .*\]: ready: ')
ALL_READY = re.compile(r'all \d+ nodes ready')


def one_run(out_dir: Path, timeout_s: float, encoder: str | None = None) -> dict[str, float]:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from sarl_ros import names
    from sarl_ros.msg import CandidateSet
    from sarl_ros.rosutil.qos import RECORD

    rclpy.init()
    node = rclpy.create_node('startup_probe')
    decisions = []
    node.create_subscription(CandidateSet, names.TOPIC_CANDIDATES, lambda m: decisions.append(time.monotonic()), RECORD)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    marks: dict[str, float] = {}
    started = time.monotonic()
    command = [sys.executable, '-m', 'sarl_ros.graph.launcher', 'episodes:=1', 'console:=false',
               f'output_dir:={out_dir}']
    if encoder:  # the shipped parameter file with another Q-policy encoder
        import yaml

        from sarl_ros.graph.launcher import DEFAULT_CONFIG
        config = yaml.safe_load(DEFAULT_CONFIG.read_text())
        config['q_policy']['ros__parameters']['encoder'] = encoder
        config_file = out_dir.parent / 'params.yaml'
        config_file.write_text(yaml.safe_dump(config))
        command += ['--config', str(config_file)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED='1'))
    lines = []

    def read():
        for line in proc.stdout:
            now = time.monotonic()
            lines.append(line)
            ready = READY.match(line)
            if ready:
                marks.setdefault(f'{ready.group(1)} ready', now - started)
            elif ALL_READY.search(line):
                marks.setdefault('all nodes ready (episode manager)', now - started)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = started + timeout_s
        while not decisions and time.monotonic() < deadline and proc.poll() is None:
            executor.spin_once(timeout_sec=0.02)
        if not decisions:
            raise RuntimeError('no decision within the timeout:\n' + ''.join(lines[-30:]))
        marks['first decision'] = decisions[0] - started
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        node.destroy_node()
        rclpy.try_shutdown()
    return marks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--timeout', type=float, default=120.0)
    parser.add_argument('--encoder', choices=('minilm', 'hashing'), help="the Q-policy's encoder (default: as shipped)")
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    runs = []
    for run in range(args.runs):
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            marks = one_run(Path(tmp) / 'run', args.timeout, args.encoder)
        runs.append(marks)
        print(f'run {run + 1} (load average {load:.1f}): ' +
              ', '.join(f'{k} {v:.1f} s' for k, v in sorted(marks.items(), key=lambda kv: kv[1])), flush=True)
    keys = sorted({k for marks in runs for k in marks}, key=lambda k: statistics.median(
        m[k] for m in runs if k in m))
    print(f'median of {len(runs)} runs (cores: {os.cpu_count()}, load average now {os.getloadavg()[0]:.1f}):')
    for key in keys:
        print(f'  {key:40s} {statistics.median(m[key] for m in runs if key in m):5.1f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
