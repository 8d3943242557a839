"""Nothing acknowledged is lost: the write-ahead log, durable policy, and resuming a run's record."""
import csv

import numpy as np
import pytest
from core_helpers import transition

from sarl_ros.core.durability.durable import DurablePolicy
from sarl_ros.core.methods import make_policy
from sarl_ros.core.durability.resume import finished_episodes, next_episode, set_aside, trim_record
from sarl_ros.core.durability.wal import TransitionLog, WalError, read_transitions


def _transitions(n, seed=0):
    rng = np.random.default_rng(seed)
    return [transition(state=rng.normal(size=4), next_state=rng.normal(size=4), prompt=f'prompt {i % 3}',
                       next_prompts=(f'prompt {(i + 1) % 3}', 'the task'), reward=float(i % 2), episode=1 + i // 4,
                       step=i % 4, control_steps=3) for i in range(n)]


def _same(a, b):
    return (np.array_equal(a.state, b.state) and np.array_equal(a.next_state, b.next_state) and a.prompt == b.prompt
            and a.reward == b.reward and a.next_prompts == b.next_prompts and a.terminal == b.terminal
            and (a.episode, a.step, a.control_steps) == (b.episode, b.step, b.control_steps))


def test_log_round_trips_exactly_and_survives_reopening(tmp_path):
    written = _transitions(5)
    log = TransitionLog(tmp_path / 'x.wal', sync='flush')
    for i, t in enumerate(written, 1):
        assert log.append(t) == i
    # No close(): a killed process never gets to it; flushed records are in the file.
    back = read_transitions(tmp_path / 'x.wal')
    assert len(back) == 5 and all(_same(a, b) for a, b in zip(written, back))
    assert len(TransitionLog(tmp_path / 'x.wal')) == 5


@pytest.mark.parametrize('damage', ['torn', 'corrupt'])
def test_a_torn_or_corrupt_tail_is_dropped_and_written_over(tmp_path, damage):
    path = tmp_path / 'x.wal'
    log = TransitionLog(path)
    for t in _transitions(3):
        log.append(t)
    log.close()
    data = bytearray(path.read_bytes())
    if damage == 'torn':
        data = data[:-7]  # the last record was being written when the process died
    else:
        data[-3] ^= 0xFF  # a flipped byte fails the checksum
    path.write_bytes(bytes(data))
    assert len(read_transitions(path)) == 2
    log = TransitionLog(path)
    assert len(log) == 2
    extra = _transitions(1, seed=9)[0]
    log.append(extra)
    back = read_transitions(path)
    assert len(back) == 3 and _same(back[2], extra)


def test_a_checkpoint_newer_than_its_log_is_refused(tmp_path):
    log = TransitionLog(tmp_path / 'x.wal')
    log.append(_transitions(1)[0])
    with pytest.raises(WalError, match='different runs'):
        list(log.records_after(2))


def _fresh():
    return make_policy('sarl', seed=3, encoder='hashing', batch_size=8)


def test_killed_between_checkpoints_the_policy_comes_back_with_every_acknowledged_transition(tmp_path):
    ckpt, wal = tmp_path / 'ck' / 'sarl.pt', tmp_path / 'ck' / 'sarl.wal'
    data = _transitions(10)
    durable = DurablePolicy.open(ckpt, wal, _fresh)
    assert durable.report.source == 'fresh'
    for t in data[:4]:
        durable.record(t)
    durable.policy.end_episode(False)
    durable.checkpoint()
    for t in data[4:]:
        durable.record(t)  # acknowledged, not yet in any checkpoint
    del durable  # the kill: no close(), no checkpoint

    resumed = DurablePolicy.open(ckpt, wal, _fresh)
    assert (resumed.report.source, resumed.report.episodes, resumed.report.replayed) == ('resumed', 1, 6)
    assert resumed.policy.transitions == 10
    uninterrupted = _fresh()
    for t in data[:4]:
        uninterrupted.record(t)
    uninterrupted.end_episode(False)
    for t in data[4:]:
        uninterrupted.record(t)
    got, want = resumed.policy.learner.replay, uninterrupted.learner.replay
    assert len(got) == len(want) == 10
    for name in ('states', 'next_states', 'prompt_ids', 'rewards', 'terminal', 'control_steps', 'next_ids'):
        np.testing.assert_array_equal(getattr(got, name)[:10], getattr(want, name)[:10])
    assert resumed.policy.current_temperature == uninterrupted.current_temperature


def test_a_refused_transition_is_not_logged(tmp_path):
    durable = DurablePolicy.open(tmp_path / 'c.pt', tmp_path / 'c.wal', _fresh)
    durable.record(_transitions(1)[0])
    with pytest.raises(ValueError):
        durable.record(transition(state=(np.nan, 0.0, 0.0, 0.0), next_state=(0.0, 0.0, 0.0, 0.0)))
    assert len(durable.log) == 1 and len(read_transitions(tmp_path / 'c.wal')) == 1


def _write_record(path, episodes, torn=''):
    with path.open('w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['episode', 'success'])
        for e in episodes:
            writer.writerow([e, e % 2])
        f.write(torn)


def test_the_record_gives_the_next_episode_and_loses_a_torn_row(tmp_path):
    path = tmp_path / 'episodes.csv'
    assert next_episode(path) == 1
    _write_record(path, [1, 2, 3], torn='4,')
    assert next_episode(path) == 4
    assert path.read_bytes().endswith(b'3,1\r\n')  # the torn row is gone; appending stays valid
    assert [r['episode'] for r in finished_episodes(path)] == [1, 2, 3]
    trim_record(path, 2)
    assert [r['episode'] for r in finished_episodes(path)] == [1, 2]


def test_set_aside_never_overwrites_an_older_run(tmp_path):
    run = tmp_path / 'run'
    assert set_aside(run) is None
    for expected in ('run.old-1', 'run.old-2'):
        run.mkdir()
        (run / 'marker').write_text(expected)
        assert set_aside(run).name == expected
        assert not run.exists() and (tmp_path / expected / 'marker').read_text() == expected
