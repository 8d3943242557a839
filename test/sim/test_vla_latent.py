"""The simulated VLA's latent noise: the prior reproduces the un-steered behaviour, the tails reach its rare modes."""
import numpy as np
import pytest

from sarl_ros.sim.registry import make_env
from sarl_ros.sim.vla import LATENT_DIM, TAIL

PROMPT = 'put the pot lid on the towel'


def _plan(env, seed, noise=None, rng_state=None):
    env.reset(seed=seed)
    if rng_state is not None:
        env.vla.rng.bit_generator.state = rng_state
    env.vla.reset()
    env.vla.act(None, PROMPT, env.robot.proprio(), noise=noise)
    return [p.xyz.copy() for p in env.vla._plan if p.xyz is not None], dict(env.vla.last_grounding)


def test_a_latent_drawn_from_the_prior_gives_the_plan_the_sampled_noise_gives():
    env = make_env('pot_lid_on_towel')
    for seed in range(3):
        env.reset(seed=seed)
        state = env.vla.rng.bit_generator.state
        sampled, grounding = _plan(env, seed, rng_state=state)
        replay = np.random.default_rng()
        replay.bit_generator.state = state
        latent = np.zeros(LATENT_DIM)
        latent[:4] = replay.standard_normal(4)  # the two aim draws the un-steered plan makes, in order
        steered, steered_grounding = _plan(env, seed, noise=latent)
        assert steered_grounding == grounding
        assert len(steered) == len(sampled) and all(np.allclose(a, b) for a, b in zip(steered, sampled))


def test_a_latent_in_the_tail_grounds_the_phrase_to_the_other_look_alike():
    env = make_env('pot_lid_on_towel')
    switched = 0
    for seed in range(6):
        _, usual = _plan(env, seed, noise=np.zeros(LATENT_DIM))
        flip = np.zeros(LATENT_DIM)
        flip[4] = TAIL + 0.3
        _, rare = _plan(env, seed, noise=flip)
        assert rare['target'] == usual['target']
        switched += rare['object'] != usual['object']
        assert {usual['object'], rare['object']} <= {'pot', 'lid'}
    assert switched >= 3  # the latent, not the scene, decides between pot and lid


def test_a_latent_of_the_wrong_size_is_refused():
    env = make_env('pot_lid_on_towel')
    env.reset(seed=0)
    with pytest.raises(ValueError, match='latent values'):
        env.vla.act(None, PROMPT, env.robot.proprio(), noise=np.zeros(3))


@pytest.mark.parametrize('method', ['dsrl', 'residual'])
def test_action_space_methods_run_on_a_paper_task_through_the_harness(method):
    from sarl_ros.harness.harness import BenchConfig, Job, run_job
    config = BenchConfig(methods=[method], tasks=['pot_lid_on_towel'], seeds=[0], episodes=2, eval_at=[0, 2],
                         eval_episodes=2, encoder='hashing')
    rows = run_job(Job(method, 'pot_lid_on_towel', 0, config), progress=None)
    assert [r['episodes'] for r in rows] == [0, 2]
    assert all(0.0 <= r['eval_success'] <= 1.0 for r in rows)
