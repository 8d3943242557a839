"""The simulated VLA's latent noise under its prior: the fixed task prompt's success, un-steered and steered.

Side by side on the protocol's calibration scenes (reset seeds 5000..): `sampled` is the fixed prompt as
every method but DSRL runs it (noise drawn inside the VLA, bit-identical to before the latent input
existed); `prior latent` passes a latent drawn from N(0, I) at every chunk, through the same steering hook
DSRL uses. They should agree within sampling error (binomial s.e. shown).
Usage: ./sarl run python benchmarks/latent_prior_check.py [--episodes 40]
"""
from __future__ import annotations

import argparse
import math

import numpy as np
from paper_task_checks import fixed_success  # the same learner-free check (benchmarks/ is on sys.path)

from sarl_ros.sim import registry
from sarl_ros.sim.vla import LATENT_DIM


class PriorLatent:
    """ActionSteering that draws the latent from the prior at each chunk and leaves the actions alone."""

    needs_noise = True

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def noise(self, step, proprio):
        return self.rng.standard_normal(LATENT_DIM) if step == 0 else None

    def correct(self, step, proprio, action):
        return action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=40)
    args = parser.parse_args()
    seeds = list(range(5000, 5000 + args.episodes))
    print(f'{"task":24s} {"sampled":>8s} {"prior latent":>13s}  (s.e. of a rate p: sqrt(p(1-p)/{len(seeds)}))')
    for task in registry.PAPER_TASKS:
        env = registry.make_env(task, seed=0)
        sampled = fixed_success(env, seeds)
        env.attach_steering(PriorLatent(seed=1))
        prior = fixed_success(env, seeds)
        se = math.sqrt(max(sampled * (1 - sampled), 1e-9) / len(seeds))
        print(f'{task:24s} {sampled:8.2f} {prior:13.2f}  (s.e. {se:.2f})', flush=True)


if __name__ == '__main__':
    main()
