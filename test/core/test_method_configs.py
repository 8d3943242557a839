"""Every method is built from one registered config; its options are that config's fields."""
import inspect

import pytest

from sarl_ros.core.baselines.action_rl import DsrlConfig, ResidualConfig
from sarl_ros.core.baselines.sarl_text import SarlPolicy, SarlTextConfig
from sarl_ros.core.baselines.simple import IclConfig
from sarl_ros.core.baselines.td_learner import LearnerConfig
from sarl_ros.core.config import config_class, registered
from sarl_ros.core.methods import (BENCH_METHODS, METHOD_FACTORIES, make_policy, make_policy_from_config,
                                   method_config, method_defaults)
from sarl_ros.core.policy import Policy
from sarl_ros.core.sarl.config import SARL_VARIANTS, SarlConfig


@pytest.mark.parametrize('method', BENCH_METHODS)
def test_every_method_has_a_registered_config_and_its_defaults_are_the_fields(method):
    if method in SARL_VARIANTS:
        expected = SARL_VARIANTS[method]
        assert type(expected) is config_class('method', 'sarl')
    else:
        cls = config_class('method', method)
        assert cls is METHOD_FACTORIES[method].config_class
        expected = cls()
    assert method_defaults(method) == expected.as_dict()
    assert set(method_defaults(method)) == {spec.name for spec in type(expected).settings()}


def test_registry_holds_the_baselines_and_sarl():
    assert {'sarl', 'sarl_text', 'fixed', 'random', 'icl', 'ucb', 'dsrl', 'residual'} <= set(registered('method'))


def test_a_policy_built_from_a_config_decides_as_one_built_by_name():
    from sarl_ros.harness.toy_mdps import make_toy_env, make_toy_proposer
    from sarl_ros.core.episode_loop import run_episode

    def trace(policy):
        env, proposer = make_toy_env('toy_chain', 0), make_toy_proposer('toy_chain', 0)
        return [run_episode(env, proposer, policy, seed=i, updates_per_decision=2).prompts for i in range(3)]

    by_name = make_policy('icl', seed=5, encoder='hashing', retry_penalty=3.0)
    by_config = make_policy_from_config(IclConfig(retry_penalty=3.0), seed=5, encoder='hashing')
    assert by_config.config == by_name.config and by_config.kwargs == by_name.kwargs
    assert trace(by_config) == trace(by_name)
    sarl = make_policy_from_config(SarlConfig(ensemble=2), method='sarl_blind', seed=0)
    assert sarl.name == 'sarl_blind' and sarl.config.ensemble == 2


def test_options_are_checked_against_the_fields_type_and_range():
    with pytest.raises(ValueError, match='memory_size=0 is below its minimum 1'):
        make_policy('icl', memory_size=0)
    with pytest.raises(ValueError, match='exploration must be a float'):
        make_policy('ucb', exploration='lots')
    with pytest.raises(ValueError, match="method 'fixed' does not take lr"):
        make_policy('fixed', lr=0.1)
    with pytest.raises(ValueError, match='not built from a IclConfig'):
        make_policy_from_config(IclConfig(), method='ucb')
    with pytest.raises(ValueError, match='SARL variants'):
        make_policy_from_config(SarlConfig(), method='icl')


def test_sarl_text_declares_the_td_learners_settings_once():
    learner_fields = {spec.name for spec in LearnerConfig.settings()}
    assert learner_fields <= {spec.name for spec in SarlTextConfig.settings()}
    assert issubclass(SarlTextConfig, LearnerConfig)
    # The constructor takes the config, not the settings again.
    assert set(inspect.signature(SarlPolicy.__init__).parameters) == {'self', 'config', 'seed', 'encoder'}
    policy = make_policy('sarl_text', encoder='hashing', lr=0.01, hidden=[32])
    assert policy.learner.config.lr == 0.01 and policy.learner.config.hidden == (32,)


def test_the_base_policy_declares_no_default_temperature_or_gamma():
    params = inspect.signature(Policy.__init__).parameters
    assert params['temperature'].default is inspect.Parameter.empty
    assert params['gamma'].default is inspect.Parameter.empty


def test_sac_settings_are_a_nested_config_changed_by_a_mapping():
    config = method_config('dsrl', sac={'batch_size': 16})
    assert config.sac.batch_size == 16
    assert config.sac.learning_starts == DsrlConfig().sac.learning_starts == 32  # the method's default, not SAC's
    assert method_config('dsrl', **config.as_dict()) == config  # as_dict round-trips (checkpoints)
    with pytest.raises(ValueError, match='has no option batch'):
        method_config('residual', sac={'batch': 16})
    with pytest.raises(ValueError, match='bounds must be 7 positive values'):
        ResidualConfig(bounds=(0.1,))
