import csv
import json

import pytest

from sarl_ros.harness.cli import main
from sarl_ros.harness.harness import BenchConfig, run_benchmark
from sarl_ros.harness.task_table import available_tasks, resolve_tasks


def test_resolve_tasks_groups_and_errors():
    assert resolve_tasks('toy') == ['toy_chain', 'toy_decoy', 'toy_noisy']
    assert resolve_tasks('toy_decoy,toy,toy_decoy')[0] == 'toy_decoy'
    with pytest.raises(ValueError, match='toy_chain'):
        resolve_tasks('no_such_task')
    assert all(t.group in ('toy', 'paper', 'held_out_paper', 'suite', 'held_out', 'libero10')
               for t in available_tasks().values())


def test_benchmark_writes_table_summary_and_plot(tmp_path):
    config = BenchConfig(methods=['sarl', 'random'], tasks=['toy_decoy'], seeds=[0, 1], episodes=4, eval_every=2,
                         eval_episodes=2, updates_per_decision=2, encoder='hashing')
    lines = []
    document = run_benchmark(config, tmp_path, progress=lines.append)
    with (tmp_path / 'results.csv').open() as f:
        rows = list(csv.DictReader(f))
    # sarl: seeds x evaluation points (0, 2, 4); random learns nothing: evaluated once per seed.
    assert len(rows) == 2 * 3 + 2
    assert {r['episodes'] for r in rows if r['method'] == 'sarl'} == {'0', '2', '4'}
    assert {r['episodes'] for r in rows if r['method'] == 'random'} == {'4'}
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
    assert main(['--methods', 'sarl,ppo', '--tasks', 'toy']) == 2
    assert 'ppo' in capsys.readouterr().err


def test_action_space_methods_need_a_task_with_a_vla():
    from sarl_ros.harness.harness import Job, run_job
    config = BenchConfig(methods=['dsrl'], tasks=['toy_chain'], seeds=[0], episodes=1, eval_episodes=1)
    with pytest.raises(ValueError, match='dsrl steers the VLA'):
        run_job(Job('dsrl', 'toy_chain', 0, config), progress=None)


def _results_without_timing(out):
    return [{k: v for k, v in row.items() if k != 'seconds'} for row in csv.DictReader((out / 'results.csv').open())]


def test_a_rerun_resumes_finished_runs_and_refuses_another_configuration(tmp_path, capsys):
    args = ['--tasks', 'toy_chain', '--methods', 'random,fixed', '--seeds', '1', '--episodes', '2', '--eval-every', '2',
            '--eval-episodes', '1', '--encoder', 'hashing', '--out', str(tmp_path / 'b')]
    assert main(args) == 0
    first = _results_without_timing(tmp_path / 'b')
    # A killed benchmark: one run's result never written.
    (tmp_path / 'b' / 'runs' / 'toy_chain__fixed__seed0.json').unlink()
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert 'resuming: 1 done before' in out and 'run 1/1 done' in out
    assert _results_without_timing(tmp_path / 'b') == first  # the same runs (deterministic), nothing doubled

    assert main([*args[:-2], '--episodes', '4', '--out', str(tmp_path / 'b')]) == 2
    assert 'another configuration' in capsys.readouterr().err
    assert main([*args, '--fresh']) == 0
    assert _results_without_timing(tmp_path / 'b.old-1') == first


def test_explicit_evaluation_points_and_per_seed_evaluation_scenes(tmp_path, monkeypatch):
    from sarl_ros.harness import harness
    seen = []
    original = harness.run_job

    config = BenchConfig(methods=['icl'], tasks=['toy_chain'], seeds=[0, 1], episodes=4, eval_at=[0, 3],
                         eval_episodes=2, encoder='hashing')
    assert config.evaluation_points() == [0, 3, 4]
    with pytest.raises(ValueError, match='0..4'):
        BenchConfig(methods=['icl'], tasks=['toy_chain'], seeds=[0], episodes=4, eval_at=[5])

    import sarl_ros.core.episode_loop as loop
    real = loop.run_episode

    def spy(*args, **kw):
        if not kw.get('learn', True):
            seen.append(kw['seed'])
        return real(*args, **kw)

    monkeypatch.setattr(loop, 'run_episode', spy)
    rows = original(harness.Job('icl', 'toy_chain', 0, config), progress=None)
    rows += original(harness.Job('icl', 'toy_chain', 1, config), progress=None)
    assert [r['episodes'] for r in rows] == [0, 3, 4, 0, 3, 4]
    per_seed = [seen[:6], seen[6:]]
    assert per_seed[0][:2] == per_seed[0][2:4]  # the same scenes at every point of a run
    assert not set(per_seed[0]) & set(per_seed[1])  # other scenes for another seed


