"""sarl-bench's --sarl-option: keys and values are SarlConfig's, checked before any run and listed in --help."""
import pytest

from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.harness import cli
from sarl_ros.harness.harness import BenchConfig


def test_every_sarl_option_is_listed_in_the_help():
    text = cli.build_parser().format_help()
    for spec in SarlConfig.settings():
        assert f'  {spec.name} ({spec.kind.__name__}, default {spec.default})' in text


@pytest.mark.parametrize('option, message', [
    ('temprature=0.1', 'sarl has no option temprature'),
    ('ensemble=0', 'ensemble=0 is below its minimum 1'),
    ('prompt_input=words', 'choose one of one_hot, text'),
    ('temperature_final=0.5', 'temperature_final 0.5 exceeds temperature 0.2'),
])
def test_a_bad_sarl_option_stops_before_any_run(option, message, tmp_path, capsys, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError('a benchmark ran with a bad option')

    monkeypatch.setattr(cli, 'run_benchmark', no_run)
    assert cli.main(['--methods', 'sarl', '--tasks', 'toy', '--sarl-option', option, '--out', str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_good_sarl_options_reach_the_benchmark_as_given(tmp_path, monkeypatch):
    seen = {}

    def record(config, out_dir, progress):
        seen['config'] = config
        return {'final': []}

    monkeypatch.setattr(cli, 'run_benchmark', record)
    assert cli.main(['--methods', 'sarl', '--tasks', 'toy', '--sarl-option', 'lr=0.001',
                     '--sarl-option', 'ensemble=2', '--out', str(tmp_path)]) == 0
    assert seen['config'].sarl_options == {'lr': 0.001, 'ensemble': 2}


def test_run_flags_default_to_the_run_config():
    args = cli.build_parser().parse_args([])
    for name in ('episodes', 'eval_every', 'eval_episodes', 'max_candidates', 'updates_per_decision', 'encoder',
                 'jobs', 'reset', 'baseline_pool', 'pool_file'):
        assert getattr(args, name) == getattr(BenchConfig, name), name
