"""sarl-graph fails fast: one node's exit stops the whole graph, non-zero, naming the node; no orphans."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sarl_ros.graph.launch_plan import SARL_GRAPH, plan_graph

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')

ROOT = Path(__file__).resolve().parents[2]


def node_processes(marker: str) -> list[int]:
    """Return the pids of live processes whose command line contains marker (the run's own directory)."""
    pids = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace')
            state = (entry / 'stat').read_text().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and '--ros-args' in cmdline and state != 'Z':
            pids.append(int(entry.name))
    return pids


def start_graph(tmp_path, *arguments, config=None):
    run = tmp_path / 'run'
    log = (tmp_path / 'graph.log').open('w')
    # console_port:=0: the launch argument's 8080 (it overrides the parameter file's port) may be taken.
    command = [sys.executable, '-m', 'sarl_ros.graph.launcher', f'output_dir:={run}', 'console_port:=0', *arguments]
    if config:
        command += ['--config', str(config)]
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True), \
        tmp_path / 'graph.log', str(run)


def test_a_node_failing_at_start_stops_the_graph_naming_it(tmp_path, graph_config):
    bad = graph_config({'camera': {'rate_hz': -1.0}})  # refused by the camera node only
    graph, log, run = start_graph(tmp_path, 'episodes:=50', config=bad)
    assert graph.wait(timeout=300) == 1
    lines = log.read_text().splitlines()
    assert 'camera.rate_hz must be positive' in log.read_text()
    verdict = [line for line in lines if line.startswith('sarl-graph:')]
    assert verdict == ['sarl-graph: node camera exited with code 2 (bad configuration or missing ROS environment; '
                       'its error is above); stopping the graph']
    assert node_processes(run) == []  # every other node was stopped
    # The others were stopped while still starting (importing torch, building the world): they end quietly, so
    # the one error line above is the only one; no KeyboardInterrupt traceback hides it.
    assert 'Traceback' not in log.read_text() and 'KeyboardInterrupt' not in log.read_text()


def test_sigterm_to_sarl_graph_stops_every_node(tmp_path, graph_config):
    graph, log, run = start_graph(tmp_path, 'episodes:=50', config=graph_config())
    end = time.monotonic() + 300
    while log.read_text().count('ready:') < 5 and time.monotonic() < end and graph.poll() is None:
        time.sleep(0.2)
    assert graph.poll() is None, log.read_text()[-3000:]
    started = plan_graph({'episodes': '50', 'output_dir': str(run)}, SARL_GRAPH, {}).nodes
    assert len(node_processes(run)) == len(started)
    graph.send_signal(signal.SIGTERM)
    assert graph.wait(timeout=60) == 130
    assert node_processes(run) == []
    assert 'Traceback' not in log.read_text() and 'never retrieved' not in log.read_text(), log.read_text()[-3000:]
