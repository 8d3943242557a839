"""The one run driver: order, numbers and seeds of a run's episodes, resuming, and the episodes.csv schema."""
import csv

import pytest

from sarl_ros.core.config import config_class
from sarl_ros.core.episode_loop import episode_seed
from sarl_ros.core.methods import make_policy
from sarl_ros.core.online_run import (EPISODE_FIELDS, OnlineRun, RunConfig, RunRecord, episode_number,
                                      resume_position, run_default)
from sarl_ros.harness.toy_mdps import make_toy_env, make_toy_proposer


class SeedLog:
    """A toy env that notes the reset seed of every episode."""

    def __init__(self, env):
        self.env, self.seeds = env, []
        self.task, self.max_decisions = env.task, env.max_decisions

    def reset(self, seed=None):
        self.seeds.append(seed)
        return self.env.reset(seed)

    def step(self, prompt):
        return self.env.step(prompt)


class FirstCandidate:
    """A scripted demonstrator: always the first candidate."""

    def choose(self, observation, candidates, task):
        return candidates[0].prompt


def _driver(tmp_path, episodes=3, demonstrations=2, seed=4, start=0, **hooks):
    env = SeedLog(make_toy_env('toy_chain'))
    driver = OnlineRun(RunConfig(task='toy_chain', episodes=episodes, seed=seed), env, make_policy('random', seed=1),
                       proposer=make_toy_proposer('toy_chain'), record=RunRecord(tmp_path / 'episodes.csv'),
                       demonstrations=demonstrations, demonstrator=FirstCandidate(), start=start, **hooks)
    return driver, env


def test_the_seeds_are_the_benchmarks_pre_registered_ones():
    # Online episode e (from 1): seed * 100_000 + e - 1; demonstration i (episode -1 - i): seed * 100_000 + 90_000 + i.
    assert [episode_seed(3, e) for e in (1, 2, 12)] == [300_000, 300_001, 300_011]
    assert [episode_seed(3, e) for e in (-1, -2, -3)] == [390_000, 390_001, 390_002]
    assert episode_seed(0, 1) == 0
    with pytest.raises(ValueError, match='episode 0'):
        episode_seed(3, 0)
    assert [episode_number(k, 2) for k in range(5)] == [-1, -2, 1, 2, 3]


def test_demonstrations_come_first_numbered_down_then_online_episodes_each_one_row(tmp_path):
    driver, env = _driver(tmp_path)
    ran = driver.run()
    assert [episode for episode, _ in ran] == [-1, -2, 1, 2, 3]
    assert env.seeds == [490_000, 490_001, 400_000, 400_001, 400_002]
    with (tmp_path / 'episodes.csv').open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == EPISODE_FIELDS
        rows = list(reader)
    assert [int(r['episode']) for r in rows] == [-1, -2, 1, 2, 3]
    assert [r['chooser'] for r in rows] == ['person', 'person', 'policy', 'policy', 'policy']
    assert [int(r['seed']) for r in rows] == env.seeds
    for row, (_, result) in zip(rows, ran):
        assert (int(row['success']), int(row['decisions']), row['prompts']) == (
            int(result.success), result.decisions, ' | '.join(result.prompts))
        assert row['outcome'] in ('success', 'failure', 'timeout') and row['task'] == 'toy_chain'
    assert driver.next_episode is None


def test_a_stopped_run_resumes_at_the_next_position_with_the_same_numbers_and_seeds(tmp_path):
    stop_at = 2  # stopped before online episode 2
    driver, env = _driver(tmp_path, before_episode=lambda episode: episode != stop_at)
    assert [episode for episode, _ in driver.run()] == [-1, -2, 1]
    record = RunRecord(tmp_path / 'episodes.csv')
    start = resume_position(record)
    assert start == 3
    again, env_again = _driver(tmp_path, start=start)
    assert again.next_episode == 2
    assert [episode for episode, _ in again.run()] == [2, 3]
    assert env.seeds + env_again.seeds == [490_000, 490_001, 400_000, 400_001, 400_002]
    assert [r['episode'] for r in record.rows()] == [-1, -2, 1, 2, 3]


