"""Registry, environment and ROS-stack contracts of the simulator (docs/contracts.md)."""
import numpy as np
import pytest

from sarl_ros.core.mdp import SOURCE_TASK, Observation
from sarl_ros.sim.privileged_features import FEATURE_DIM
from sarl_ros.sim.suite_vlm import mentioned_objects
from sarl_ros.sim.registry import (HELD_OUT_PAPER_TASKS, HELD_OUT_TASKS, PAPER_TASKS, SUITE_TASKS, env_factories,
                                   fixed_task_prompt, make_env, make_proposer, scripted_solution, task_spec)


def test_an_unknown_task_lists_the_available_ones():
    with pytest.raises(ValueError) as error:
        task_spec('fold the laundry')
    for name in SUITE_TASKS + HELD_OUT_TASKS:
        assert name in str(error.value)


def test_suite_and_held_out_tasks_are_distinct_and_complete():
    assert len(SUITE_TASKS) == 4 and len(HELD_OUT_TASKS) >= 2
    assert not set(SUITE_TASKS) & set(HELD_OUT_TASKS)
    assert set(env_factories()) == set(PAPER_TASKS + HELD_OUT_PAPER_TASKS + SUITE_TASKS + HELD_OUT_TASKS)
    for name in SUITE_TASKS + HELD_OUT_TASKS:
        spec = task_spec(name)
        assert fixed_task_prompt(name) == spec.text
        assert scripted_solution(name) and spec.max_decisions >= len(scripted_solution(name))
        # The proposer finds the feature slots from the text alone.
        assert mentioned_objects(spec.text) == spec.feature_objects


def test_make_env_accepts_the_task_text_and_is_reproducible():
    text = task_spec('sushi_to_pot').text
    first, second = make_env(text, seed=3), make_env('sushi_to_pot', seed=3)
    assert first.task == text
    a, b = first.reset(seed=9).features, second.reset(seed=9).features
    assert a.dtype == np.float32 and a.shape == (FEATURE_DIM,) and np.array_equal(a, b)
    assert not np.array_equal(a, first.reset(seed=10).features)


def test_env_rejects_empty_prompts_and_truncates_at_the_budget():
    env = make_env('sushi_to_pot', max_decisions=2)
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step('   ')
    first, second = env.step('move left'), env.step('move right')
    assert not first.done and second.truncated and not second.terminal and second.reward == 0.0


def test_the_optional_subgoal_bonus_rewards_new_subgoals_once():
    env = make_env('sushi_to_pot', subgoal_bonus=0.1)
    env.reset(seed=1)
    grasp = env.step('grasp the white and orange sushi')
    again = env.step('lift')
    assert grasp.reward == pytest.approx(0.1) and again.reward == 0.0
    assert make_env('sushi_to_pot').subgoal_bonus == 0.0


def test_rendering_gives_an_rgb_image():
    env = make_env('sushi_to_pot', render=True, width=96, height=80)
    image = env.reset(seed=0).image
    assert image.shape == (80, 96, 3) and image.dtype == np.uint8 and image.std() > 5


@pytest.mark.parametrize('task', SUITE_TASKS)
def test_the_proposer_uses_features_only_and_returns_four_to_eight_candidates(task):
    env = make_env(task)
    features = env.reset(seed=0).features
    proposer = make_proposer(seed=0)
    for _ in range(5):
        candidates = proposer.propose(Observation(features=features), task, [], 8)
        assert 4 <= len(candidates) <= 8
        assert candidates[0].source == SOURCE_TASK and candidates[0].prompt == task_spec(task).text
        assert len({c.prompt for c in candidates}) == len(candidates)
    assert len(proposer.propose(Observation(features=features), task, [], 3)) == 3


def test_the_proposer_follows_progress_seen_in_the_features():
    env = make_env('sushi_to_pot')
    proposer = make_proposer(seed=0)
    start = env.reset(seed=0)
    before = {c.prompt for _ in range(5) for c in proposer.propose(start, 'sushi_to_pot', [], 8)}
    holding = env.step('grasp the white and orange sushi').observation
    after = {c.prompt for _ in range(5) for c in proposer.propose(holding, 'sushi_to_pot', [], 8)}
    assert any(p.startswith('grasp') for p in before) and not any(p.startswith('put it') for p in before)
    assert any(p.startswith(('put it', 'drop it', 'place the')) for p in after)


def test_a_phase_usually_offers_a_working_command_and_a_decoy():
    proposer = make_proposer(seed=1)
    env = make_env('sushi_to_pot')
    observation = env.reset(seed=0)
    sets = [[c.prompt for c in proposer.propose(observation, 'sushi_to_pot', [], 8)] for _ in range(40)]
    working = sum(any('white and orange' in p and p.startswith(('grasp', 'pick', 'put', 'move the'))
                      for p in s) for s in sets)
    decoys = sum(any(p in ('grasp the sushi', 'pick up the sushi', 'drop the sushi in the pot') for p in s)
                 for s in sets)
    assert working >= 20 and decoys >= 20


def test_the_ros_stack_shares_one_world_and_matches_env_features():
    from sarl_ros.core.executor import execute_prompt
    from sarl_ros.sim.ros_stack import make_sim_stack
    stack = make_sim_stack('sushi_to_pot', seed=0, width=64, height=64)
    stack.scene.reset_scene(seed=21)
    env = make_env('sushi_to_pot')
    assert np.array_equal(stack.featurizer.features(None, stack.robot.proprio()), env.reset(seed=21).features)
    assert stack.featurizer.dim == FEATURE_DIM
    assert stack.view.read().shape == (64, 64, 3)
    for prompt in scripted_solution('sushi_to_pot'):
        execute_prompt(stack.robot, stack.camera, stack.vla, prompt, 12)
    assert stack.judge.evaluate(None, 'put the sushi in the pot') == (True, 1.0)
    assert not stack.judge.failed_for_good(None, 'put the sushi in the pot')
    stack.robot.home()
    stack.scene.reset_scene(seed=22)
    assert stack.judge.evaluate(None, 'put the sushi in the pot') == (False, 1.0)


def test_the_proposer_finds_decoys_more_plausible_and_suggests_follow_ups():
    env = make_env('sushi_to_pot')
    proposer = make_proposer(seed=2)
    env.reset(seed=0)
    holding = env.step('grasp the white and orange sushi').observation
    scores = {c.prompt: c.vlm_score for _ in range(30) for c in proposer.propose(holding, 'sushi_to_pot', [], 8)}
    assert scores['drop it in the pot'] > scores['put it in the pot']
    start = env.reset(seed=0)
    history = ['move the gripper over the sushi']
    after_approach = [c.prompt for c in proposer.propose(start, 'sushi_to_pot', history, 8)]
    assert 'move down and grasp' in after_approach


def test_the_sim_success_detector_reads_the_world():
    from sarl_ros.sim.ros_stack import SimSuccessDetector, make_sim_stack
    stack = make_sim_stack('sushi_to_pot', seed=0)
    stack.scene.reset_scene(seed=3)
    assert SimSuccessDetector(stack.scene).evaluate(None, 'put the sushi in the pot') == (False, 1.0)
