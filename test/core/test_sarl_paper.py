"""SARL as the paper builds it: pool, identity, ensemble target, budget, demonstrations, config, bad input."""
import json

import numpy as np
import pytest
import torch

from sarl_ros.core.durability.checkpoint import load_checkpoint, save_checkpoint
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation, StepOutcome, Transition
from sarl_ros.core.methods import make_policy, method_defaults
from sarl_ros.core.perception.observable_features import OBSERVABLE_DIM, PIXEL_SIDE
from sarl_ros.core.sarl.config import SarlConfig, config_fields
from sarl_ros.core.sarl.demonstrations import Demonstrated
from sarl_ros.core.sarl.pool import InstructionPool, PoolFull, PooledProposer, load_pool_file


# --- the instruction pool ----------------------------------------------------------------------
def test_the_pool_fills_then_freezes_and_keeps_identities():
    pool = InstructionPool(3, ['Grasp the lid.'])
    assert pool.add('grasp the lid') == 0 and pool.add('put it on the towel') == 1 and pool.add('lift') == 2
    assert pool.frozen and pool.add('move left') is None and pool.dropped == 1
    assert pool.index('LIFT') == 2 and 'move left' not in pool
    with pytest.raises(PoolFull, match="'move left'.*full instruction pool"):
        pool.require('move left')
    again = InstructionPool.from_state_dict(pool.state_dict())
    assert again.prompts == pool.prompts and again.frozen


def test_a_pool_file_is_read_or_refused_with_the_fix(tmp_path):
    good = tmp_path / 'pool.json'
    good.write_text(json.dumps(['grasp the lid', 'Grasp the lid', 'lift']))
    assert load_pool_file(good, 4) == ['grasp the lid', 'lift']
    bad = tmp_path / 'bad.json'
    bad.write_text('["grasp the lid",')
    with pytest.raises(ValueError, match='not JSON.*JSON list of prompts'):
        load_pool_file(bad, 4)
    bad.write_text(json.dumps({'prompts': ['a', 3]}))
    with pytest.raises(ValueError, match='non-blank prompt strings'):
        load_pool_file(bad, 4)
    with pytest.raises(ValueError, match='more than the pool capacity 1'):
        load_pool_file(good, 1)


class _ScriptedVLM:
    """A proposer with a fixed free answer and a pool chooser that records what it was offered."""

    def __init__(self, free):
        self.free, self.offered_pool = free, None

    def propose(self, observation, task, history, max_candidates):
        return [Candidate(task, SOURCE_TASK)] + [Candidate(p, SOURCE_VLM, 0.5) for p in self.free]

    def choose_from_pool(self, observation, task, history, pool, max_candidates):
        self.offered_pool = list(pool)
        return [Candidate(task, SOURCE_TASK)] + [Candidate(p, SOURCE_VLM, 0.5) for p in pool[-2:]]


def test_pooled_proposer_adds_until_full_then_asks_the_vlm_to_choose_from_the_pool():
    pool = InstructionPool(4)
    vlm = _ScriptedVLM(['grasp the lid', 'lift', 'move left', 'move right'])
    proposer = PooledProposer(vlm, pool)
    first = proposer.propose(Observation(np.zeros(3)), 'do the task', [], 8)
    # The task and the first three proposals found room; 'move right' did not and is never offered.
    assert [c.prompt for c in first] == ['do the task', 'grasp the lid', 'lift', 'move left']
    assert pool.frozen and proposer.outside == 1
    second = proposer.propose(Observation(np.zeros(3)), 'do the task', [], 8)
    assert vlm.offered_pool == pool.prompts and [c.prompt for c in second] == ['do the task', 'lift', 'move left']
    evaluation = PooledProposer(_ScriptedVLM(['grasp the lid', 'a new command']), InstructionPool(8, ['do the task']),
                                admit=False)
    assert [c.prompt for c in evaluation.propose(Observation(np.zeros(3)), 'do the task', [], 8)] == ['do the task']


# --- the learner ---------------------------------------------------------------------------------
def _state(rng, value=None):
    x = rng.random(OBSERVABLE_DIM).astype(np.float32) if value is None else np.full(OBSERVABLE_DIM, value, np.float32)
    return x


