"""The toy semantic MDPs: dynamics, known optimal Q, and SARL converging to it."""
import numpy as np
import pytest

from sarl_ros.harness.toy_mdps import (TOY_TASKS, ChainEnv, make_toy_env, make_toy_proposer, optimal_q, optimal_values,
                                       stage_prompts, toy_spec)
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.methods import make_policy
from sarl_ros.core.proposals import normalize_prompt

GAMMA = 0.9


def value_iteration(spec, gamma, sweeps=2000):
    """Return Q by repeated max backups over each stage's full candidate set (expected transitions)."""
    k, p = spec.n_stages, spec.task_prompt_success
    values = np.zeros(k + 1)
    for _ in range(sweeps):
        q_all = []
        for stage in range(k):
            reward = 1.0 if stage == k - 1 else spec.subgoal_reward
            q = {}
            for prompt in stage_prompts(spec, stage):
                works = prompt in {normalize_prompt(ph.text) for ph in spec.stages[stage] if ph.works}
                if works:
                    q[prompt] = reward + gamma * values[stage + 1]
                elif prompt == normalize_prompt(spec.task):
                    q[prompt] = p * (reward + gamma * values[stage + 1]) + (1 - p) * gamma * values[stage]
                elif prompt == normalize_prompt(spec.decoy.text) and spec.decoy_terminal:
                    q[prompt] = 0.0
                else:
                    q[prompt] = gamma * values[stage]
            q_all.append(q)
        values = np.array([max(q.values()) for q in q_all] + [0.0])
    return values, q_all


@pytest.mark.parametrize('name', TOY_TASKS)
def test_closed_form_matches_value_iteration(name):
    spec = toy_spec(name)
    values, q_all = value_iteration(spec, GAMMA)
    np.testing.assert_allclose(optimal_values(spec, GAMMA), values, atol=1e-9)
    for stage, q in enumerate(q_all):
        closed = optimal_q(spec, GAMMA, stage)
        assert closed.keys() == q.keys()
        np.testing.assert_allclose(list(closed.values()), list(q.values()), atol=1e-9)
    if spec.subgoal_reward == 0:
        np.testing.assert_allclose(values[:-1], [GAMMA ** (spec.n_stages - 1 - i) for i in range(spec.n_stages)])


def test_chain_dynamics():
    spec = toy_spec('toy_decoy')
    env = ChainEnv(spec, seed=0)
    env.reset()
    assert not env.step('pick the carrot up').observation.info['stage']  # plausible phrasing that fails
    out = env.step('Grasp the carrot.')
    assert out.observation.info['stage'] == 1 and out.reward == 0 and not out.done
    out = env.step(spec.decoy.text)
    assert out.terminal and not out.success and out.reward == 0
    env.reset()
    env.step('grasp the carrot')
    out = env.step('put it down on the plate')
    assert out.success and out.terminal and out.reward == 1.0


def test_chain_truncates_at_the_budget():
    env = make_toy_env('toy_chain')
    env.reset()
    outcomes = [env.step('move left') for _ in range(env.max_decisions)]
    assert [o.truncated for o in outcomes] == [False] * (env.max_decisions - 1) + [True]
    assert not any(o.terminal for o in outcomes)


def test_proposer_reads_only_features_and_ranks_the_decoy_first():
    spec = toy_spec('toy_chain')
    proposer = make_toy_proposer('toy_chain')
    candidates = proposer.propose(make_toy_env('toy_chain').reset(), spec.task, [], 8)
    assert max(candidates, key=lambda c: c.vlm_score).prompt == spec.decoy.text
    assert {normalize_prompt(c.prompt) for c in candidates} == set(stage_prompts(spec, 0)[:-1])


def test_noisy_proposer_keeps_a_working_phrasing():
    spec = toy_spec('toy_noisy')
    proposer, env = make_toy_proposer('toy_noisy', seed=2), make_toy_env('toy_noisy')
    working = {normalize_prompt(p.text) for p in spec.stages[0] if p.works}
    for _ in range(20):
        candidates = proposer.propose(env.reset(), spec.task, [], 8)
        assert len(candidates) == spec.phrasings_offered + 1
        assert working & {normalize_prompt(c.prompt) for c in candidates}


def _train(task, method, seed, episodes):
    env, proposer = make_toy_env(task, seed), make_toy_proposer(task, seed)
    policy = make_policy(method, seed=seed, encoder='hashing')
    online = [run_episode(env, proposer, policy, seed=seed * 1000 + i).success for i in range(episodes)]
    return policy, online


def _greedy_success(policy, task, episodes=10):
    env, proposer = make_toy_env(task, 77), make_toy_proposer(task, 77)
    return np.mean([run_episode(env, proposer, policy, greedy=True, learn=False, seed=5000 + i).success
                    for i in range(episodes)])


@pytest.mark.slow
@pytest.mark.parametrize('task', ['toy_chain', 'toy_decoy', 'toy_noisy'])
def test_sarl_text_converges_to_the_optimal_q_and_beats_fixed(task):
    spec = toy_spec(task)
    policy, online = _train(task, 'sarl_text', seed=1, episodes=60)
    errors = []
    for stage in range(spec.n_stages):
        # toy_noisy: all-zero noise values are a state never seen in training.
        features = np.zeros(spec.feature_dim, np.float32)
        features[stage] = 1.0
        q_star = optimal_q(spec, GAMMA, stage)
        q = dict(zip(q_star, policy.q_values(features, list(q_star))))
        best = max(q_star.values())
        optimal = [p for p, v in q_star.items() if v == best]
        for prompt in optimal:  # the values the greedy policy acts on are learned precisely
            assert q[prompt] == pytest.approx(best, abs=0.05), (stage, prompt)
        assert q_star[max(q, key=q.get)] == best  # the greedy choice is optimal
        errors += [abs(q[p] - q_star[p]) for p in q_star]
    assert np.median(errors) < 0.02
    # Like tabular Q-learning, values converge where the data is: every (stage, prompt) pair tried at
    # least 5 times. Prompts the policy soon stops trying may keep a value off by more.
    replay = policy.learner.replay
    stages = np.argmax(replay.states[:len(replay), :spec.n_stages + 1], axis=1)
    prompts = [policy.learner.vocab.prompts[i] for i in replay.prompt_ids[:len(replay)]]
    visits = {}
    for stage, prompt in zip(stages, prompts):
        visits[(int(stage), prompt)] = visits.get((int(stage), prompt), 0) + 1
    well_visited = [(stage, prompt) for (stage, prompt), n in visits.items() if n >= 5]
    assert len(well_visited) >= spec.n_stages + 2
    for stage, prompt in well_visited:
        features = np.zeros(spec.feature_dim, np.float32)
        features[stage] = 1.0
        learned = policy.q_values(features, [prompt])[0]
        assert learned == pytest.approx(optimal_q(spec, GAMMA, stage)[prompt], abs=0.05), (stage, prompt)
    assert np.mean(online[-20:]) >= 0.8
    sarl_success = _greedy_success(policy, task)
    assert sarl_success == 1.0
    # The in-context baseline now keeps a memory of past episodes (issue 18) and can solve these toy
    # chains too; SARL against it is measured on the paper tasks (docs/results/paper_tasks).
    for baseline in ('fixed',):
        baseline_policy, baseline_online = _train(task, baseline, seed=1, episodes=20)
        assert _greedy_success(baseline_policy, task) < sarl_success - 0.5
        assert np.mean(baseline_online) < np.mean(online[-20:]) - 0.5
