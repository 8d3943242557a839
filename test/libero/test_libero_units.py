"""LIBERO integration parts that run without the LIBERO environment: protocol, grounding, VLM, features."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from sarl_ros.core.mdp import SOURCE_TASK, Observation
from sarl_ros.libero import protocol
from sarl_ros.libero.client import LiberoWorker, WorkerError
from sarl_ros.libero.observable_state import FEATURE_DIM, state_features, thumbnail
from sarl_ros.libero.libero_vlm import LiberoVLMProposer, task_steps
from sarl_ros.libero.repertoire import Libero90Repertoire
from sarl_ros.libero.skills import ground_name

LIBERO10 = {
    'put both the alphabet soup and the tomato sauce in the basket':
        ['put the alphabet soup in the basket', 'put the tomato sauce in the basket'],
    'turn on the stove and put the moka pot on it': ['turn on the stove', 'put the moka pot on the stove'],
    'put the black bowl in the bottom drawer of the cabinet and close it':
        ['put the black bowl in the bottom drawer of the cabinet', 'close the bottom drawer of the cabinet'],
    'pick up the book and place it in the back compartment of the caddy':
        ['pick up the book', 'place the book in the back compartment of the caddy'],
    'put both moka pots on the stove': ['put the left moka pot on the stove', 'put the right moka pot on the stove'],
    'put the yellow and white mug in the microwave and close it':
        ['put the yellow and white mug in the microwave', 'close the microwave'],
}


def test_protocol_round_trip_keeps_arrays_and_nesting():
    read_fd, write_fd = os.pipe()
    image = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    with os.fdopen(write_fd, 'wb') as writer, os.fdopen(read_fd, 'rb') as reader:
        protocol.send(writer, {'op': 'x', 'image': image, 'facts': [True, False], 'v': np.float32(0.5)})
        message = protocol.receive(reader)
    assert message['op'] == 'x' and message['facts'] == [True, False] and message['v'] == 0.5
    np.testing.assert_array_equal(message['image'], image)
    assert message['image'].dtype == np.uint8


def test_protocol_reports_a_closed_pipe():
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with os.fdopen(read_fd, 'rb') as reader, pytest.raises(protocol.ProtocolError, match='closed'):
        protocol.receive(reader)


def test_worker_process_answers_errors_and_keeps_serving():
    # The worker imports LIBERO only when asked to build: this interpreter suffices for the protocol.
    with LiberoWorker(python=sys.executable) as worker:
        with pytest.raises(WorkerError, match='before build'):
            worker.call('reset', init=0)
        with pytest.raises(WorkerError, match='before build'):
            worker.call('nonsense')
        with pytest.raises(WorkerError, match="'reset' before build"):
            worker.call('reset', init=0)  # still alive after errors


def test_missing_environment_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='sarl setup --libero'):
        LiberoWorker(python=tmp_path / 'no-python')


def test_grounding_maps_instances_by_category_and_region():
    scene = {'plate_1', 'plate_2', 'wooden_cabinet_1', 'wooden_cabinet_1_bottom_region', 'basket_1',
             'basket_1_contain_region', 'akita_black_bowl_1'}
    assert ground_name('plate_2', scene) == 'plate_2'
    assert ground_name('plate_3', scene) == 'plate_1'  # lowest instance of the category
    assert ground_name('wooden_cabinet_2_bottom_region', scene) == 'wooden_cabinet_1_bottom_region'
    assert ground_name('wooden_cabinet_1_top_region', scene) is None  # this cabinet has no such region here
    assert ground_name('ketchup_1', scene) is None
    assert ground_name('kitchen_table_x_region', scene) is None


@pytest.mark.parametrize('task, steps', LIBERO10.items())
def test_the_vlm_splits_libero10_tasks_into_steps(task, steps):
    assert task_steps(task) == steps


def _observation(facts, held=None):
    return Observation(features=np.zeros(FEATURE_DIM, np.float32),
                       info={'perceived': {'goal_facts': facts, 'held': held}})


def test_proposer_offers_the_task_first_and_steps_of_every_phase():
    task = 'put both the alphabet soup and the tomato sauce in the basket'
    proposer = LiberoVLMProposer(seed=0, perception_error=0.0)
    seen = set()
    for _ in range(30):
        candidates = proposer.propose(_observation([False, False]), task, [], 8)
        assert candidates[0].source == SOURCE_TASK and candidates[0].prompt == task
        assert 2 <= len(candidates) <= 8 and len({c.prompt for c in candidates}) == len(candidates)
        seen |= {c.prompt for c in candidates}
    # Not filtered to the phase: the second step is proposed before the first is done.
    assert 'put the tomato sauce in the basket' in seen and 'put the alphabet soup in the basket' in seen


def test_proposer_prefers_the_perceived_current_step():
    task = 'put both the alphabet soup and the tomato sauce in the basket'
    proposer = LiberoVLMProposer(seed=0, perception_error=0.0, min_candidates=8)
    first = {c.prompt: c.vlm_score for c in proposer.propose(_observation([False, False]), task, [], 8)}
    later = {c.prompt: c.vlm_score for c in proposer.propose(_observation([True, False]), task, [], 8)}
    soup, sauce = 'put the alphabet soup in the basket', 'put the tomato sauce in the basket'
    if soup in first and sauce in first:
        assert first[soup] > first[sauce]
    if soup in later and sauce in later:
        assert later[sauce] > later[soup]
    scores = lambda d: [d.get(soup), d.get(sauce)]  # noqa: E731
    assert any(v is not None for v in scores(first) + scores(later))


def test_perception_errors_flip_facts_at_the_given_rate():
    proposer = LiberoVLMProposer(seed=1, perception_error=0.3)
    flips = [proposer.perceive(_observation([True]))[0][0] is False for _ in range(2000)]
    assert 0.25 < np.mean(flips) < 0.35
    with pytest.raises(ValueError):
        LiberoVLMProposer(perception_error=1.5)


def test_features_hold_proprio_image_and_history_but_no_object_poses():
    image = np.full((32, 32, 3), 255, np.uint8)
    image[:16] = 0
    features = state_features(np.arange(5), image, ['pick up the book'], 0.25)
    assert features.shape == (FEATURE_DIM,) and features.dtype == np.float32
    np.testing.assert_array_equal(features[:5], np.arange(5))
    thumb = thumbnail(image).reshape(8, 8, 3)
    assert thumb[:4].max() == 0.0 and thumb[4:].min() == 1.0
    assert features[-1] == 0.25
    other = state_features(np.arange(5), image, ['pick up the book', 'close the microwave'], 0.25)
    assert not np.array_equal(features, other)  # executed prompts are part of the state
    with pytest.raises(ValueError):
        state_features(np.arange(4), image, [], 0.0)
    with pytest.raises(ValueError):
        thumbnail(np.zeros((30, 30, 3), np.uint8))


def test_repertoire_runs_a_prompt_as_its_nearest_instruction():
    instructions = [{'language': 'pick up the book and place it in the back compartment of the caddy',
                     'goal': [['In', 'black_book_1', 'desk_caddy_1_back_contain_region']]},
                    {'language': 'turn on the stove', 'goal': [['Turnon', 'flat_stove_1']]},
                    {'language': 'turn on the stove', 'goal': [['Turnon', 'flat_stove_1']]}]
    repertoire = Libero90Repertoire(instructions, encoder='hashing')
    assert len(repertoire.instructions) == 2  # duplicates merged
    skill = repertoire.nearest('switch on the stove')
    assert skill.instruction == 'turn on the stove' and skill.goal == (('Turnon', 'flat_stove_1'),)
    assert repertoire.nearest('place the book in the back of the caddy').goal[0][0] == 'In'
    with pytest.raises(ValueError):
        repertoire.nearest('   ')


def test_an_unreferenced_worker_process_is_reaped():
    import gc
    worker = LiberoWorker(python=sys.executable)
    process = worker._process
    del worker
    gc.collect()
    assert process.wait(timeout=60) is not None  # killed by the finaliser, not left running


def test_bench_registration_group_and_exclusion_from_all():
    from sarl_ros.harness.task_table import BenchTask, resolve_tasks
    make = lambda seed: None  # noqa: E731  (never called: resolution only)
    tasks = {'toy_a': BenchTask('toy_a', make, make, 'toy'),
             'libero10_book_caddy': BenchTask('libero10_book_caddy', make, make, 'libero10')}
    assert resolve_tasks('libero10', tasks) == ['libero10_book_caddy']
    assert resolve_tasks('libero10_book_caddy', tasks) == ['libero10_book_caddy']
    assert resolve_tasks('all', tasks) == ['toy_a']  # minutes per episode: only when asked for
    with pytest.raises(ValueError, match='sarl setup --libero'):
        resolve_tasks('libero10', {'toy_a': tasks['toy_a']})


def test_registry_names_the_ten_tasks_and_rejects_others():
    from sarl_ros.libero import registry
    assert len(registry.TASK_NAMES) == 10 and len(set(registry.TASK_NAMES)) == 10
    assert registry.task_index('libero10_book_caddy') == 5
    with pytest.raises(ValueError, match='unknown LIBERO-10 task'):
        registry.task_index('libero10_nope')
