import numpy as np
import pytest

from sarl_ros.core.mdp import SOURCE_MEMORY, SOURCE_TASK, SOURCE_VLM, Candidate, Observation, StepOutcome
from sarl_ros.core.proposals import CachedProposer, normalize_candidates, normalize_prompt, with_task_prompt


@pytest.mark.parametrize('raw, expected', [
    ('  Pick UP the   Sushi. ', 'pick up the sushi'),
    ('"open the gripper!"', 'open the gripper'),
    ('move\tleft\n', 'move left'),
    ('...', ''),
    ('   ', ''),
])
def test_normalize_prompt(raw, expected):
    assert normalize_prompt(raw) == expected


def test_normalize_prompt_rejects_non_strings():
    with pytest.raises(ValueError, match='string'):
        normalize_prompt(None)


def test_normalize_candidates_drops_blanks_merges_duplicates_and_keeps_order():
    raw = [Candidate('Grasp the cup.', SOURCE_VLM, 0.2), Candidate('  ', SOURCE_VLM, 0.9),
           Candidate('lift it', SOURCE_VLM, 0.5), Candidate('grasp   the CUP', SOURCE_VLM, 0.7)]
    out = normalize_candidates(raw)
    assert [c.prompt for c in out] == ['grasp the cup', 'lift it']
    assert out[0].vlm_score == 0.7
    assert out[0].source == SOURCE_VLM


def test_merged_duplicate_of_the_task_prompt_stays_a_task_candidate():
    out = normalize_candidates([Candidate('Put the cup away', SOURCE_VLM, 0.4),
                                Candidate('put the cup away.', SOURCE_TASK, 0.0)])
    assert len(out) == 1 and out[0].source == SOURCE_TASK and out[0].vlm_score == 0.4


def test_normalize_candidates_rejects_nan_scores():
    with pytest.raises(ValueError, match='vlm_score'):
        normalize_candidates([Candidate('a', SOURCE_VLM, float('nan'))])


def test_with_task_prompt_appends_only_when_missing():
    cands = [Candidate('grasp the cup')]
    added = with_task_prompt(cands, 'Put the cup away')
    assert added[-1] == Candidate('Put the cup away', SOURCE_TASK, 0.0)
    assert len(with_task_prompt(added, 'Put the cup away')) == 2


class CountingProposer:
    def __init__(self):
        self.calls = 0

    def propose(self, observation, task, history, max_candidates):
        self.calls += 1
        return [Candidate(f'prompt {self.calls} {i}', SOURCE_VLM, 0.1 * i) for i in range(3)]


def obs(*values):
    return Observation(features=np.asarray(values, dtype=np.float32))


def outcome(next_obs, reward=0.0):
    return StepOutcome(next_obs, reward, False, False, False, 1)


def test_cache_reuses_sets_within_a_cluster_and_refreshes_after_max_reuses():
    inner = CountingProposer()
    cache = CachedProposer(inner, resolution=0.1, max_reuses=2, memory_size=0)
    first = cache.propose(obs(0.0, 0.0), 'task', [], 8)
    assert cache.propose(obs(0.01, 0.0), 'task', [], 8) == first  # same cell
    assert cache.propose(obs(0.0, 0.02), 'task', [], 8) == first
    refreshed = cache.propose(obs(0.0, 0.0), 'task', [], 8)  # third reuse: the VLM is asked again
    assert refreshed != first
    cache.propose(obs(1.0, 0.0), 'task', [], 8)  # another cell
    cache.propose(obs(0.0, 0.0), 'other task', [], 8)  # another task
    assert inner.calls == cache.vlm_calls == 4
    assert cache.calls == 6
    assert cache.saved_fraction == pytest.approx(2 / 6)


def test_cache_adds_prompts_that_made_progress_in_the_cluster():
    inner = CountingProposer()
    cache = CachedProposer(inner, resolution=0.1, max_reuses=0, memory_size=1)
    start = obs(0.0, 0.0)
    cache.propose(start, 'task', [], 8)
    cache.observe_outcome(start, 'task', [], 'prompt 1 2', outcome(obs(1.0, 0.0)))  # moved: progress
    cache.observe_outcome(start, 'task', [], 'prompt 1 0', outcome(start))  # nothing happened
    offered = cache.propose(start, 'task', [], 8)  # max_reuses=0: a fresh VLM set plus the memory
    assert inner.calls == 2
    memory = [c for c in offered if c.source == SOURCE_MEMORY]
    assert [c.prompt for c in memory] == ['prompt 1 2']
    assert memory[0].vlm_score == max(c.vlm_score for c in offered)


def test_cache_parameters_are_checked():
    with pytest.raises(ValueError):
        CachedProposer(CountingProposer(), resolution=0)


def test_cache_clusters_on_chosen_feature_dimensions_only():
    inner = CountingProposer()
    cache = CachedProposer(inner, resolution=0.1, max_reuses=10, feature_dims=[0])
    cache.propose(obs(0.0, 0.3), 'task', [], 8)
    cache.propose(obs(0.0, -0.9), 'task', [], 8)  # only the ignored dimension changed
    assert inner.calls == 1
    cache.propose(obs(1.0, 0.3), 'task', [], 8)
    assert inner.calls == 2
