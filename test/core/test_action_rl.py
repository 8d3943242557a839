"""SAC and the action-space RL baselines (dsrl, residual) learn, refuse what they cannot steer, and checkpoint."""
import numpy as np
import pytest
from action_rl_toys import PointReachEnv, TaskOnlyProposer

from sarl_ros.core.durability.checkpoint import load_checkpoint, save_checkpoint
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.executor import execute_prompt
from sarl_ros.core.methods import make_policy
from sarl_ros.core.baselines.sac import SAC, SacConfig

SMALL = {'hidden': (64, 64), 'batch_size': 64, 'lr': 1e-3, 'learning_starts': 32, 'init_alpha': 0.1}
EVAL_SEEDS = range(5000, 5040)


def greedy_success(policy, env) -> float:
    proposer = TaskOnlyProposer()
    return float(np.mean([run_episode(env, proposer, policy, greedy=True, learn=False, seed=s).success
                          for s in EVAL_SEEDS]))


def train(policy, env, episodes: int) -> None:
    proposer = TaskOnlyProposer()
    for episode in range(episodes):
        run_episode(env, proposer, policy, seed=episode, episode=episode)


def test_sac_learns_a_sparse_reward_reach_with_a_known_solution():
    # One-step reaching: the observation is a target in [-1, 1]^2, reward 1 only within 0.25 of it;
    # the solution is action = observation. A random action succeeds ~5 % of the time.
    sac = SAC(2, 2, SacConfig(**SMALL), action_scale=1.0, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(700):
        target = rng.uniform(-1, 1, 2)
        action = sac.act(target)
        sac.add(target, action, float(np.linalg.norm(action - target) < 0.25), target, True)
        sac.update()
    targets = np.random.default_rng(1).uniform(-1, 1, (100, 2))
    hits = [np.linalg.norm(sac.act(t, deterministic=True) - t) < 0.25 for t in targets]
    assert np.mean(hits) >= 0.8


def test_base_policy_alone_is_only_partly_right_on_the_toy():
    base = greedy_success(make_policy('fixed', encoder='hashing'), PointReachEnv())
    assert 0.1 <= base <= 0.5


def test_dsrl_steers_the_latent_noise_to_the_base_policys_successful_behaviour():
    env = PointReachEnv()
    base = greedy_success(make_policy('fixed', encoder='hashing'), env)
    policy = make_policy('dsrl', seed=0, encoder='hashing', latent_dim=2, sac=SMALL)
    env.attach_steering(policy)
    train(policy, env, 150)
    assert greedy_success(policy, env) >= max(0.8, base + 0.4)


def test_residual_learns_to_cancel_the_base_policys_bias():
    # One control step per chunk: SAC needs a few hundred updates here, and residual RL makes one per step.
    env = PointReachEnv(chunk=1)
    base = greedy_success(make_policy('fixed', encoder='hashing'), env)
    policy = make_policy('residual', seed=0, encoder='hashing', bounds=(0.1, 0.1, 0.001, 0.001, 0.001, 0.001, 0.01),
                         sac={**SMALL, 'learning_starts': 64, 'init_alpha': 0.01})
    env.attach_steering(policy)
    train(policy, env, 500)
    assert greedy_success(policy, env) >= max(0.6, base + 0.3)


def test_greedy_evaluation_leaves_the_replay_untouched_and_a_checkpoint_restores_the_learner(tmp_path):
    env = PointReachEnv()
    policy = make_policy('residual', seed=3, encoder='hashing', sac=SMALL)
    env.attach_steering(policy)
    train(policy, env, 12)
    stored = policy.sac.replay.size
    assert stored == 12 * 4  # one transition per control step
    greedy_success(policy, env)
    assert policy.sac.replay.size == stored
    restored = load_checkpoint(save_checkpoint(policy, tmp_path / 'residual.pt'))
    obs = np.linspace(-1, 1, policy.sac.obs_dim)
    assert np.allclose(restored.sac.act(obs, deterministic=True), policy.sac.act(obs, deterministic=True))
    assert restored.sac.replay.size == stored and restored.updates == policy.updates


def test_dsrl_refuses_a_vla_without_a_noise_input():
    class Autoregressive:  # like OpenVLA: act(image, instruction, proprio) only
        def reset(self):
            pass

        def act(self, image, instruction, proprio):
            return np.zeros(7)

        def skill_done(self):
            return False

    env = PointReachEnv()
    dsrl = make_policy('dsrl', encoder='hashing', latent_dim=2)
    with pytest.raises(ValueError, match='DSRL.*Autoregressive has no noise input'):
        execute_prompt(env.robot, None, Autoregressive(), 'reach', 4, steering=dsrl)
    from sarl_ros.backends.openvla import OpenVLAPolicy
    from sarl_ros.backends.vla_client import RemoteVLA
    assert not OpenVLAPolicy.accepts_noise and not RemoteVLA.accepts_noise
    # Residual RL needs no noise: it runs on any VLA.
    residual = make_policy('residual', encoder='hashing')
    assert execute_prompt(env.robot, None, Autoregressive(), 'reach', 2, steering=residual).control_steps == 2
