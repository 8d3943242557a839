import numpy as np

from sarl_ros.harness.toy_mdps import make_toy_env, make_toy_proposer, toy_spec
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.mdp import SOURCE_TASK
from sarl_ros.core.methods import make_policy
from sarl_ros.core.proposals import CachedProposer


def test_episode_offers_the_task_prompt_and_stores_consistent_transitions():
    env, proposer = make_toy_env('toy_chain'), make_toy_proposer('toy_chain')
    policy = make_policy('random', seed=1)
    seen = []
    result = run_episode(env, proposer, policy, seed=0,
                         on_decision=lambda step, decision, cands, outcome: seen.append((step, cands, outcome)))
    assert result.decisions == len(result.transitions) == len(seen) == len(result.prompts)
    assert all(any(c.source == SOURCE_TASK for c in cands) for _, cands, _ in seen)
    for previous, following in zip(result.transitions, result.transitions[1:]):
        np.testing.assert_array_equal(previous.next_state, following.state)
    last = result.transitions[-1]
    assert last.terminal == result.success
    assert last.truncated == (not result.success)
    if not last.terminal:
        assert last.next_prompts  # a truncated step bootstraps from the next candidates
    assert result.control_steps == 8 * result.decisions
    assert policy.transitions == result.decisions and policy.episodes == 1


def test_evaluation_episode_records_nothing():
    env, proposer = make_toy_env('toy_chain'), make_toy_proposer('toy_chain')
    policy = make_policy('sarl', encoder='hashing')
    result = run_episode(env, proposer, policy, greedy=True, learn=False, seed=0)
    assert policy.transitions == 0 and policy.updates == 0 and not result.update_stats
    assert policy.learning_episodes == 0 and policy.episodes == 1


def test_learning_episode_runs_updates_per_decision():
    env, proposer = make_toy_env('toy_decoy'), make_toy_proposer('toy_decoy')
    policy = make_policy('sarl', encoder='hashing')
    result = run_episode(env, proposer, policy, updates_per_decision=3, seed=0)
    assert policy.updates == 3 * result.decisions


def test_proposal_cache_saves_vlm_calls_in_episodes():
    spec = toy_spec('toy_chain')
    inner = make_toy_proposer('toy_chain')
    cache = CachedProposer(inner, max_reuses=1000, memory_size=2)
    env, policy = make_toy_env('toy_chain'), make_policy('random', seed=0)
    results = [run_episode(env, cache, policy, seed=i) for i in range(10)]
    # One VLM call per reachable stage: the cache serves every later visit.
    assert inner.calls <= spec.n_stages
    assert cache.calls == sum(r.proposer_calls for r in results) > inner.calls


def test_fixed_baseline_sends_the_whole_task_every_step():
    env, proposer = make_toy_env('toy_chain'), make_toy_proposer('toy_chain')
    result = run_episode(env, proposer, make_policy('fixed'), seed=3)
    assert result.prompts and set(result.prompts) == {env.task}
