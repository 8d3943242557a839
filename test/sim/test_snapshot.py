"""Saving and restoring a simulated tabletop: a prompt tried and taken back leaves no trace."""
import numpy as np
import pytest

from sarl_ros.sim.registry import make_env, scripted_solution
from sarl_ros.sim.snapshot import preserved, restore, save, try_prompt


def _same_outcome(a, b):
    assert np.array_equal(a.observation.features, b.observation.features)
    assert (a.reward, a.terminal, a.truncated, a.success, a.control_steps, a.failed_for_good) == \
        (b.reward, b.terminal, b.truncated, b.success, b.control_steps, b.failed_for_good)
    assert a.info['new_subgoals'] == b.info['new_subgoals'] and a.info['subgoals'] == b.info['subgoals']
    assert a.observation.info['holding'] == b.observation.info['holding']


@pytest.fixture(scope='module')
def lid_env():
    env = make_env('pot_lid_on_towel', seed=0, state='observable')
    env.reset(seed=3)
    return env


def test_restore_then_the_same_prompt_gives_the_same_features_and_outcome(lid_env):
    env = lid_env
    env.reset(seed=3)
    grasp, place = scripted_solution(env.name, env.world)
    env.step(grasp)
    assert env.world.holding == 'lid'
    snapshot = save(env)
    first = env.step(place)
    draw_after_first = env.vla.rng.random()
    assert first.success and env.world.holding is None
    restore(env, snapshot)
    assert env.world.holding == 'lid' and env.decisions == 1 and env.history == [grasp]
    assert env.world.data.eq_active.any()  # the grasp weld is back
    second = env.step(place)
    _same_outcome(first, second)
    assert env.vla.rng.random() == draw_after_first  # the VLA's noise stream is where it was
    restore(env, snapshot)  # a snapshot can be restored again
    _same_outcome(first, env.step(place))


def test_trials_leave_the_episode_as_if_they_never_ran(lid_env):
    env = lid_env
    prompts = ['open the gripper', *scripted_solution(env.name, env.world)]
    env.reset(seed=5)
    reference = [env.step(p) for p in prompts]
    env.reset(seed=5)
    for prompt, expected in zip(prompts, reference):
        snapshot = save(env)
        for other in ('grasp the pot lid', 'put it on the towel', env.task):
            try_prompt(env, other, snapshot)
        with preserved(env):
            env.step('move the gripper over the towel')
        _same_outcome(expected, env.step(prompt))
    assert env.history == prompts and env.decisions == len(prompts)


def test_a_trial_that_raises_is_still_taken_back(lid_env):
    env = lid_env
    env.reset(seed=3)
    before, weld = env.robot.joint_state(), env.world.model.eq_data.copy()
    with pytest.raises(RuntimeError):
        with preserved(env):
            env.step(scripted_solution(env.name, env.world)[0])
            assert env.world.holding == 'lid'  # the grasp weld was set (a model field)
            raise RuntimeError('stop')
    assert np.array_equal(env.robot.joint_state(), before) and env.decisions == 0 and env.history == []
    assert env.world.holding is None and np.array_equal(env.world.model.eq_data, weld)
