"""Task suite: success and subgoal detectors, and the fidelity targets of the issue."""
import pytest

from sarl_ros.sim.registry import (HELD_OUT_TASKS, SUITE_TASKS, fixed_prompt_success_rate, make_env, scripted_solution,
                                   task_spec)
from sarl_ros.sim.task_scenes import in_pot, on_surface

SEEDS = range(100, 116)


def _teleport(world, name, xyz):
    adr = world.model.joint(f'{name}_free').qposadr[0]
    world.data.qpos[adr:adr + 3] = xyz
    world.data.qvel[world.model.joint(f'{name}_free').dofadr[0]:][:6] = 0
    import mujoco
    mujoco.mj_forward(world.model, world.data)


def test_detectors_read_the_simulator_state():
    env = make_env('sushi_to_pot')
    env.reset(seed=0)
    world = env.world
    assert not in_pot(world, 'sushi') and not env.success()
    pot = world.object_position('pot')
    _teleport(world, 'sushi', pot + [0.01, 0.0, 0.02])
    world.advance(0.3)
    assert in_pot(world, 'sushi') and env.success()
    _teleport(world, 'sushi', pot + [0.12, 0.0, 0.011])
    world.advance(0.3)
    assert not in_pot(world, 'sushi') and not env.success()


def test_on_surface_needs_the_object_on_top_and_released():
    env = make_env('carrot_towel_cube_plate')
    env.reset(seed=0)
    world = env.world
    plate = world.object_position('plate')
    _teleport(world, 'cube', plate + [0.0, 0.0, 0.03])
    world.advance(0.4)
    assert on_surface(world, 'cube', 'plate') and not on_surface(world, 'cube', 'towel')
    assert not env.success()  # the carrot is not on the towel yet
    towel = world.object_position('towel')
    _teleport(world, 'carrot', towel + [0.0, 0.0, 0.02])
    world.advance(0.4)
    assert env.success()


@pytest.mark.parametrize('task', SUITE_TASKS)
def test_the_fixed_task_prompt_rarely_succeeds(task):
    assert fixed_prompt_success_rate(make_env(task), SEEDS) <= 0.10


@pytest.mark.parametrize('task', SUITE_TASKS + HELD_OUT_TASKS)
def test_the_scripted_solution_succeeds(task):
    env = make_env(task)
    wins = 0
    for seed in SEEDS:
        env.reset(seed=seed)
        for prompt in scripted_solution(task):
            out = env.step(prompt)
            if out.done:
                break
        wins += out.success
        assert out.reward == (1.0 if out.success else 0.0)
    assert wins / len(SEEDS) >= 0.9


@pytest.mark.parametrize('task', SUITE_TASKS)
def test_subgoals_fire_along_the_scripted_solution(task):
    env = make_env(task)
    env.reset(seed=5)
    seen = set()
    for prompt in scripted_solution(task):
        out = env.step(prompt)
        seen.update(name for name, done in out.info['subgoals'].items() if done)
    assert seen == {name for name, _ in task_spec(task).subgoals}