def test_the_checkpoint_is_the_authority_rows_after_it_are_dropped(tmp_path):
    driver, _ = _driver(tmp_path)
    driver.run()
    record = RunRecord(tmp_path / 'episodes.csv')
    # The learner's checkpoint holds the two demonstrations and online episode 1 only.
    assert resume_position(record, checkpoint_episodes=3) == 3
    assert [r['episode'] for r in record.rows()] == [-1, -2, 1]
    assert resume_position(record, checkpoint_episodes=0) == 0 and record.rows() == []


def test_hooks_fill_the_row_before_it_is_written_and_see_it_after(tmp_path):
    seen = []

    def on_end(episode, result, row):
        row['decided_by'] = 'detector'
        assert not any(r['episode'] == episode for r in RunRecord(tmp_path / 'episodes.csv').rows())

    def on_recorded(episode, result, row):
        seen.append(RunRecord(tmp_path / 'episodes.csv').rows()[-1])

    driver, _ = _driver(tmp_path, episodes=2, demonstrations=0, on_end=on_end, on_recorded=on_recorded)
    driver.run()
    assert [(r['episode'], r['decided_by']) for r in seen] == [(1, 'detector'), (2, 'detector')]


def test_an_older_record_keeps_its_columns_and_a_verdict_is_corrected_in_place(tmp_path):
    path = tmp_path / 'episodes.csv'
    path.write_text('episode,task,success,decisions,prompts,seconds,outcome,decided_by\n'
                    '1,t,0,2,a | b,0.5,failure,detector\n')
    driver, _ = _driver(tmp_path, episodes=2, demonstrations=0, start=1)
    driver.run()
    with path.open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ['episode', 'task', 'success', 'decisions', 'prompts', 'seconds', 'outcome',
                                     'decided_by']
        assert [int(r['episode']) for r in reader] == [1, 2]
    record = RunRecord(path)
    before = record.rows()[-1]
    was = record.correct_last(2, success=before['success'] != '1')
    after = record.rows()[-1]
    assert was == before['outcome']
    assert after['success'] != before['success'] and after['decided_by'] == 'person (corrected)'
    with pytest.raises(ValueError, match='not episode 1'):
        record.correct_last(1, True)


def test_run_config_is_registered_and_its_defaults_are_the_runners_defaults():
    from sarl_ros.apps.demo import DEMO_TASK, parse_args
    from sarl_ros.harness.harness import BenchConfig

    assert config_class('run', 'online') is RunConfig
    defaults = RunConfig()
    demo = parse_args([]).run
    # The demo's one own default: it shows the paper's example task, not the graph's quicker default.
    assert (demo.task, demo.episodes, demo.seed, demo.max_candidates) == (
        DEMO_TASK, defaults.episodes, defaults.seed, defaults.max_candidates)
    assert DEMO_TASK != defaults.task
    bench = BenchConfig(methods=['sarl'], tasks=['toy_chain'], seeds=[0])
    assert (bench.episodes, bench.max_candidates, bench.encoder) == (
        defaults.episodes, defaults.max_candidates, defaults.encoder)
    assert run_default('episodes') == defaults.episodes
    with pytest.raises(ValueError, match='reset'):
        RunConfig(reset='sometimes')
    with pytest.raises(ValueError):
        OnlineRun(defaults, None, None, proposer=object(), demonstrations=2)  # demonstrations need a demonstrator


def test_a_demonstration_has_its_own_proposer_stream_and_online_streams_are_unchanged():
    import zlib

    import numpy as np

    from sarl_ros.core.episode_loop import episode_stream_seed

    # Online episodes keep the seeds the graph's proposer node and the demo always drew.
    tag = zlib.crc32(b'proposer')
    assert episode_stream_seed(3, 2, 'proposer') == int(np.random.SeedSequence([3, 2, tag]).generate_state(1)[0])
    seeds = {episode_stream_seed(3, e, 'proposer') for e in (-2, -1, 1, 2)}
    assert len(seeds) == 4
