"""Held-out paper-style tasks: unseen objects and words, the same state and layout dependence as the paper tasks."""
import json

import pytest
from sim_test_helpers import seed_where

from sarl_ros.core.mdp import SOURCE_TASK
from sarl_ros.sim.held_out_paper import build_tasks, load_held_out_protocol
from sarl_ros.sim.registry import HELD_OUT_PAPER_TASKS, PAPER_TASKS, make_env, make_proposer, scripted_solution
from sarl_ros.sim.task_scenes import HELD_OUT, PAPER, SUITE, in_container, load_protocol, on_surface
from sarl_ros.sim.paper_vlm import PaperVLMProposer


def _run(env, prompts):
    outcome = None
    for prompt in prompts:
        outcome = env.step(prompt)
        if outcome.done:
            break
    return outcome


def test_held_out_tasks_use_no_calibrated_object_or_phrasing():
    calibrated = PAPER + SUITE + HELD_OUT
    calibrated_objects = {name for spec in calibrated for name in spec.scene.objects}
    calibrated_texts = {spec.text for spec in calibrated}
    paper_references = {text for refs in load_protocol()['references'].values() for text, _ in refs}
    protocol = load_held_out_protocol()
    for spec in build_tasks(protocol):
        assert not set(spec.scene.objects) & calibrated_objects
        assert spec.text not in calibrated_texts
    held_out_references = {text for refs in protocol['references'].values() for text, _ in refs}
    assert not held_out_references & paper_references
    verbs = [template.split(' {')[0] for template, _ in protocol['verbs']['grasp'] + protocol['verbs']['put']]
    assert not {'grasp', 'pick up', 'put', 'put it', 'place', 'drop it', 'move the gripper over'} & set(verbs)


def test_held_out_noise_is_the_paper_protocols():
    paper, held_out = load_protocol(), load_held_out_protocol()
    for section in ('vla', 'perception'):
        assert held_out[section] == paper[section]
    ranking = {k: v for k, v in paper['vlm'].items() if k != 'generic_commands'}
    assert {k: v for k, v in held_out['vlm'].items() if k != 'generic_commands'} == ranking


@pytest.mark.parametrize('task', HELD_OUT_PAPER_TASKS)
def test_scripted_sequence_solves_and_fixed_prompt_fails(task):
    env = make_env(task)
    assert env.state_mode == 'observable'
    scripted = fixed = 0
    for seed in range(300, 306):
        env.reset(seed=seed)
        scripted += _run(env, scripted_solution(task, env.world)).success
        env.reset(seed=seed)
        fixed += _run(env, [env.task] * env.max_decisions).success
    assert scripted >= 5 and fixed <= 1


def test_corn_task_is_order_dependent():
    env = make_env('corn_pan_sponge')
    env.reset(seed=4)
    env.step(env.task)  # the whole task collapses to grasping the last-mentioned object
    assert env.world.holding == 'sponge'
    env.reset(seed=4)
    env.step('grab the sponge')
    outcome = env.step('set it in the pan')  # the same put, but holding the wrong object
    assert in_container(env.world, 'sponge', 'pan') and not in_container(env.world, 'corn', 'pan')
    assert not outcome.success
    env.reset(seed=4)
    outcome = _run(env, ['grab the corn', 'set it in the pan', 'grab the sponge'])
    assert in_container(env.world, 'corn', 'pan') and outcome.success


def test_the_right_can_depends_on_the_layout():
    env = make_env('right_can_smallest_dish')
    for colour in ('yellow', 'orange'):
        seed = seed_where(env, lambda w: w.colours[w.roles['right_can']] == colour)
        for prompt, expect_right in ((f'grab the {colour} can', True), ('grab the right can', False)):
            env.reset(seed=seed)
            right = env.world.roles['right_can']
            assert env.world.image_x(right) > env.world.image_x(env.world.roles['left_can'])
            env.step(prompt)
            assert (env.world.holding == right) is expect_right


def test_the_smallest_dish_depends_on_the_layout():
    env = make_env('right_can_smallest_dish')

    def small_dish_nearer(world):
        small, large = world.object_position("dish_small")[:2], world.object_position("dish_large")[:2]
        return bool(sum(small ** 2) < sum(large ** 2))

    for nearer in (True, False):
        seed = seed_where(env, lambda w: small_dish_nearer(w) is nearer)
        env.reset(seed=seed)
        env.step(f'grab the {env.world.colours[env.world.roles["right_can"]]} can')
        outcome = env.step('set it on the smallest dish')  # "smallest" is a word the VLA ignores
        assert bool(on_surface(env.world, env.world.roles['right_can'], 'dish_small')) is nearer
        assert bool(outcome.success) is nearer


def test_the_vlm_speaks_the_held_out_vocabulary():
    env = make_env('right_can_smallest_dish')
    observation = env.reset(seed=5)
    proposer = make_proposer(seed=0, task='right_can_smallest_dish')
    prompts = set()
    for _ in range(30):
        candidates = proposer.propose(observation, env.task, [], 8)
        assert candidates[0].source == SOURCE_TASK and candidates[0].vlm_score == 0.0
        prompts |= {c.prompt for c in candidates[1:]}
    assert any(p.startswith('grab the ') for p in prompts)
    assert any(p.startswith(('set it on ', 'bring ')) for p in prompts)
    assert not any(p.startswith(('grasp ', 'pick up ', 'place ', 'move the gripper over')) for p in prompts)
    right_colour = env.world.colours[env.world.roles['right_can']]
    assert f'grab the {right_colour} can' in prompts


def test_changing_the_protocol_file_changes_the_tasks_and_the_vlm(tmp_path):
    protocol = load_held_out_protocol()
    protocol['tasks']['corn_pan_sponge']['max_decisions'] = 9
    protocol['colours']['cans'] = ['pink', 'blue']
    protocol['verbs']['grasp'] = [['seize {obj}', 1.0]]
    path = tmp_path / 'protocol.json'
    path.write_text(json.dumps(protocol))
    changed = load_held_out_protocol(path)
    corn, can = build_tasks(changed)
    assert corn.max_decisions == 9 and corn.max_decisions != build_tasks(load_held_out_protocol())[0].max_decisions
    assert can.scene.colours[0][1] == ('pink', 'blue')
    env = make_env('right_can_smallest_dish')
    observation = env.reset(seed=5)
    proposer = PaperVLMProposer(seed=0, protocol=changed)
    prompts = {c.prompt for _ in range(20) for c in proposer.propose(observation, env.task, [], 8)}
    assert any(p.startswith('seize the ') for p in prompts) and not any(p.startswith('grab ') for p in prompts)


def test_paper_tasks_do_not_speak_the_held_out_vocabulary():
    env = make_env(PAPER_TASKS[0])
    observation = env.reset(seed=5)
    proposer = make_proposer(seed=0, task=PAPER_TASKS[0])
    prompts = {c.prompt for _ in range(20) for c in proposer.propose(observation, env.task, [], 8)}
    assert not any(p.startswith(('grab ', 'set it ', 'bring ', 'lower and grab')) for p in prompts)
