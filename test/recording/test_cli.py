"""sarl-replay: every subcommand on a recorded run, and the errors users see."""
import subprocess
import sys
from pathlib import Path

import pytest
from recording_helpers import synthetic_run, write_bag

from sarl_ros import names
from sarl_ros.recording.bag.writer import BagWriter
from sarl_ros.recording.cli import main
from sarl_ros.recording.bag.message_types import TOPIC_TYPES
from sarl_ros.recording.reader import read_recording

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    run = synthetic_run(episodes=8, seed=9)
    path = tmp_path_factory.mktemp('cli') / 'run' / 'bag'
    write_bag(path, run)
    return run, path


def test_summary_lists_every_episode(bag, capsys):
    run, path = bag
    assert main(['summary', str(path)]) == 0
    out = capsys.readouterr().out
    for number, (outcome, chosen) in enumerate(zip(run.outcomes, run.chosen), start=1):
        assert any(line.split()[:2] == [str(number), outcome] and line.endswith(' | '.join(chosen))
                   for line in out.splitlines()), (number, out)
    wins = run.outcomes.count('success')
    assert f'8 episodes, {wins}/8 succeeded' in out


def test_plot_and_export_default_beside_the_bag(bag, capsys):
    _, path = bag
    assert main(['plot', str(path)]) == 0
    assert sorted(p.name for p in (path.parent / 'plots').iterdir()) == sorted(
        ['success_rate.png', 'prompt_usage.png', 'q_values.png', 'prompt_phases.png'])
    assert main(['export', str(path)]) == 0
    assert '(8 rows)' in capsys.readouterr().out
    assert (path.parent / 'csv' / 'transitions.csv').exists()


def test_retrain_reports_the_evaluation(bag, tmp_path, capsys):
    pytest.importorskip('sarl_ros.core.durability.checkpoint', reason='the core learner is not in this checkout yet')
    _, path = bag
    out_file = tmp_path / 'ckpt' / 'sarl.pt'
    assert main(['retrain', str(path), '-o', str(out_file), '--encoder', 'hashing', '--threads', '1',
                 '--updates-per-decision', '2']) == 0
    captured = capsys.readouterr()
    assert out_file.exists()
    assert 'greedy choice = logged choice' in captured.out and f'warm_start:={out_file}' in captured.out
    assert '8/8 episodes replayed' in captured.err


def test_repair_makes_a_killed_recording_complete(tmp_path, capsys):
    run = synthetic_run(episodes=3, seed=1)
    writer = write_bag(tmp_path / 'bag', run, close=False)
    assert main(['repair', str(tmp_path / 'bag')]) == 0
    writer.close()
    assert 'did not close the bag' in capsys.readouterr().err
    repaired = read_recording(tmp_path / 'bag_repaired')
    assert repaired.problems == [] and not repaired.recovered
    assert [e.outcome for e in repaired.episodes] == run.outcomes


def test_missing_bag_is_one_clear_line(tmp_path, capsys):
    assert main(['summary', str(tmp_path / 'nope')]) == 2
    assert capsys.readouterr().err.strip() == f'sarl-replay: error: {tmp_path / "nope"} does not exist'


def test_bag_without_sarl_topics_warns_and_fails(tmp_path, capsys):
    with BagWriter(tmp_path / 'bag') as writer:
        writer.add_topic(names.TOPIC_CAMERA, TOPIC_TYPES[names.TOPIC_CAMERA], reliable=False)
    assert main(['plot', str(tmp_path / 'bag')]) == 1
    err = capsys.readouterr().err
    assert 'warning' in err and 'no SARL topics in this bag' in err
    assert 'error: no SARL episodes in the given bag(s)' in err


def test_module_runs_as_a_program():
    out = subprocess.run([sys.executable, '-m', 'sarl_ros.recording.cli', '--help'], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ('summary', 'plot', 'export', 'retrain', 'play', 'repair'):
        assert command in out.stdout


def test_offline_analysis_needs_no_ros(bag, tmp_path):
    _, path = bag
    # rclpy and the generated interfaces made unimportable: reading, plotting and exporting still work.
    script = (
        'import sys\n'
        'for name in ("rclpy", "sarl_ros.msg", "sarl_ros.srv", "sarl_ros.action", "sensor_msgs", "std_msgs"):\n'
        '    sys.modules[name] = None\n'
        'from sarl_ros.recording.cli import main\n'
        f'codes = [main(["summary", {str(path)!r}]), main(["plot", {str(path)!r}, "-o", {str(tmp_path)!r}]),\n'
        f'         main(["export", {str(path)!r}, "-o", {str(tmp_path)!r}])]\n'
        'assert "rclpy" not in [m for m in sys.modules if sys.modules[m] is not None]\n'
        'raise SystemExit(max(codes))\n')
    out = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / 'success_rate.png').exists() and (tmp_path / 'episodes.csv').exists()
