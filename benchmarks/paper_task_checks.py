"""Learner-free checks of the paper tasks: fixed task prompt, random choice, scripted grounded sequence.

These are the only figures the simulator was calibrated against (issue 18 targets: fixed ~0% on the
first three tasks and ~40% on the pot lid; random <= 20% on the first three; scripted high). No
learner is involved. The held-out paper-style tasks (--group held_out_paper) are checked against the
same targets before any learner runs on them. Usage:
  ./sarl run python benchmarks/paper_task_checks.py [--episodes 40] [--task T] [--group paper|held_out_paper]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from sarl_ros.core.baselines.simple import RandomPolicy
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.sim import registry


fixed_success = registry.fixed_prompt_success_rate


def scripted_success(env, task, seeds) -> float:
    wins = 0
    for seed in seeds:
        env.reset(seed=seed)
        for prompt in registry.scripted_solution(task, env.world):
            outcome = env.step(prompt)
            if outcome.done:
                break
        wins += outcome.success
    return wins / len(seeds)


def random_success(env, task, seeds) -> tuple[float, float]:
    proposer = registry.make_proposer(seed=1, task=task)
    policy = RandomPolicy(seed=1)
    results = [run_episode(env, proposer, policy, learn=False, seed=seed) for seed in seeds]
    return float(np.mean([r.success for r in results])), float(np.mean([r.decisions for r in results]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=40)
    parser.add_argument('--task', default=None)
    parser.add_argument('--group', default='paper', choices=('paper', 'held_out_paper'))
    args = parser.parse_args()
    group = registry.PAPER_TASKS if args.group == 'paper' else registry.HELD_OUT_PAPER_TASKS
    seeds = list(range(5000, 5000 + args.episodes))
    print(f'{"task":24s} {"budget":>6s} {"fixed":>6s} {"random":>6s} {"scripted":>8s}  s/episode (random)')
    for task in ([args.task] if args.task else group):
        env = registry.make_env(task, seed=0)
        fixed = fixed_success(env, seeds)
        scripted = scripted_success(env, task, seeds)
        started = time.monotonic()
        random_rate, decisions = random_success(env, task, seeds)
        per_episode = (time.monotonic() - started) / len(seeds)
        print(f'{task:24s} {env.max_decisions:6d} {fixed:6.2f} {random_rate:6.2f} {scripted:8.2f}  '
              f'{per_episode:.2f} ({decisions:.1f} decisions)', flush=True)


if __name__ == '__main__':
    main()
