"""The simulated VLA's failure modes come from its vocabulary; low-level commands work."""
import numpy as np
import pytest

from sarl_ros.sim import language as lang
from sarl_ros.sim.registry import make_env


def _run(env, prompts, seed):
    env.reset(seed=seed)
    out = None
    for prompt in prompts:
        out = env.step(prompt)
    return out


def test_a_multi_clause_prompt_collapses_to_first_verb_and_last_object():
    command = lang.parse('put the carrot on the towel, then put the cube on the plate')
    assert command.collapsed and command.skill == lang.PICK and command.obj == 'plate'
    single = lang.parse('put the carrot on the towel')
    assert not single.collapsed and (single.skill, single.obj, single.target) == (lang.PUT, 'carrot', 'towel')


def test_the_collapsed_task_prompt_acts_on_the_wrong_object():
    env = make_env('legacy_hammer_plate_mushroom')
    out = _run(env, [env.task], seed=1)
    assert out.observation.info['grounding']['object'] == 'mushroom'  # the last noun, not the hammer
    assert not out.info['subgoals']['hammer_held'] and not out.success


def test_unknown_object_words_ground_to_look_alikes_by_spelling_and_appearance():
    assert lang.nearest_known_noun('sushi')[0] == 'mushroom'
    scene = ('hammer', 'plate', 'mushroom', 'spoon')
    assert lang.ground('hammer', scene) == 'spoon'
    assert lang.ground('brown handle', scene) == 'hammer'
    assert lang.ground('sushi', ('pot', 'sushi', 'mushroom', 'spoon')) == 'mushroom'
    assert lang.ground('sushi', ('pot', 'sushi', 'spoon')) == 'sushi'  # no look-alike in the scene


def test_grasp_the_hammer_grabs_the_spoon_but_a_grounded_phrase_grabs_the_hammer():
    env = make_env('legacy_hammer_plate_mushroom')
    assert _run(env, ['grasp the hammer'], seed=2).observation.info['holding'] == 'spoon'
    assert _run(env, ['grasp the brown handle'], seed=2).observation.info['holding'] == 'hammer'


def test_low_level_commands_work():
    env = make_env('sushi_to_pot')
    env.reset(seed=4)
    start = env.robot.proprio()[:3]
    env.step('move left')
    assert env.robot.proprio()[1] - start[1] == pytest.approx(0.05, abs=0.012)
    env.step('move the gripper back')
    assert env.robot.proprio()[0] - start[0] == pytest.approx(-0.05, abs=0.012)
    env.step('move the gripper over the white and orange sushi')
    sushi = env.world.object_position('sushi')
    assert np.hypot(*(env.robot.proprio()[:2] - sushi[:2])) < 0.03
    env.step('move down and grasp')
    assert env.world.holding == 'sushi'
    env.step('lift')
    assert env.world.object_position('sushi')[2] > 0.08
    env.step('open the gripper')
    assert env.world.holding is None


def test_drop_releases_too_early_while_put_places():
    env = make_env('sushi_to_pot')
    dropped = [_run(env, ['grasp the white and orange sushi', 'drop it in the pot'], seed=s).success for s in range(5)]
    put = [_run(env, ['grasp the white and orange sushi', 'put it in the pot'], seed=s).success for s in range(5)]
    assert sum(dropped) <= 1 and sum(put) >= 4


def test_execution_noise_makes_outcomes_vary():
    env = make_env('sushi_to_pot')
    finals = []
    for seed in range(3):
        env.reset(seed=11)
        env.vla.rng = np.random.default_rng(seed)
        env.step('move the gripper over the pot')
        finals.append(env.robot.proprio()[:2])
    assert np.ptp(np.array(finals), axis=0).max() > 1e-3


def test_commands_report_skill_done_before_the_chunk_ends():
    env = make_env('sushi_to_pot')
    env.reset(seed=0)
    out = env.step('open the gripper')
    assert out.info['outcome'] == 'skill_done' and out.control_steps < env.control_steps


@pytest.mark.parametrize('release', ['drop it', 'put it down', 'open the gripper'])
def test_release_commands_let_go_where_the_gripper_is(release):
    env = make_env('sushi_to_pot')
    env.reset(seed=6)
    env.step('grasp the white and orange sushi')
    assert env.world.holding == 'sushi'
    above = env.robot.proprio()[:2]
    env.step(release)
    env.world.advance(0.5)
    assert env.world.holding is None
    assert np.hypot(*(env.world.object_position('sushi')[:2] - above)) < 0.03
