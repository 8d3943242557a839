"""The action-space table reports what the rows hold: mean ± s.e. over seeds, online success, gaps as 'not run'."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'action_space_table.py'


@pytest.fixture(scope='module')
def table_script():
    spec = importlib.util.spec_from_file_location('action_space_table', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(method, task, seed, episodes, greedy, online):
    return {'method': method, 'task': task, 'seed': seed, 'episodes': episodes, 'eval_success': greedy,
            'online_success_cumulative': online}


def test_cells_average_over_seeds_and_mark_missing_budgets(table_script):
    rows = [row('dsrl', 't', 0, 100, 0.2, 0.5), row('dsrl', 't', 1, 100, 0.4, 0.3),
            row('residual', 't', 0, 100, 0.1, float('nan')), row('dsrl', 't', 0, 300, 0.6, 0.45)]
    text = table_script.table({'rows': rows}, None)
    line = next(s for s in text.splitlines() if s.startswith('| t |'))
    cells = [c.strip() for c in line.strip('|').split('|')]
    # columns: task, fixed, SARL, SARL same seeds, dsrl@100, residual@100, dsrl@300, residual@300
    assert cells[4] == '0.30 ± 0.10 (n=2) [0.40]'
    assert cells[5] == '0.10 (n=1)'
    assert cells[6] == '0.60 (n=1) [0.45]'
    assert cells[7] == 'not run'


def test_a_missing_results_file_is_a_one_line_usage_error(table_script, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        table_script.main([str(tmp_path / 'missing.json')])
    assert stopped.value.code == 2
    assert 'is not a file' in capsys.readouterr().err


def test_sarl_columns_come_from_the_same_seeds(table_script, tmp_path):
    ours = tmp_path / 'ours.json'
    ours.write_text(json.dumps({'rows': [row('dsrl', 't', 1, 100, 0.0, 0.0)]}))
    sarl = {'rows': [row('sarl', 't', 0, 100, 1.0, 0.9), row('sarl', 't', 1, 100, 0.5, 0.4),
                     row('fixed', 't', 0, 0, 0.0, float('nan')), row('fixed', 't', 1, 0, 0.2, float('nan'))]}
    text = table_script.table(json.loads(ours.read_text()), sarl)
    cells = [c.strip() for c in next(s for s in text.splitlines() if s.startswith('| t |')).strip('|').split('|')]
    assert cells[1] == '0.10 ± 0.10 (n=2)'
    assert cells[2] == '0.75 ± 0.25 (n=2) [0.65]'
    assert cells[3] == '0.50 (n=1) [0.40]'
