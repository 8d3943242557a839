"""sarl-demo's learner flags are generated from SarlConfig and change only what is given."""
import pytest

from sarl_ros.apps.demo import LEARNER_FLAGS, learner_options, parse_args
from sarl_ros.core.sarl.config import SarlConfig


def test_the_learner_flags_are_sarl_config_fields_with_their_help(capsys):
    with pytest.raises(SystemExit):
        parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())  # argparse wraps the help lines
    for spec in SarlConfig.settings():
        if spec.name in LEARNER_FLAGS:
            assert f'--{spec.name.replace("_", "-")} {spec.kind.__name__.upper()}' in text
            assert f'{spec.describe()} (default: {spec.default})' in text


def test_only_given_flags_become_options_and_a_variant_keeps_its_own():
    assert learner_options(parse_args([]), 'sarl_nodemo') == {}
    args = parse_args(['--temperature', '0.5', '--demonstrations', '1', '--pool-capacity', '8'])
    assert learner_options(args, 'sarl') == {'temperature': 0.5, 'demonstrations': 1, 'pool_capacity': 8}
    assert learner_options(parse_args(['--temperature', '0.5']), 'icl') == {'temperature': 0.5}


def test_a_flag_the_method_does_not_take_or_out_of_range_is_refused():
    with pytest.raises(ValueError, match='method icl does not take --demonstrations'):
        learner_options(parse_args(['--demonstrations', '2']), 'icl')
    with pytest.raises(SystemExit):
        parse_args(['--pool-capacity', '1'])  # SarlConfig: at least 2
    with pytest.raises(SystemExit):
        parse_args(['--demonstrations', '-2'])  # -1: the method's own; below it nothing
