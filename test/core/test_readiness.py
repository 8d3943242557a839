"""Readiness before the first call: one line per node waited for, one overall deadline, the missing ones named."""
import pytest

from sarl_ros.core.readiness import Dependency, NotReady, wait_until_ready
from sarl_ros.names import ACTION_EXECUTE, EPISODE_MANAGER_NEEDS, SRV_SELECT

NEEDS = [Dependency(node, endpoints) for node, endpoints in EPISODE_MANAGER_NEEDS]


class FakeClock:
    """Time that passes only when the waiter sleeps; endpoints come up at given times."""

    def __init__(self, up_at):
        self.now, self.up_at = 0.0, up_at

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def is_ready(self, endpoint):
        return self.now >= self.up_at.get(endpoint, 0.0)


def test_waits_for_a_slow_node_with_one_line_for_it_and_none_for_the_ready_ones():
    clock = FakeClock({SRV_SELECT: 4.0, ACTION_EXECUTE: 1.0})
    lines = []
    waited = wait_until_ready(NEEDS, clock.is_ready, 120.0, lines.append, clock=clock.time, sleep=clock.sleep)
    assert lines == ['waiting for vla_executor (/sarl/execute_prompt)',
                     'waiting for q_policy (/sarl/select_prompt)',
                     'vla_executor ready after 1.0 s',
                     'q_policy ready after 4.0 s']
    assert waited['vlm_proposer'] == 0.0 and waited['q_policy'] == pytest.approx(4.0, abs=0.06)
    assert clock.now == pytest.approx(4.0, abs=0.06)  # no longer than the slowest


def test_the_deadline_names_every_node_still_missing_and_how_to_give_more_time():
    clock = FakeClock({SRV_SELECT: 1e9, '/sarl/evaluate_episode': 1e9, ACTION_EXECUTE: 2.0})
    with pytest.raises(NotReady) as missing:
        wait_until_ready(NEEDS, clock.is_ready, 30.0, lambda line: None, clock=clock.time, sleep=clock.sleep,
                         deadline_hint='more time: ready_timeout_s')
    assert str(missing.value) == ('not ready after 30 s: q_policy (/sarl/select_prompt not available); '
                                  'reward (/sarl/evaluate_episode not available); more time: ready_timeout_s')
    assert set(missing.value.missing) == {'q_policy', 'reward'}
    assert clock.now == pytest.approx(30.0, abs=0.06)


def test_a_stop_ends_the_wait_at_once():
    clock = FakeClock({SRV_SELECT: 1e9})
    with pytest.raises(NotReady, match='^stopped while waiting for q_policy$'):
        wait_until_ready(NEEDS, clock.is_ready, 120.0, lambda line: None, should_stop=lambda: clock.now > 1.0,
                         clock=clock.time, sleep=clock.sleep)
    assert clock.now < 1.2
