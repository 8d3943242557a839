import threading

import numpy as np
import pytest
from core_helpers import transition

from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation
from sarl_ros.core.methods import METHOD_FACTORIES, METHODS, make_policy, register_method
from sarl_ros.core.policy import TemperatureSchedule, softmax

OBS = Observation(features=np.array([1.0, 0.0], dtype=np.float32))
CANDS = [Candidate('pick up the sushi', SOURCE_VLM, 0.3), Candidate('drop it', SOURCE_VLM, 0.9),
         Candidate('put the sushi in the pot', SOURCE_TASK, 0.0)]


def test_make_policy_knows_the_graph_methods_and_lists_them_for_unknown_names():
    from sarl_ros.graph.description import METHODS as GRAPH_METHODS
    assert tuple(METHODS) == tuple(GRAPH_METHODS)
    with pytest.raises(ValueError, match='sarl, sarl_nodemo, sarl_blind, .*sarl_text, fixed, icl, random, ucb, dsrl'):
        make_policy('ppo')
    with pytest.raises(ValueError, match='does not take'):
        make_policy('sarl_text', encoder='hashing', learning_rate=1)
    with pytest.raises(ValueError, match='sarl has no option learning_rate'):
        make_policy('sarl', encoder='hashing', learning_rate=1)


def test_register_method_is_the_seam_for_more_baselines():
    class Always(METHOD_FACTORIES['random']):
        name = 'always_first'

        def _choose(self, features, candidates, prompts, task, greedy):
            return 0, np.zeros(len(prompts)), (1.0,) + (0.0,) * (len(prompts) - 1), self.temperature

    register_method('always_first', Always)
    try:
        assert make_policy('always_first').select(OBS, CANDS, 'task').index == 0
        with pytest.raises(ValueError, match='already'):
            register_method('always_first', Always)
    finally:
        del METHOD_FACTORIES['always_first']


@pytest.mark.parametrize('method', METHODS)
def test_every_method_refuses_bad_input(method):
    policy = make_policy(method, encoder='hashing')
    policy.begin_episode('put the sushi in the pot')
    with pytest.raises(ValueError, match='no candidates'):
        policy.select(OBS, [], 'task')
    with pytest.raises(ValueError, match='blank'):
        policy.select(OBS, [Candidate('  ')] + CANDS, 'task')
    with pytest.raises(ValueError, match='NaN'):
        policy.select(Observation(features=np.array([np.nan, 0.0], np.float32)), CANDS, 'task')
    with pytest.raises(ValueError, match='reward'):
        policy.record(transition(reward=float('nan')))
    with pytest.raises(ValueError, match='NaN'):
        policy.record(transition(next_state=(np.inf, 0.0)))
    with pytest.raises(ValueError, match='bootstrap'):
        policy.record(transition(next_prompts=('', '  ')))
    with pytest.raises(ValueError, match='blank'):
        policy.record(transition(prompt='...'))
    assert policy.transitions == 0
    stats = policy.update(2)
    assert {'updates', 'td_loss', 'mean_q'} <= set(stats)


def test_sarl_refuses_features_of_another_size(sarl):
    sarl.select(OBS, CANDS, 'task')
    with pytest.raises(ValueError, match='built for 2'):
        sarl.select(Observation(features=np.zeros(3, np.float32)), CANDS, 'task')


def _fixed_q(policy, q):
    policy.learner.q_values = lambda features, prompts: np.asarray(q, dtype=np.float64)


def test_sarl_samples_from_softmax_of_q_over_temperature(sarl):
    q = [1.0, 0.5, 0.0, 0.8]
    cands = CANDS + [Candidate('lift the pot')]
    _fixed_q(sarl, q)
    temperature = sarl.current_temperature
    expected = softmax(np.array(q), temperature)
    draws = 6000
    counts = np.zeros(len(q))
    for _ in range(draws):
        decision = sarl.select(OBS, cands, 'task')
        counts[decision.index] += 1
    np.testing.assert_allclose(decision.probabilities, expected, rtol=1e-9)
    assert decision.prompt == cands[decision.index].prompt
    # Pearson chi-square with 3 degrees of freedom: 16.27 is the 0.999 quantile.
    chi2 = float(np.sum((counts - draws * expected) ** 2 / (draws * expected)))
    assert chi2 < 16.27, (counts, draws * expected)


def test_sarl_greedy_takes_the_best_q_and_reports_a_one_hot_distribution(sarl):
    _fixed_q(sarl, [0.1, 0.7, 0.3])
    decisions = {sarl.select(OBS, CANDS, 'task', greedy=True).index for _ in range(20)}
    assert decisions == {1}
    assert sarl.select(OBS, CANDS, 'task', greedy=True).probabilities == (0.0, 1.0, 0.0)


