import csv
import json

import pytest

from sarl_ros.bench.cli import main
from sarl_ros.bench.harness import BenchConfig, run_benchmark
from sarl_ros.bench.tasks import available_tasks, resolve_tasks


def test_resolve_tasks_groups_and_errors():
    assert resolve_tasks('toy') == ['toy_chain', 'toy_decoy', 'toy_noisy']
    assert resolve_tasks('toy_decoy,toy,toy_decoy')[0] == 'toy_decoy'
    with pytest.raises(ValueError, match='toy_chain'):
        resolve_tasks('no_such_task')
    assert all(t.group in ('toy', 'suite', 'held_out', 'libero10') for t in available_tasks().values())


def test_benchmark_writes_table_summary_and_plot(tmp_path):
    config = BenchConfig(methods=['sarl', 'random'], tasks=['toy_decoy'], seeds=[0, 1], episodes=4, eval_every=2,
                         eval_episodes=2, updates_per_step=2, encoder='hashing')
    lines = []
    document = run_benchmark(config, tmp_path, progress=lines.append)
    with (tmp_path / 'results.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 3  # methods x seeds x evaluation points (0, 2, 4)
    assert {r['episodes'] for r in rows} == {'0', '2', '4'}
    assert all(0.0 <= float(r['eval_success']) <= 1.0 for r in rows)
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['final'] == document['final'] and len(saved['final']) == 2
    assert {s['seeds'] for s in saved['summary']} == {2}
    assert (tmp_path / 'learning_curves.png').read_bytes()[:4] == b'\x89PNG'
    assert any('eval success' in line for line in lines)


def test_cli_runs_in_parallel_processes_with_a_proposal_cache(tmp_path, capsys):
    code = main(['--tasks', 'toy_chain', '--methods', 'icl,ucb', '--seeds', '2', '--episodes', '3', '--eval-every', '3',
                 '--eval-episodes', '1', '--jobs', '2', '--encoder', 'hashing', '--cache-option', 'max_reuses=3',
                 '--out', str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert 'run 4/4 done' in out and 'final greedy success' in out
    rows = list(csv.DictReader((tmp_path / 'results.csv').open()))
    assert len(rows) == 2 * 2 * 2
    final = [r for r in rows if r['episodes'] == '3']
    assert all(int(r['vlm_calls']) < int(r['proposer_calls']) for r in final)


def test_cli_refuses_unknown_methods(capsys):
    assert main(['--methods', 'sarl,dsrl', '--tasks', 'toy']) == 2
    assert 'dsrl' in capsys.readouterr().err
