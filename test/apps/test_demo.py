"""The main job (`./sarl demo`): an online run that leaves its curve, image strip, log and checkpoint."""
import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('mujoco', reason='the demo runs on the simulator: run ./sarl test')

EPISODES = 4


def run_demo(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'sarl_ros.apps.demo', *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """One uninterrupted run in its own process: the outputs to check, and the reference a resumed run must equal."""
    tmp_path = tmp_path_factory.mktemp('uninterrupted')
    out = tmp_path / 'demo'
    result = run_demo('--episodes', str(EPISODES), '--demonstrations', '0', '--encoder', 'hashing', '--output-dir',
                      str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_demo_writes_progress_curve_strip_log_and_checkpoint(uninterrupted):
    out, result = uninterrupted
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


def test_demonstrations_come_first_chosen_by_the_person_and_seed_the_pool(tmp_path):
    from sarl_ros.core.durability.checkpoint import load_checkpoint
    out = tmp_path / 'demo'
    result = run_demo('--episodes', '1', '--demonstrations', '2', '--task', 'hammer_plate_mushroom', '--output-dir',
                      str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [r['chooser'] for r in rows] == ['person', 'person', 'policy']
    assert [int(r['episode']) for r in rows] == [-1, -2, 1]  # demonstrations are numbered down from -1
    assert sum(line.startswith('demonstration ') for line in result.stdout.splitlines()) == 2
    # The person's grounded commands (the scene's own solution) are in the pool and the replay holds their steps.
    policy = load_checkpoint(out / 'checkpoint.pt')
    first = 'pick up the brown handle'
    assert first in policy.pool.prompts and rows[0]['prompts'].startswith(first)
    assert len(policy.learner.replay) == sum(int(r['decisions']) for r in rows)


def test_unknown_task_lists_the_available_ones(tmp_path):
    result = run_demo('--task', 'juggle', '--episodes', '1', '--output-dir', str(tmp_path / 'x'), cwd=tmp_path)
    assert result.returncode == 2
    assert 'pot_lid_on_towel' in result.stderr and 'juggle' in result.stderr


def _untimed(path) -> list[dict]:
    """The record's rows without the wall-clock column (the one a resumed run may differ in)."""
    from sarl_ros.core.durability.run_compare import TIMING_COLUMNS
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(path.open())]


class Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing in the demo catches it or writes anything after it."""


def _differences(a, b, path='') -> list[str]:
    """Return where two checkpoint payloads differ (tensors and arrays compared bit for bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f'{path}: keys {sorted(a)} != {sorted(b)}']
        return [d for key in a for d in _differences(a[key], b[key], f'{path}/{key}')]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f'{path}: {len(a)} != {len(b)} items']
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f'{path}[{i}]')]
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
        return [] if same else [f'{path}: tensors differ']
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        same = np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype
        return [] if same else [f'{path}: arrays differ']
    return [] if a == b else [f'{path}: {a!r} != {b!r}']


def test_a_killed_run_resumes_bit_identical_to_an_uninterrupted_one_and_fresh_keeps_it(
        uninterrupted, tmp_path, capsys, monkeypatch):
    """Killed mid-episode, then between an episode's row and its checkpoint: the end equals an uninterrupted run.

    The reference ran in another process, so nothing a resumed run draws may depend on the process either.
    """
    from sarl_ros.apps.demo import main
    from sarl_ros.core.durability import checkpoint as checkpoints
    from sarl_ros.core.durability.checkpoint import read_checkpoint
    from sarl_ros.sim.env import SimTabletopEnv

    reference, _ = uninterrupted
    out = tmp_path / 'demo'
    common = ['--episodes', str(EPISODES), '--demonstrations', '0', '--encoder', 'hashing', '--output-dir', str(out)]
    rows = lambda: _untimed(out / 'episodes.csv')  # noqa: E731

    # 1. Killed at the second decision of episode 2 (known by its reset seed, the run's one scheme).
    from sarl_ros.core.episode_loop import episode_seed
    real_reset, real_step = SimTabletopEnv.reset, SimTabletopEnv.step

    def reset(env, seed=None):
        env.test_seed = seed
        return real_reset(env, seed)

    def step(env, prompt):
        if getattr(env, 'test_seed', None) == episode_seed(0, 2) and env.decisions == 1:
            raise Crash('killed mid-episode 2')
        return real_step(env, prompt)
    monkeypatch.setattr(SimTabletopEnv, 'reset', reset)
    monkeypatch.setattr(SimTabletopEnv, 'step', step)
    with pytest.raises(Crash):
        main(common)
    monkeypatch.setattr(SimTabletopEnv, 'step', real_step)
    assert [int(r['episode']) for r in rows()] == [1]
    assert read_checkpoint(out / 'checkpoint.pt')['state']['counters']['episodes'] == 1

    # 2. Resumed, then killed after episode 3's row was written and before its checkpoint.
    real_save = checkpoints.save_checkpoint

    def save(policy, path, extra=None):
        if policy.episodes == 3:
            raise Crash('killed between the row and the checkpoint of episode 3')
        return real_save(policy, path, extra)
    monkeypatch.setattr(checkpoints, 'save_checkpoint', save)
    capsys.readouterr()
    with pytest.raises(Crash):
        main(common)
    assert 'resuming at episode 2' in capsys.readouterr().out
    assert [int(r['episode']) for r in rows()] == [1, 2, 3]
    monkeypatch.setattr(checkpoints, 'save_checkpoint', real_save)

    # 3. Resumed to the end: the unsaved row 3 is dropped and episode 3 redone, numbers neither repeat nor skip.
    assert main(common) == 0
    printed = capsys.readouterr().out
    assert 'resuming at episode 3' in printed
    assert [line.split()[1] for line in printed.splitlines() if line.startswith('episode ')] == ['3/4', '4/4']
    expected = _untimed(reference / 'episodes.csv')
    assert rows() == expected  # the same prompts, outcomes, decisions and control steps, episode by episode
    differences = _differences(read_checkpoint(out / 'checkpoint.pt'), read_checkpoint(reference / 'checkpoint.pt'))
    assert not differences, differences[:10]  # weights, optimiser, replay buffer, normaliser, RNG states, counters

    # 4. --fresh keeps that run (moved aside) and starts over.
    assert main(['--episodes', '1', '--fresh', *common[2:]]) == 0
    old = _untimed(tmp_path / 'demo.old-1' / 'episodes.csv')
    assert old == expected
    assert [int(r['episode']) for r in rows()] == [1]
