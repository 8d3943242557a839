"""Every learner schedule value is a Q-policy node parameter, and event kinds have one definition."""
import pytest
from params import overrides

from sarl_ros.core.events import EventKind
from sarl_ros.core.methods import method_defaults
from sarl_ros.msg import EpisodeEvent
from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.node_configs import PolicyConfig
from sarl_ros.nodes.policy_node import PolicyNode


def test_schedule_defaults_come_from_the_learner():
    defaults = {spec.name: spec for spec in PolicyConfig.settings()}
    sarl = method_defaults('sarl')
    learner = {spec.name: spec for spec in SarlConfig.settings()}
    for name in ('temperature', 'temperature_final', 'temperature_halflife', 'gamma', 'pool_capacity'):
        assert defaults[name].default == sarl[name], name
        assert (defaults[name].low, defaults[name].high) == (learner[name].low, learner[name].high), name


def test_a_parameter_outside_the_learners_range_is_refused(ros, tmp_path):
    from sarl_ros.rosutil.params import ParameterError
    with pytest.raises(ParameterError, match=r'parameter q_policy.pool_capacity=1 is below its minimum 2'):
        PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path), pool_capacity=1))


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
