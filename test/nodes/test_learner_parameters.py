"""Every learner schedule value is a Q-policy node parameter, and event kinds have one definition."""
import pytest
from params import overrides

from sarl_ros.core.events import EventKind
from sarl_ros.core.methods import method_defaults
from sarl_ros.msg import EpisodeEvent
from sarl_ros.nodes.policy_node import PARAMS, PolicyNode


def test_schedule_defaults_come_from_the_learner():
    defaults = {p.name: p.default for p in PARAMS}
    sarl = method_defaults('sarl')
    for name in ('temperature', 'temperature_final', 'temperature_halflife', 'gamma'):
        assert defaults[name] == sarl[name], name


def test_schedule_parameters_reach_the_learner(ros, tmp_path):
    node = ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path), temperature=0.5,
                                          temperature_final=0.05, temperature_halflife=3.0, gamma=0.8)))
    schedule = node.policy.schedule
    assert (schedule.initial, schedule.final, schedule.halflife) == (0.5, 0.05, 3.0)
    assert node.policy.gamma == 0.8
    assert schedule(3) == pytest.approx(0.05 + 0.45 * 0.5)


def test_a_baseline_ignores_the_learner_schedule(ros, tmp_path):
    node = ros.add(PolicyNode(**overrides(method='random', encoder='hashing', output_dir=str(tmp_path),
                                          temperature_final=0.05)))
    assert node.policy.name == 'random'


def test_event_kinds_equal_the_message_constants():
    assert {kind.name: kind.value for kind in EventKind} == {
        name: getattr(EpisodeEvent, name) for name in dir(EpisodeEvent)
        if name.isupper() and isinstance(getattr(EpisodeEvent, name), int)}