def test_each_method_gets_the_state_it_asks_for():
    pytest.importorskip('mujoco')
    task = available_tasks()['pot_lid_on_towel']
    assert task.group == 'paper'
    assert task.env_for(0, 'oracle').state_mode == 'oracle'
    assert task.env_for(0, 'observable').state_mode == 'observable'
    assert resolve_tasks('paper') == ['hammer_plate_mushroom', 'banana_pot_sushi_bowl', 'left_toy_largest_bowl',
                                      'pot_lid_on_towel']
    assert 'sushi_to_pot' in resolve_tasks('legacy')


def test_the_held_out_paper_group_resolves_with_a_state_choice():
    pytest.importorskip('mujoco')
    assert resolve_tasks('held_out_paper') == ['corn_pan_sponge', 'right_can_smallest_dish']
    tasks = available_tasks()
    assert all(tasks[n].group == 'held_out_paper' for n in resolve_tasks('held_out_paper'))
    assert not set(resolve_tasks('held_out_paper')) & set(resolve_tasks('paper') + resolve_tasks('legacy'))
    task = tasks['right_can_smallest_dish']
    assert task.env_for(0, 'oracle').state_mode == 'oracle'
    assert task.env_for(0, 'observable').state_mode == 'observable'
    assert type(task.make_proposer(0)).__name__ == 'PaperVLMProposer'


def test_a_method_that_learns_nothing_still_chooses_among_pooled_candidates(tmp_path):
    """random with a baseline pool: its evaluation fills the pool, so it is not the fixed prompt in disguise."""
    from sarl_ros.harness.harness import Job, run_job
    config = BenchConfig(methods=['random'], tasks=['toy_decoy'], seeds=[0], episodes=2, eval_episodes=6,
                         encoder='hashing', baseline_pool=32)
    decisions = []
    import sarl_ros.core.baselines.simple as baselines
    original = baselines.RandomPolicy._choose

    def spy(self, features, candidates, prompts, task, greedy):
        decisions.append(len(prompts))
        return original(self, features, candidates, prompts, task, greedy)

    baselines.RandomPolicy._choose = spy
    try:
        run_job(Job('random', 'toy_decoy', 0, config), progress=None)
    finally:
        baselines.RandomPolicy._choose = original
    assert decisions and max(decisions) > 1


def test_online_episodes_and_demonstrations_keep_the_pre_registered_seeds(monkeypatch):
    """The benchmark runs the one run driver: episode e (from 1) resets with seed * 100_000 + e - 1, demonstration i
    (episode -1 - i) with seed * 100_000 + 90_000 + i, evaluation with its own; the published results depend on them."""
    pytest.importorskip('mujoco', reason='demonstrations need a simulated task')
    from sarl_ros.core import episode_loop, online_run
    from sarl_ros.harness.harness import Job, run_job

    calls = []  # (episode, seed, greedy) of every episode the job runs, in order
    original = episode_loop.run_episode

    def spy(env, proposer, policy, **kw):
        calls.append((kw.get('episode', 0), kw['seed'], kw.get('greedy', False)))
        return original(env, proposer, policy, **kw)
    monkeypatch.setattr(online_run, 'run_episode', spy)
    monkeypatch.setattr(episode_loop, 'run_episode', spy)  # the evaluation's
    config = BenchConfig(methods=['sarl'], tasks=['hammer_plate_mushroom'], seeds=[3], episodes=2, eval_at=[0, 2],
                         eval_episodes=1, encoder='hashing', reset='paper_like', sarl_options={'demonstrations': 2})
    run_job(Job('sarl', 'hammer_plate_mushroom', 3, config), progress=None)
    assert calls == [(-1, 390_000, False), (-2, 390_001, False),  # demonstrations first
                     (0, 1_003_000, True),  # evaluation at 0 online episodes
                     (1, 300_000, False), (2, 300_001, False),
                     (0, 1_003_000, True)]  # at 2: the same evaluation scene