def test_the_expected_sarsa_target_uses_the_softmax_policy_and_the_ensemble_minimum():
    policy = make_policy('sarl', seed=0, ensemble=3, q_init=0.0, batch_size=1)
    rng = np.random.default_rng(0)
    policy.begin_episode('task', max_decisions=4)
    s, s2 = _state(rng), _state(rng)
    policy.record(Transition(s, 'a', 0.5, s2, ('b', 'c'), False, step=1))
    learner = policy.learner
    stored_next = policy._stored(s2, 2)
    members = learner.q_members(stored_next, [policy.pool.index('b'), policy.pool.index('c')])  # (E, 2)
    temperature = policy.current_temperature
    pi = torch.softmax(torch.as_tensor(members.mean(0)) / temperature, 0).numpy()
    expected = 0.5 + (1 - 1 / 4) * float((pi * members.min(0)).sum())
    # The loss is computed before the step, so it tells the target: Huber(q, y) = (q - y)**2 / 2 for |q - y| < 1.
    chosen = learner.q_members(policy._stored(s, 1), [policy.pool.index('a')])[:, 0]
    loss, _ = learner.update(temperature, policy.discount)
    assert loss == pytest.approx(float(np.mean(0.5 * (chosen - expected) ** 2)), rel=1e-4)


def test_gamma_is_one_minus_one_over_the_budget_and_truncation_does_not_bootstrap():
    policy = make_policy('sarl', seed=0)
    policy.begin_episode('task', max_decisions=6)
    assert policy.discount == pytest.approx(1 - 1 / 6)
    rng = np.random.default_rng(1)
    policy.record(Transition(_state(rng), 'a', 0.0, _state(rng), ('b',), False, step=5, truncated=True))
    policy.record(Transition(_state(rng), 'a', 0.0, _state(rng), ('b',), False, step=4))
    # The budget ran out at step 5: the finite-horizon value is 0 there; the replay keeps the driver's flag.
    assert list(policy.learner.done(np.array([0, 1]))) == [True, False] and not policy.learner.replay.terminal[0]
    assert policy.stored_transitions()[0].state.shape == (OBSERVABLE_DIM,)
    # The budget left is the state's last value, as the learner stores it.
    assert policy._stored(_state(rng), 0)[-1] == 1.0 and policy._stored(_state(rng), 3)[-1] == pytest.approx(0.5)
    no_budget = make_policy('sarl_nobudget', seed=0)
    no_budget.begin_episode('task', max_decisions=6)
    no_budget.record(Transition(_state(rng), 'a', 0.0, _state(rng), ('b',), False, step=5, truncated=True))
    assert not no_budget.learner.done(np.array([0]))[0] and no_budget._stored(_state(rng), 0)[-1] == 0.0


def test_optimistic_start_and_the_image_reaches_q():
    policy = make_policy('sarl', seed=0)
    rng = np.random.default_rng(2)
    candidates = [Candidate('do the task', SOURCE_TASK), Candidate('grasp the lid')]
    decision = policy.select(Observation(_state(rng)), candidates, 'do the task')
    assert np.allclose(decision.q_values, 1.0, atol=0.05)  # q_init: every untried prompt looks worth trying
    # Only the pixel block and the proprioception enter Q: changing the colour code leaves Q as it was.
    x = _state(rng)
    y = x.copy()
    y[10:100] += 1.0
    z = x.copy()
    z[-3 * PIXEL_SIDE ** 2:] = 1.0 - z[-3 * PIXEL_SIDE ** 2:]
    q = [policy.q_members(v, ['grasp the lid']) for v in (x, y, z)]
    assert np.array_equal(q[0], q[1]) and not np.allclose(q[0], q[2])


def test_bad_input_is_named_and_nothing_stored_is_lost(tmp_path):
    with pytest.raises(ValueError, match='pool_capacity=1 is below its minimum 2'):
        make_policy('sarl', pool_capacity=1)
    with pytest.raises(ValueError, match='sarl has no option temprature'):
        make_policy('sarl', temprature=0.1)
    with pytest.raises(ValueError, match='ensemble must be an integer'):
        make_policy('sarl', ensemble=2.5)
    policy = make_policy('sarl', seed=0, pool_capacity=2)
    rng = np.random.default_rng(3)
    policy.begin_episode('task', max_decisions=3)
    policy.record(Transition(_state(rng), 'a', 1.0, _state(rng), (), True))
    with pytest.raises(ValueError, match='built for'):  # an image of another size changes the state's length
        policy.select(Observation(np.zeros(OBSERVABLE_DIM - 5, np.float32)), [Candidate('a')], 'task')
    policy.record(Transition(_state(rng), 'b', 0.0, _state(rng), (), True))  # the pool is full now (a, b)
    with pytest.raises(PoolFull, match="'c'"):
        policy.record(Transition(_state(rng), 'c', 0.0, _state(rng), (), True))
    assert policy.transitions == 2 and len(policy.learner.replay) == 2
    save_checkpoint(policy, tmp_path / 'sarl.pt')
    other = make_policy('sarl', seed=0, pool_capacity=4)
    payload = torch.load(tmp_path / 'sarl.pt', weights_only=False)
    with pytest.raises(ValueError, match='pool_capacity'):
        other.load_state_dict(payload['state'])
    with pytest.raises(ValueError, match='sarl_blind'):
        make_policy('sarl_blind').load_state_dict(payload['state'])
    restored = load_checkpoint(tmp_path / 'sarl.pt')
    assert restored.pool.prompts == ['a', 'b'] and len(restored.learner.replay) == 2