def test_temperature_schedule_decays_to_its_floor():
    schedule = TemperatureSchedule(0.2, 0.02, halflife=10)
    assert schedule(0) == pytest.approx(0.2)
    assert schedule(10) == pytest.approx(0.11)
    assert schedule(1000) == pytest.approx(0.02)


def test_sarl_temperature_advances_only_with_learning_episodes(sarl):
    start = sarl.current_temperature
    sarl.begin_episode('task')
    sarl.end_episode(False)  # an evaluation episode: nothing recorded
    assert sarl.current_temperature == start
    sarl.begin_episode('task')
    sarl.record(transition())
    sarl.end_episode(False)
    assert sarl.current_temperature < start


def test_duplicate_prompts_in_select_get_the_same_q(sarl):
    decision = sarl.select(OBS, [Candidate('Drop it.'), Candidate('drop it')], 'task')
    assert decision.q_values[0] == decision.q_values[1]


def test_sarl_update_changes_q_toward_reward(sarl):
    sarl.record(transition(prompt='release the sushi', reward=1.0, terminal=True, next_prompts=()))
    before = sarl.q_values(np.array([1.0, 0.0]), ['release the sushi'])[0]
    stats = sarl.update(50)
    after = sarl.q_values(np.array([1.0, 0.0]), ['release the sushi'])[0]
    assert stats['updates'] == 50 and stats['td_loss'] > 0
    assert after > before + 0.3


def test_sarl_update_before_any_transition_does_nothing(sarl):
    assert sarl.update(5)['updates'] == 0


def test_fixed_takes_the_task_prompt_or_refuses():
    policy = make_policy('fixed')
    assert policy.select(OBS, CANDS, 'put the sushi in the pot').index == 2
    vlm_only = [Candidate('a'), Candidate('Put the sushi in the pot.')]
    assert policy.select(OBS, vlm_only, 'put the sushi in the pot').index == 1
    with pytest.raises(ValueError, match='with_task_prompt'):
        policy.select(OBS, CANDS[:2], 'put the sushi in the pot')


def test_icl_prefers_the_vlm_favourite_and_does_not_repeat_itself():
    policy = make_policy('icl')
    policy.begin_episode('task')
    assert policy.select(OBS, CANDS, 'task', greedy=True).prompt == 'drop it'
    assert policy.select(OBS, CANDS, 'task', greedy=True).prompt == 'pick up the sushi'  # 'drop it' ran already
    policy.begin_episode('task')  # a new episode starts without repeats (its memory holds learning episodes)
    assert policy.select(OBS, CANDS, 'task', greedy=True).prompt == 'drop it'


def test_random_is_uniform():
    policy = make_policy('random', seed=3)
    counts = np.bincount([policy.select(OBS, CANDS, 'task').index for _ in range(3000)], minlength=3)
    assert np.all(np.abs(counts - 1000) < 120)


def test_ucb_tries_every_prompt_then_exploits_the_best():
    policy = make_policy('ucb', seed=0)
    payoff = {'pick up the sushi': 1.0, 'drop it': 0.0, 'put the sushi in the pot': 0.0}
    first = []
    for episode in range(30):
        policy.begin_episode('task')
        decision = policy.select(OBS, CANDS, 'task')
        if episode < 3:
            first.append(decision.prompt)
        policy.record(transition(prompt=decision.prompt, reward=payoff[decision.prompt], terminal=True,
                                 next_prompts=()))
        policy.end_episode(payoff[decision.prompt] > 0)
    assert sorted(first) == sorted(payoff)
    assert policy.select(OBS, CANDS, 'task', greedy=True).prompt == 'pick up the sushi'
    counts = {p: policy.stats[('task', p)][0] for p in payoff}
    assert counts['pick up the sushi'] > 20


def test_update_on_another_thread_while_selecting_and_recording(sarl):
    sarl.record(transition())
    errors = []
    stop = threading.Event()

    def learn():
        try:
            while not stop.is_set():
                sarl.update(4)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=learn)
    worker.start()
    try:
        for i in range(150):
            sarl.select(OBS, CANDS, 'task')
            sarl.record(transition(prompt=f'prompt {i % 7}', reward=float(i % 2)))
    finally:
        stop.set()
        worker.join()
    assert not errors
    assert sarl.transitions == 151 and len(sarl.learner.replay) == 151
    assert sarl.updates == sarl.learner.updates > 0
