"""Print the learner's decision overhead on this CPU (no VLM, no VLA): the figures issue 3 targets.

  - median ms to encode and score 16 candidates and sample one: all 16 cached, 4 new + 12 cached,
    and over the select() calls of a real learning run (simulated suite task, or a toy task);
  - median ms of one TD update on a batch of 256;
  - replay memory of 10,000 transitions in MB.

Run: ./sarl run python benchmarks/decision_overhead.py [--encoder auto|minilm|hashing] [--state-dim 25]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from sarl_ros.core.mdp import Candidate, Observation, Transition
from sarl_ros.core.methods import make_policy

CANDIDATES = 16
NEW_PER_CALL = 4
TARGETS = {'select': 5.0, 'update': 20.0, 'replay': 100.0}


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure_select(encoder: str, state_dim: int, repeats: int, new_per_call: int) -> float:
    policy = make_policy('sarl', encoder=encoder, seed=0)
    rng = np.random.default_rng(0)
    known = [f'pick up the object number {i}' for i in range(64)]
    observation = Observation(features=rng.normal(size=state_dim).astype(np.float32))
    policy.select(observation, [Candidate(p) for p in known[:CANDIDATES]], 'task')  # build the network
    counter = iter(range(10 ** 9))

    def one_call():
        fresh = [f'move the gripper {next(counter)} cm to the left' for _ in range(new_per_call)]
        cached = list(rng.choice(known, CANDIDATES - new_per_call, replace=False))
        policy.select(observation, [Candidate(p) for p in fresh + cached], 'task')

    for _ in range(5):
        one_call()
    return _median_ms(one_call, repeats)


def measure_select_in_a_run(encoder: str, episodes: int) -> tuple[str, float, float, float]:
    """Return (task, median ms, 90th percentile ms, share of calls encoding a new prompt) of a learning run."""
    from sarl_ros.harness.task_table import available_tasks
    from sarl_ros.core.episode_loop import run_episode

    tasks = available_tasks()
    name = 'sushi_to_pot' if 'sushi_to_pot' in tasks else 'toy_noisy'
    env, proposer = tasks[name].make_env(0), tasks[name].make_proposer(0)
    policy = make_policy('sarl', encoder=encoder, seed=0)
    encoder_cache = policy.learner.encoder
    times, new_calls = [], []
    select = policy.select

    def timed_select(*args, **kwargs):
        misses = getattr(encoder_cache, 'misses', 0)
        start = time.perf_counter()
        decision = select(*args, **kwargs)
        times.append((time.perf_counter() - start) * 1e3)
        new_calls.append(getattr(encoder_cache, 'misses', 0) > misses)
        return decision

    policy.select = timed_select
    for episode in range(episodes):
        run_episode(env, proposer, policy, seed=episode)
    return name, statistics.median(times), float(np.percentile(times, 90)), float(np.mean(new_calls))


def _filled_policy(encoder: str, state_dim: int, transitions: int, **kw):
    policy = make_policy('sarl', encoder=encoder, seed=0, **kw)
    rng = np.random.default_rng(1)
    prompts = [f'prompt {i}' for i in range(200)]
    for i in range(transitions):
        policy.record(Transition(rng.normal(size=state_dim).astype(np.float32), prompts[i % 200], float(i % 7 == 0),
                                 rng.normal(size=state_dim).astype(np.float32),
                                 tuple(rng.choice(prompts, 9, replace=False)), i % 7 == 0))
    return policy


def measure_update(encoder: str, state_dim: int, repeats: int) -> float:
    policy = _filled_policy(encoder, state_dim, 2000, batch_size=256)
    policy.update(5)
    return _median_ms(lambda: policy.update(1), repeats)


def measure_replay_mb(state_dim: int) -> float:
    policy = _filled_policy('hashing', state_dim, 10_000)
    learner = policy.learner
    return (learner.replay.nbytes + learner._embeddings.nbytes) / 2 ** 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--encoder', default='auto', choices=('auto', 'minilm', 'hashing'))
    parser.add_argument('--state-dim', type=int, default=25, help='state features (25: the simulator\'s)')
    parser.add_argument('--repeats', type=int, default=200)
    parser.add_argument('--run-episodes', type=int, default=30, help='episodes of the learning run')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sarl_ros.core.perception.text_encoding import make_encoder
    encoder_name = make_encoder(args.encoder).name
    cached_ms = measure_select(args.encoder, args.state_dim, args.repeats, 0)
    select_ms = measure_select(args.encoder, args.state_dim, args.repeats, NEW_PER_CALL)
    run_task, run_median, run_p90, run_new = measure_select_in_a_run(args.encoder, args.run_episodes)
    update_ms = measure_update(args.encoder, args.state_dim, args.repeats)
    replay = {dim: measure_replay_mb(dim) for dim in sorted({args.state_dim, 512})}
    print(f'encoder {encoder_name}, state features {args.state_dim}, torch threads {args.threads}')
    print(f'select (encode + score {CANDIDATES} candidates, sample), all cached: median {cached_ms:.2f} ms '
          f'(target < {TARGETS["select"]:.0f})')
    print(f'select, {NEW_PER_CALL} of {CANDIDATES} prompts new each call: median {select_ms:.2f} ms')
    print(f'select during {args.run_episodes} learning episodes of {run_task}: median {run_median:.2f} ms, '
          f'90th percentile {run_p90:.2f} ms; {run_new:.0%} of the calls encoded a new prompt')
    print(f'TD update, batch 256, 9 next candidates: median {update_ms:.2f} ms (target < {TARGETS["update"]:.0f})')
    for dim, mb in replay.items():
        print(f'replay of 10,000 transitions, {dim} features: {mb:.1f} MB (target < {TARGETS["replay"]:.0f})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
