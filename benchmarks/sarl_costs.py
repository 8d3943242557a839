"""Cost of the paper's SARL on this CPU: one decision and one TD update, per network structure.

    ./sarl run python benchmarks/sarl_costs.py [--threads 2]

Prints, side by side, the median time of one decision (encode the image, run the ensemble on up to 9
candidates, sample) and of one TD update (expected-SARSA target over 9 next candidates) for the
shared CNN and 10 separate CNNs, at batch 64 and 256, on a 32x32 frame (the state's pixel block).
Synthetic transitions: the cost does not depend on what the frames show.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sarl_ros.core.mdp import Candidate, Observation, Transition
from sarl_ros.core.perception.observable_features import OBSERVABLE_DIM
from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.core.sarl.policy import PaperSarlPolicy


def _policy(config: SarlConfig, transitions: int = 300) -> tuple[PaperSarlPolicy, list[Candidate], np.ndarray]:
    rng = np.random.default_rng(0)
    policy = PaperSarlPolicy(config, seed=0)
    prompts = [f'command number {i}' for i in range(config.pool_capacity)]
    candidates = [Candidate(p) for p in prompts[:9]]
    state = rng.random(OBSERVABLE_DIM).astype(np.float32)
    policy.begin_episode('task', max_decisions=6)
    for i in range(transitions):
        policy.record(Transition(state=rng.random(OBSERVABLE_DIM).astype(np.float32), prompt=prompts[i % 32],
                                 reward=float(i % 7 == 0), next_state=rng.random(OBSERVABLE_DIM).astype(np.float32),
                                 next_prompts=tuple(prompts[(i + k) % 32] for k in range(9)), terminal=i % 7 == 0,
                                 step=i % 6))
    return policy, candidates, state


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} thread(s), 32x32 frames, ensemble of 10, 9 candidates')
    print(f'{"structure":28s} {"decision ms":>12s} {"update ms":>10s}')
    for label, config in (('shared CNN, batch 64', SarlConfig()),
                          ('shared CNN, batch 256', SarlConfig(batch_size=256)),
                          ('10 CNNs, batch 64', SarlConfig(shared_encoder=False)),
                          ('10 CNNs, batch 256', SarlConfig(shared_encoder=False, batch_size=256))):
        policy, candidates, state = _policy(config)
        observation = Observation(features=state)
        decision = _median_ms(lambda: policy.select(observation, candidates, 'task'), args.repeats)
        update = _median_ms(lambda: policy.update(1), max(5, args.repeats // 3))
        print(f'{label:28s} {decision:12.1f} {update:10.1f}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
