"""Print the speed of the simulated WidowX tabletop.

Figures: ms per decision step without rendering (one prompt, a chunk of control steps at 5 Hz
with 2 ms physics), the control rate with a 256x256 render per control step, and the wall time
of 100 episodes of a policy choosing uniformly among the simulated VLM's candidates.

    ./sarl run python benchmarks/sim_speed.py [--task sushi_to_pot] [--episodes 100]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault('MUJOCO_GL', 'osmesa')

from sarl_ros.core.executor import execute_prompt  # noqa: E402
from sarl_ros.sim.registry import SUITE_TASKS, make_env, make_proposer, scripted_solution  # noqa: E402


def decision_step_ms(task: str, episodes: int, chunk: int | None) -> tuple[float, float]:
    """Return (ms per decision step, mean control steps per decision) over scripted episodes."""
    env = make_env(task, control_steps=chunk) if chunk else make_env(task)
    durations, steps = [], []
    for seed in range(episodes):
        env.reset(seed=seed)
        for prompt in scripted_solution(task):
            start = time.perf_counter()
            out = env.step(prompt)
            durations.append(time.perf_counter() - start)
            steps.append(out.control_steps)
    return 1000 * float(np.median(durations)), float(np.mean(steps))


def rendered_control_rate(task: str, control_steps: int) -> float:
    """Return control steps per second when every control step renders a 256x256 frame."""
    env = make_env(task, render=True, width=256, height=256)
    env.reset(seed=0)
    env.world.render()  # create the renderer outside the timing
    start, done = time.perf_counter(), 0
    while done < control_steps:
        run = execute_prompt(env.robot, env.camera, env.vla, 'move left' if done % 2 else 'move right', 5)
        done += run.control_steps
    return done / (time.perf_counter() - start)


def random_candidate_episodes(task: str, episodes: int) -> tuple[float, float]:
    """Return (seconds, success rate) of episodes choosing uniformly among proposed candidates."""
    env, proposer = make_env(task), make_proposer(seed=0)
    rng = np.random.default_rng(0)
    wins = 0
    start = time.perf_counter()
    for episode in range(episodes):
        observation = env.reset(seed=episode)
        history: list[str] = []
        for _ in range(env.max_decisions):
            candidates = proposer.propose(observation, env.task, history, 8)
            prompt = candidates[int(rng.integers(len(candidates)))].prompt
            out = env.step(prompt)
            history.append(prompt)
            observation = out.observation
            if out.done:
                break
        wins += out.success
    return time.perf_counter() - start, wins / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', default='sushi_to_pot', choices=SUITE_TASKS)
    parser.add_argument('--episodes', type=int, default=100)
    args = parser.parse_args()
    for chunk in (5, 8, None):
        ms, steps = decision_step_ms(args.task, 10, chunk)
        label = f'chunk <= {chunk}' if chunk else 'default chunk (<= 12)'
        print(f'decision step, no rendering, {label}: {ms:.1f} ms median '
              f'({steps:.1f} control steps, {ms / steps:.2f} ms per control step)')
    print(f'control rate with a 256x256 render per step: {rendered_control_rate(args.task, 60):.1f} Hz '
          f'(real time is 5 Hz)')
    seconds, rate = random_candidate_episodes(args.task, args.episodes)
    print(f'{args.episodes} episodes of a random-candidate policy on {args.task}: {seconds:.1f} s '
          f'(success {rate:.0%})')


if __name__ == '__main__':
    main()
