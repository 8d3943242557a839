import os

import pytest
import torch

from sarl_ros.harness.toy_mdps import make_toy_env, make_toy_proposer
from sarl_ros.core.durability.checkpoint import (FORMAT, CheckpointError, load_checkpoint, read_checkpoint,
                                                 save_checkpoint)
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.methods import METHODS, make_policy


def _play(policy, episodes, first_seed):
    env, proposer = make_toy_env('toy_chain', 0), make_toy_proposer('toy_chain', first_seed)
    trace = []
    for i in range(episodes):
        result = run_episode(env, proposer, policy, seed=first_seed + i, updates_per_decision=4)
        trace.append((result.prompts, [round(s['td_loss'], 12) for s in result.update_stats]))
    return trace


@pytest.mark.parametrize('method', METHODS)
def test_round_trip_gives_identical_decisions_and_updates(method, tmp_path):
    kwargs = {'lr': 5e-3, 'batch_size': 16} if method == 'sarl' else {}
    policy = make_policy(method, seed=4, encoder='hashing', **kwargs)
    _play(policy, 4, first_seed=0)
    path = save_checkpoint(policy, tmp_path / 'ckpt' / f'{method}.pt')
    assert [p.name for p in path.parent.iterdir()] == [f'{method}.pt']  # no temporary file left
    restored = load_checkpoint(path)
    assert restored.name == method and restored.kwargs == policy.kwargs
    assert (restored.episodes, restored.transitions, restored.updates) == \
        (policy.episodes, policy.transitions, policy.updates)
    assert _play(restored, 3, first_seed=100) == _play(policy, 3, first_seed=100)
    if method == 'sarl':
        for a, b in zip(policy.learner.net.state_dict().values(), restored.learner.net.state_dict().values()):
            assert torch.equal(a, b)
        assert len(restored.learner.replay) == len(policy.learner.replay) > 0


def test_missing_corrupt_and_foreign_checkpoints_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        load_checkpoint(tmp_path / 'nothing.pt')
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointError, match='corrupt'):
        load_checkpoint(corrupt)
    other = tmp_path / 'other.pt'
    torch.save({'weights': torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match='not a sarl_ros'):
        load_checkpoint(other)


def test_other_format_version_is_refused(tmp_path):
    path = save_checkpoint(make_policy('random'), tmp_path / 'r.pt')
    payload = read_checkpoint(path)
    payload['format_version'] = 999
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match='version 999'):
        load_checkpoint(path)
    assert payload['format'] == FORMAT


def test_truncated_file_is_refused(tmp_path):
    path = save_checkpoint(make_policy('sarl', encoder='hashing'), tmp_path / 's.pt')
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(make_policy('ucb'), tmp_path / 'u.pt')
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(make_policy('ucb', seed=9), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['u.pt']


def test_state_dict_is_a_snapshot_unaffected_by_later_learning(tmp_path):
    from core_helpers import transition

    policy = make_policy('sarl', encoder='hashing')
    policy.record(transition(reward=1.0, terminal=True, next_prompts=()))
    snapshot = policy.state_dict()
    frozen = {k: v.clone() for k, v in snapshot['method_state']['learner']['net'].items()}
    policy.update(5)
    for key, value in snapshot['method_state']['learner']['net'].items():
        assert torch.equal(value, frozen[key])
    assert not all(torch.equal(policy.learner.net.state_dict()[k], frozen[k]) for k in frozen)