def test_every_option_has_a_type_a_default_and_a_help_line_declared_once():
    names = [name for name, _, _ in config_fields()]
    assert len(names) == len(set(names)) and all(help_text for _, _, help_text in config_fields())
    assert method_defaults('sarl') == SarlConfig().as_dict()
    assert method_defaults('sarl_nodemo')['demonstrations'] == 0


# --- learning on a tiny semantic MDP -------------------------------------------------------------
class _Lock:
    """Three decisions; only 'turn the key' then 'open the door' succeeds; the frame shows the key turned."""

    task, max_decisions = 'open the door', 3

    def __init__(self):
        self.turned = False
        self.steps = 0

    def _observe(self):
        x = np.zeros(OBSERVABLE_DIM, np.float32)
        x[-3 * PIXEL_SIDE ** 2:] = 1.0 if self.turned else 0.0
        x[6] = 1.0 if self.turned else 0.0
        return Observation(x, info={'subgoals': {'key': self.turned, 'door': False}})

    def reset(self, seed=None):
        self.turned, self.steps = False, 0
        return self._observe()

    def step(self, prompt):
        self.steps += 1
        success = self.turned and prompt == 'open the door'
        self.turned = self.turned or prompt == 'turn the key'
        done = success or self.steps >= self.max_decisions
        return StepOutcome(self._observe(), float(success), success, done and not success, success, 1)


class _LockVLM:
    def propose(self, observation, task, history, max_candidates):
        return [Candidate(p) for p in ('turn the key', 'open the door', 'knock', 'wave', 'push the door')]


def test_demonstrations_seed_pool_and_replay_and_sarl_learns_the_order():
    env, policy = _Lock(), make_policy('sarl', seed=0, pool_capacity=8)
    proposer = PooledProposer(_LockVLM(), policy.pool)

    class Person:
        def choose(self, observation, candidates, task):
            return 'open the door' if observation.info['subgoals']['key'] else 'turn the key'

    teacher = Demonstrated(policy, Person())
    demo = run_episode(env, proposer, teacher, updates_per_decision=4, seed=0, episode=-1)
    assert demo.success and demo.prompts == ['turn the key', 'open the door']
    assert policy.pool.prompts[:3] == ['open the door', 'turn the key', 'knock'] and len(policy.learner.replay) == 2
    for episode in range(25):
        run_episode(env, proposer, policy, updates_per_decision=4, seed=episode, episode=episode)
    greedy = run_episode(env, proposer, policy, greedy=True, learn=False, seed=99)
    assert greedy.success and greedy.prompts == ['turn the key', 'open the door']


def test_a_pool_file_seeds_the_pool_first_and_a_bad_one_stops_the_benchmark(tmp_path):
    from sarl_ros.harness.harness import BenchConfig
    from sarl_ros.core.sarl.pool import seed_pool
    good = tmp_path / 'pool.json'
    good.write_text(json.dumps(['grasp the lid', 'put it on the towel']))
    policy = make_policy('sarl', seed=0)
    assert seed_pool(policy, good) == 2 and policy.pool.prompts == ['grasp the lid', 'put it on the towel']
    with pytest.raises(ValueError, match='no instruction pool'):
        seed_pool(make_policy('fixed'), good)
    bad = tmp_path / 'bad.json'
    bad.write_text('grasp the lid')
    with pytest.raises(ValueError, match='is not JSON'):
        BenchConfig(methods=['sarl'], tasks=['toy_chain'], seeds=[0], pool_file=str(bad))
