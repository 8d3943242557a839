"""The main job (`./sarl demo`): an online run that leaves its curve, image strip, log and checkpoint."""
import csv
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('mujoco', reason='the demo runs on the simulator: run ./sarl test')


def run_demo(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'sarl_ros.apps.demo', *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_demo_writes_progress_curve_strip_log_and_checkpoint(tmp_path):
    out = tmp_path / 'demo'
    result = run_demo('--episodes', '4', '--encoder', 'hashing', '--output-dir', str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    progress = [line for line in result.stdout.splitlines() if line.startswith('episode ')]
    assert [line.split()[1] for line in progress] == ['1/4', '2/4', '3/4', '4/4']
    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [int(r['episode']) for r in rows] == [1, 2, 3, 4]
    assert all(int(r['decisions']) >= 1 and r['prompts'] for r in rows)
    assert (out / 'checkpoint.pt').stat().st_size > 0

    import matplotlib.image
    curve = matplotlib.image.imread(out / 'learning_curve.png')
    strip = matplotlib.image.imread(out / 'last_episode.png')
    assert curve.shape[1] >= 600 and curve[..., :3].std() > 0.05  # a drawn plot, not a blank canvas
    # One frame per decision of the greedy episode plus the start: the strip is wider than tall.
    assert strip.shape[1] > 1.5 * strip.shape[0]
    assert np.unique(strip[..., :3].reshape(-1, 3), axis=0).shape[0] > 100  # rendered scenes, not blank


def test_unknown_task_lists_the_available_ones(tmp_path):
    result = run_demo('--task', 'juggle', '--episodes', '1', '--output-dir', str(tmp_path / 'x'), cwd=tmp_path)
    assert result.returncode == 2
    assert 'pot_lid_on_towel' in result.stderr and 'juggle' in result.stderr


def test_a_rerun_resumes_after_the_last_checkpointed_episode_and_fresh_keeps_the_old_run(tmp_path, capsys):
    from sarl_ros.apps.demo import main
    from sarl_ros.core.checkpoint import load_checkpoint

    out = tmp_path / 'demo'
    common = ['--encoder', 'hashing', '--output-dir', str(out)]
    assert main(['--episodes', '1', *common]) == 0
    # A kill after the record row but before the checkpoint: the row is the unsaved episode's.
    with (out / 'episodes.csv').open('a') as f:
        f.write('2,1,3,30,a | b | c\n')
    capsys.readouterr()
    assert main(['--episodes', '3', *common]) == 0
    printed = capsys.readouterr().out
    assert 'resuming at episode 2' in printed
    assert [line.split()[1] for line in printed.splitlines() if line.startswith('episode ')] == ['2/3', '3/3']
    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [int(r['episode']) for r in rows] == [1, 2, 3] and rows[1]['prompts'] != 'a | b | c'
    assert load_checkpoint(out / 'checkpoint.pt').episodes == 3

    assert main(['--episodes', '1', '--fresh', *common]) == 0
    old = list(csv.DictReader((tmp_path / 'demo.old-1' / 'episodes.csv').open()))
    assert [int(r['episode']) for r in old] == [1, 2, 3]
    assert [int(r['episode']) for r in csv.DictReader((out / 'episodes.csv').open())] == [1]
