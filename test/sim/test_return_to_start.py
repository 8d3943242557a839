"""'return to the start pose': run by the arm's own controller (no VLA) and an ordinary semantic action.

In the simulator: the arm comes back to the start pose (the end effector's at home()) through stepped,
bounded moves, nothing else in the scene is reset and a held object stays held. For the learner: a
proposer offering it (opt-in), SARL choosing it, its transitions stored and learned from.
"""
from __future__ import annotations

import numpy as np
import pytest
from sim_test_helpers import hold, move_to

from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.executor import (CANCELLED, COMPLETED, RETURN_TO_START_PROMPT, SKILL_DONE, execute_prompt,
                                    is_return_to_start)
from sarl_ros.core.mdp import SOURCE_CONTROLLER, Candidate
from sarl_ros.core.baselines.sarl_text import SarlPolicy, SarlTextConfig
from sarl_ros.core.proposals import WithReturnToStart
from sarl_ros.sim import registry


class NoVLA:
    """The command must not reach a VLA: any call fails the test."""

    def reset(self):
        raise AssertionError('the VLA was reset for the return-to-start command')

    def act(self, *args, **kwargs):
        raise AssertionError('the VLA was asked for an action for the return-to-start command')

    def skill_done(self):
        raise AssertionError('the VLA was asked')


def test_the_prompt_is_recognised_as_written_or_as_a_vlm_would_write_it():
    assert RETURN_TO_START_PROMPT == 'return to the start pose'
    assert is_return_to_start('Return to the start pose.') and is_return_to_start('  return  to the START pose ')
    assert not is_return_to_start('return the pot to the start') and not is_return_to_start('put the sushi in the pot')


def test_it_brings_the_arm_back_without_the_vla_and_leaves_the_scene_as_it_is(cube_world):
    world, robot = cube_world
    start = robot.proprio()
    objects = {name: world.object_position(name) for name in ('pot', 'plate')}
    move_to(robot, start[:3] + [0.06, 0.10, -0.12])
    robot.apply(np.array([0, 0, 0, 0.2, -0.15, 0.3, 1.0]))
    away = robot.proprio()
    assert np.linalg.norm(away[:3] - start[:3]) > 0.1
    steps = []
    run = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 15, on_step=lambda n, a: steps.append(a))
    assert run.outcome == SKILL_DONE and 3 <= run.control_steps <= 10 and len(steps) == run.control_steps
    assert all(np.max(np.abs(a[:3])) <= 0.05 + 1e-9 and np.max(np.abs(a[3:6])) <= 0.25 + 1e-9 for a in run.actions)
    back = robot.proprio()
    assert np.linalg.norm(back[:3] - start[:3]) < 0.005
    assert np.max(np.abs(back[3:6] - start[3:6])) < 0.03
    for name, position in objects.items():  # no scene reset
        np.testing.assert_allclose(world.object_position(name), position, atol=1e-3)
    # Already there: done at once, no control step.
    again = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 15)
    assert again.outcome == SKILL_DONE and again.control_steps == 0


def test_a_held_object_comes_along(cube_world):
    world, robot = cube_world
    cube = world.object_position('cube')
    move_to(robot, cube + [0, 0, 0.08])
    move_to(robot, cube + [0, 0, 0.002])
    hold(robot, 1, grip=0.0)
    assert world.holding == 'cube'
    run = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 15)
    assert run.outcome == SKILL_DONE
    assert world.holding == 'cube' and all(a[6] == 0.0 for a in run.actions)
    assert np.linalg.norm(world.object_position('cube')[:2] - robot.proprio()[:2]) < 0.03


def test_a_short_budget_or_a_stop_ends_it_like_any_prompt(cube_world):
    world, robot = cube_world
    move_to(robot, robot.proprio()[:3] + [0.08, 0.12, -0.12])
    run = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 2)
    assert run.outcome == COMPLETED and run.control_steps == 2
    stop = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 15, should_stop=lambda: True)
    assert stop.outcome == CANCELLED and stop.control_steps == 0


def test_a_robot_without_a_stepped_controller_is_sent_home():
    class Arm:
        homed = 0

        def home(self):
            self.homed += 1
    arm = Arm()
    run = execute_prompt(arm, None, NoVLA(), RETURN_TO_START_PROMPT, 5)
    assert run.outcome == SKILL_DONE and arm.homed == 1 and run.control_steps == 0


def test_the_proposer_offers_it_only_when_asked_and_within_the_candidate_budget():
    env = registry.make_env('sushi_to_pot', seed=0)
    observation = env.reset(seed=0)
    plain = registry.make_proposer(seed=0, task='sushi_to_pot')
    offered = WithReturnToStart(registry.make_proposer(seed=0, task='sushi_to_pot'))
    without = plain.propose(observation, env.task, [], 4)
    assert all(c.prompt != RETURN_TO_START_PROMPT for c in without)  # the default: not offered
    with_it = offered.propose(observation, env.task, [], 4)
    assert len(with_it) <= 4 and with_it[-1] == Candidate(RETURN_TO_START_PROMPT, SOURCE_CONTROLLER, 0.0)
    assert [c.prompt for c in with_it[:-1]] == [c.prompt for c in without[:len(with_it) - 1]]


def test_sarl_chooses_it_and_learns_from_its_transitions():
    task = 'sushi_to_pot'
    env = registry.make_env(task, seed=1)
    proposer = WithReturnToStart(registry.make_proposer(seed=1, task=task))
    policy = SarlPolicy(SarlTextConfig(temperature=5.0, temperature_final=5.0, batch_size=8), seed=0, encoder='hashing')
    chosen, stored = 0, []
    first_state = None
    for episode in range(6):
        result = run_episode(env, proposer, policy, max_candidates=4, seed=episode, episode=episode,
                             updates_per_decision=2)
        chosen += result.prompts.count(RETURN_TO_START_PROMPT)
        stored += [t for t in result.transitions if t.prompt == RETURN_TO_START_PROMPT]
        if stored and first_state is None:
            first_state = stored[0].state
            before = float(policy.q_values(first_state, [RETURN_TO_START_PROMPT])[0])
    assert chosen >= 1 and stored, 'SARL never chose the return-to-start command'
    assert all(t.next_prompts for t in stored if not t.terminal)  # bootstrapped like any transition
    policy.update(50)
    after = float(policy.q_values(first_state, [RETURN_TO_START_PROMPT])[0])
    assert after != pytest.approx(before, abs=1e-6)  # learned from
