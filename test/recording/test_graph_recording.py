"""A simulated run of the whole graph, recorded by the built-in recorder and replayed offline.

The learner's own memory (the replay buffer in the checkpoint the Q-policy node writes at the
end) is the reference: every transition it stored must come back from the bag bit for bit,
in order; the episodes must match the episode manager's episodes.csv; the plots must render.
"""
import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
torch = pytest.importorskip('torch', reason='the learner needs torch')

from sarl_ros.core.durability.checkpoint import load_checkpoint  # noqa: E402
from sarl_ros.core.mdp import Transition  # noqa: E402
from sarl_ros.recording.compare import record_and_compare  # noqa: E402
from sarl_ros.recording.plots import plot_all  # noqa: E402

EPISODES = 3


def replay_transitions(policy) -> list[Transition]:
    """Return what the learner stored, oldest first (the replay keeps no episode or step numbers)."""
    assert policy.learner.replay.added == policy.learner.replay.size, 'the replay wrapped around: use fewer episodes'
    return policy.stored_transitions()


def test_recorded_graph_run_equals_what_the_learner_saw(tmp_path, graph_config):
    torch.set_num_threads(1)
    out = tmp_path / 'run'
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(graph_config()), f'episodes:={EPISODES}',
         'record:=true',
         f'output_dir:={out}', 'seed:=1'],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert 'bag closed' in output, output[-4000:]
    print(f'graph run with recording: {time.monotonic() - started:.1f} s')

    learner = load_checkpoint(out / 'checkpoints' / 'sarl.pt')
    seen = replay_transitions(learner)
    assert len(seen) >= EPISODES
    # The replay keeps neither episode/step numbers nor the truncated flag.
    rec = record_and_compare(out / 'bag', seen, ignore=('episode', 'step', 'truncated'))
    assert rec.problems == [] and not rec.recovered

    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [e.episode for e in rec.episodes] == [int(r['episode']) for r in rows]
    assert [int(e.success) for e in rec.episodes] == [int(r['success']) for r in rows]
    assert [' | '.join(e.prompts) for e in rec.episodes] == [r['prompts'] for r in rows]
    assert all(len(d.q_values) == len(d.prompts) >= 2 for d in rec.decisions)
    assert sum(len(e.transitions) for e in rec.episodes) == len(seen)
    assert all(np.isfinite(d.chosen_q) for d in rec.decisions)

    for name, path in plot_all(rec.episodes, out / 'plots').items():
        assert path.stat().st_size > 10_000, name
