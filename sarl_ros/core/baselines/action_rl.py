"""Action-space RL baselines: DSRL (steer the VLA's latent noise) and residual RL (correct its actions).

Both keep the prompt fixed to the whole task (they choose the 'task' candidate, as the fixed baseline
does) and act inside each prompt's execution, through the executor's ActionSteering hook
(sarl_ros.core.executor); the environment hands them its steps (SimTabletopEnv.attach_steering).
They learn with SAC (sarl_ros.core.baselines.sac) from the same sparse success reward and the same observable
state SARL sees (Observation.features of the decision: joints + gripper, image code, prompt history).

- DSRL (Wagenmaker et al. 2025): the frozen base policy is a diffusion/flow VLA; SAC picks the
  latent noise w it denoises, one w per action chunk. Here a chunk is one execution of the prompt
  (<= 12 control steps; the simulated VLA plans a skill per chunk), so a transition is a decision:
  (features, w, reward, next features).
- residual (the residual stage of PLD, Xiao et al. 2025): SAC adds a bounded correction to each 7-D
  action of the frozen base policy; observation = decision features + current proprioception + the
  base action + the step's place in the chunk; one transition per control step, reward on the last
  step of a decision.

Transitions are stored only from record() (online learning), so greedy evaluation episodes, which
run with learn=False, leave the replay untouched; greedy decisions use the actor's mean.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarl_ros.core.baselines.config import BaselineConfig
from sarl_ros.core.baselines.simple import BaselinePolicy, task_prompt_index
from sarl_ros.core.config import register_config, setting
from sarl_ros.core.policy import one_hot
from sarl_ros.core.baselines.sac import SAC, SacConfig

# The benchmark's CPU budget (2 shared cores): 2x128 MLPs and batches of 128 instead of SAC's 2x256 and
# 256 (an update costs ~2.5x less); the observation has ~60 values, well within a 128-wide network.
BUDGET_HIDDEN = (128, 128)
BUDGET_BATCH = 128
CHUNK_STEPS = 12  # control steps per prompt in the simulator (sim.env.DEFAULT_CONTROL_STEPS): scales the step input


@register_config('method', 'dsrl')
@dataclass(frozen=True)
class DsrlConfig(BaselineConfig):
    """DSRL's hyperparameters.

    SAC's published defaults (Adam 3e-4, tau 0.005, alpha tuned to entropy -d) except the network
    (2x128) and batch (128), reduced for the CPU budget (BUDGET_HIDDEN).

    noise_bound: the latent action space is [-noise_bound, noise_bound]^d. DSRL bounds the noise the
      actor may pick; 3.0 keeps it where the prior N(0, I) has its mass while still reaching the
      base policy's rare behaviours (the simulated VLA's tails start at 2.5): its fairest form here.
    updates_per_decision: SAC steps after each decision, as SARL's 8 TD updates per decision.
    learning_starts: decisions stored before the first update (~6 episodes of the paper tasks).
    gamma: per decision, SARL's 0.9 (a decision is one chunk for both).
    init_alpha 0.1: the reward is a 0/1 success; SAC's 1.0 assumes denser, larger rewards and let the
      entropy bonus swamp it (sparse reach test: 3 % greedy success at 1.0, 100 % at 0.1).
    """

    latent_dim: int = setting(7, 'size of the latent noise the VLA denoises', low=1, high=4096)
    noise_bound: float = setting(3.0, 'latent actions lie in [-noise_bound, noise_bound]^d', low=1e-9, high=100.0)
    updates_per_decision: int = setting(8, 'SAC steps after each decision', low=0, high=4096)
    sac: SacConfig = setting(SacConfig(hidden=BUDGET_HIDDEN, batch_size=BUDGET_BATCH, gamma=0.9, learning_starts=32,
                                       init_alpha=0.1), "SAC's settings (a mapping changes single ones)")


@register_config('method', 'residual')
@dataclass(frozen=True)
class ResidualConfig(BaselineConfig):
    """Residual RL's hyperparameters.

    PLD's residual stage: a small SAC actor on top of the frozen base; SAC's defaults otherwise,
    with DsrlConfig's budget network and batch.

    bounds: largest correction per action value: 10 mm per control step on x y z (the base moves up
      to 45 mm), 0.05 rad on the rotations, 0.6 on the gripper (enough to flip open/close at 0.5).
    init_log_std: the actor starts narrow (pre-tanh std e^-1), so early exploration perturbs the base
      policy rather than replacing it (PLD starts the residual near zero for the same reason).
    updates_per_control_step: SAC steps per stored control step (update-to-data ratio 1, SAC's default).
    gamma: per control step, 0.9 ** (1/12): the same horizon as SARL's 0.9 per decision.
    init_alpha 0.01: as DSRL's 0.1, scaled down because the entropy bonus accrues over ~12x more
      steps per decision.
    """

    bounds: tuple[float, ...] = setting((0.01, 0.01, 0.01, 0.05, 0.05, 0.05, 0.6),
                                        'largest correction per action value (7: x y z, rotations, gripper)')
    updates_per_control_step: int = setting(1, 'SAC steps per stored control step', low=0, high=4096)
    sac: SacConfig = setting(SacConfig(hidden=BUDGET_HIDDEN, batch_size=BUDGET_BATCH,
                                       gamma=0.9 ** (1 / CHUNK_STEPS), learning_starts=256, init_log_std=-1.0,
                                       init_alpha=0.01), "SAC's settings (a mapping changes single ones)")

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, 'bounds', tuple(float(b) for b in self.bounds))
        if len(self.bounds) != 7 or min(self.bounds) <= 0:
            raise ValueError(f'bounds must be 7 positive values (one per action value), got {self.bounds}')


class _ActionSpacePolicy(BaselinePolicy):
    """Shared part: always the whole-task prompt; per-decision chunks of (observation, action) for SAC."""

    steers_actions = True  # the harness attaches it to the environment's prompt execution
    needs_noise = False

    def __init__(self, config: BaselineConfig | None = None, **run):
        super().__init__(config, **run)
        self.sac: SAC | None = None  # built at the first decision, when the feature size is known
        self._features: np.ndarray | None = None
        self._greedy = True
        self._chunk: list[tuple[np.ndarray, np.ndarray]] = []
        self._carry: tuple[np.ndarray, np.ndarray, float, bool] | None = None  # last step awaiting its next obs
        self._pending_updates = 0
        self.sac_stats: dict = {}

    # -- prompt choice: the fixed task prompt ---------------------------------------------------
    def _choose(self, features, candidates, prompts, task, greedy):
        index = task_prompt_index(candidates, prompts, task, f'{self.name} (it keeps the task prompt fixed)')
        if self.sac is None:
            self.sac = self._make_sac(features.size)
        self._features, self._greedy = features, bool(greedy)
        self._chunk = []
        return index, np.zeros(len(prompts)), one_hot(len(prompts), index), self.temperature

    def _begin(self) -> None:
        self._chunk, self._carry, self._features = [], None, None

    # -- learning -------------------------------------------------------------------------------
    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        if self.sac is None or not self._chunk:
            return  # nothing ran under our steering (e.g. an execution cancelled before its first step)
        observations = [obs for obs, _ in self._chunk]
        if self._carry is not None:
            obs, action, carried_reward, done = self._carry
            self._store(obs, action, carried_reward, observations[0], done)
            self._carry = None
        for (obs, action), next_obs in zip(self._chunk[:-1], observations[1:]):
            self._store(obs, action, 0.0, next_obs, False)
        last_obs, last_action = self._chunk[-1]
        final_next = self._next_observation(next_state)
        if transition.terminal or final_next is not None:
            self._store(last_obs, last_action, reward, final_next if final_next is not None else last_obs,
                        bool(transition.terminal))
        else:
            # Its successor is the next decision's first observation, not known yet.
            self._carry = (last_obs, last_action, reward, False)
        self._chunk = []

    def _end(self, success: bool) -> None:
        if self._carry is not None:
            # Truncated: bootstrap from the last observation (the budget, not the task, ended it).
            obs, action, reward, done = self._carry
            self._store(obs, action, reward, obs, done)
            self._carry = None

    def _store(self, obs, action, reward, next_obs, done) -> None:
        self.sac.add(obs, action, reward, next_obs, done)
        self._pending_updates += self._updates_per_stored_transition()

    def update(self, n_updates: int) -> dict:
        """Run the SAC steps owed for the transitions stored since the last call (none when n_updates is 0)."""
        super().update(n_updates)
        stats: list[dict] = []
        with self._lock:
            owed, self._pending_updates = (self._pending_updates if n_updates else 0), 0
            for _ in range(owed):
                step = self.sac.update() if self.sac is not None else {}
                if not step:
                    break
                stats.append(step)
                self.updates += 1
        if stats:
            self.sac_stats = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}
        return {'updates': len(stats), 'td_loss': self.sac_stats.get('critic_loss', 0.0) if stats else 0.0,
                'mean_q': self.sac_stats.get('mean_q', 0.0) if stats else 0.0,
                'replay_size': self.sac.replay.size if self.sac is not None else 0}

    # -- checkpoints ----------------------------------------------------------------------------
    def _method_state(self) -> dict:
        return {'sac': self.sac.state_dict() if self.sac is not None else None,
                'obs_dim': self.sac.obs_dim if self.sac is not None else 0}

    def _load_method_state(self, d: dict) -> None:
        if d.get('sac') is None:
            self.sac = None
            return
        self.sac = self._make_sac(int(d['obs_dim']) - self._extra_obs_dim())
        self.sac.load_state_dict(d['sac'])

    # -- per method -----------------------------------------------------------------------------
    def _make_sac(self, feature_dim: int) -> SAC:
        raise NotImplementedError

    def _extra_obs_dim(self) -> int:
        return 0

    def _updates_per_stored_transition(self) -> int:
        raise NotImplementedError

    def _next_observation(self, next_state) -> np.ndarray | None:
        """Return the observation following a decision's last step, if it is known at record() time."""
        return None

    def noise(self, step: int, proprio) -> np.ndarray | None:
        return None

    def correct(self, step: int, proprio, action: np.ndarray) -> np.ndarray:
        return action


class DsrlPolicy(_ActionSpacePolicy):
    """DSRL: SAC over the base VLA's latent noise, one noise per chunk (prompt execution), fixed task prompt."""

    name = 'dsrl'
    config_class = DsrlConfig
    needs_noise = True

    def __init__(self, config: DsrlConfig | None = None, **run):
        super().__init__(config, **run)
        self.latent_dim = self.config.latent_dim

    def _make_sac(self, feature_dim: int) -> SAC:
        return SAC(feature_dim, self.latent_dim, self.config.sac, action_scale=self.config.noise_bound, seed=self.seed)

    def _updates_per_stored_transition(self) -> int:
        return self.config.updates_per_decision

    def _next_observation(self, next_state) -> np.ndarray:
        return np.asarray(next_state, dtype=np.float32)

    def noise(self, step: int, proprio) -> np.ndarray | None:
        """Return the chunk's latent at its first control step (the VLA reads it when it plans)."""
        with self._lock:
            if step != 0 or self._features is None or self.sac is None:
                return None
            latent = self.sac.act(self._features, deterministic=self._greedy)
            self._chunk = [(self._features, latent)]
            return latent


class ResidualPolicy(_ActionSpacePolicy):
    """Residual RL: SAC adds a bounded correction to every 7-D action of the base VLA, fixed task prompt."""

    name = 'residual'
    config_class = ResidualConfig

    def _extra_obs_dim(self) -> int:
        return 7 + 7 + 1  # proprioception, base action, place in the chunk

    def _make_sac(self, feature_dim: int) -> SAC:
        return SAC(feature_dim + self._extra_obs_dim(), 7, self.config.sac, action_scale=self.config.bounds,
                   seed=self.seed)

    def _updates_per_stored_transition(self) -> int:
        return self.config.updates_per_control_step

    def correct(self, step: int, proprio, action: np.ndarray) -> np.ndarray:
        """Return the base action plus the actor's bounded correction for this control step."""
        with self._lock:
            if self._features is None or self.sac is None:
                return action
            obs = np.concatenate([self._features, np.asarray(proprio, np.float32).reshape(-1)[:7],
                                  np.asarray(action, np.float32), [step / CHUNK_STEPS]]).astype(np.float32)
            delta = self.sac.act(obs, deterministic=self._greedy)
            self._chunk.append((obs, delta))
            return np.asarray(action, dtype=np.float64) + delta
