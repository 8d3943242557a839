"""sarl-demo: watch SARL learn a long-horizon task on the simulated WidowX 250.

Runs online semantic RL on one of the paper's WidowX tasks in simulation, without ROS: every
episode the simulated VLM proposes commands from what it perceives, the Q-policy picks one from
the observable state (joints, gripper, camera image, executed prompts), the simulated VLA executes
it, and TD updates run between decisions. Progress is printed per episode; the output directory
receives episodes.csv (appended as it goes), a checkpoint after every episode, the learning
curve (learning_curve.png) and an image strip of a final greedy episode (last_episode.png).
Run again with the same output directory, it resumes after the last checkpointed episode and
ends exactly as an uninterrupted run would (--fresh moves the old directory aside to <dir>.old-N
and starts over).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from sarl_ros.core.config import add_arguments
from sarl_ros.core.method_names import DEFAULT_METHOD
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER, ENCODERS
from sarl_ros.core.sarl.config import SarlConfig

DEFAULT_TASK = 'hammer_plate_mushroom'  # the paper's own example: the task prompt never succeeds
LEARNER_FLAGS = ('temperature', 'temperature_final', 'temperature_halflife', 'gamma', 'pool_capacity', 'demonstrations')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='sarl-demo', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--task', default=DEFAULT_TASK, help='simulated task (see --list-tasks)')
    parser.add_argument('--episodes', type=int, default=60, help='online episodes in all (a resumed run continues '
                        'up to this number)')
    parser.add_argument('--method', default=DEFAULT_METHOD,
                        help='sarl or a baseline: fixed, icl, random, sarl_blind, sarl_oracle, ucb')
    parser.add_argument('--pool-file', type=Path, default=None,
                        help='seed the instruction pool with the prompts of a JSON list before anything else joins it')
    parser.add_argument('--reset', default='paper_like', choices=('paper_like', 'repaint'),
                        help='paper_like: the scene is kept between episodes (colours, layout), positions jittered; '
                             'repaint: new colours and positions every episode (harder)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--encoder', default=DEFAULT_ENCODER, choices=ENCODERS)
    parser.add_argument('--output-dir', default='runs/demo', type=Path)
    parser.add_argument('--fresh', action='store_true',
                        help='start afresh: move an existing output directory aside instead of resuming it')
    parser.add_argument('--list-tasks', action='store_true', help='print the tasks and exit')
    # The learner's options, generated from SarlConfig's fields (type, range, help); a flag not given keeps
    # the method's own value (sarl_nodemo: no demonstrations). Demonstrations follow the task's grounded solution.
    learner = parser.add_argument_group('learner options (a flag not given keeps the method\'s own value)')
    add_arguments(learner, SarlConfig, only=LEARNER_FLAGS, given_only=True)
    args = parser.parse_args(argv)
    if args.episodes <= 0:
        parser.error(f'--episodes must be positive, got {args.episodes}')
    return args


def learner_options(args: argparse.Namespace, method: str) -> dict:
    """Return the learner flags given on the command line that the method takes (ValueError for others)."""
    from sarl_ros.core.methods import method_defaults
    given = {name: getattr(args, name) for name in LEARNER_FLAGS if hasattr(args, name)}
    refused = sorted(set(given) - set(method_defaults(method)))
    if refused:
        raise ValueError(f'method {method} does not take --{", --".join(n.replace("_", "-") for n in refused)}')
    return given


class FrameRecorder:
    """Wrap an environment and keep the image of every observation it returns."""

    def __init__(self, env):
        self.env = env
        self.frames: list[tuple[str, np.ndarray]] = []

    def reset(self, seed=None):
        observation = self.env.reset(seed=seed)
        self._keep('start', observation)
        return observation

    def step(self, prompt):
        outcome = self.env.step(prompt)
        self._keep(prompt, outcome.observation)
        return outcome

    def _keep(self, label, observation):
        if observation.image is not None:
            self.frames.append((label, observation.image))

    def __getattr__(self, name):
        return getattr(self.env, name)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import torch
    torch.set_num_threads(1)  # tiny networks: threads cost more than they give on 2 cores
    from sarl_ros.core.durability.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from sarl_ros.core.episode_loop import UPDATES_PER_DECISION, episode_seed, episode_stream_seed, run_episode
    from sarl_ros.core.methods import make_policy
    from sarl_ros.core.sarl.demonstrations import Demonstrated
    from sarl_ros.core.sarl.pool import PooledProposer, seed_pool
    from sarl_ros.core.durability.resume import finished_episodes, set_aside, trim_record
    from sarl_ros.sim import registry
    from sarl_ros.sim.state import OBSERVABLE_GROUPS

    if args.list_tasks:
        print('paper:', ', '.join(registry.PAPER_TASKS))
        print('held-out paper-style:', ', '.join(registry.HELD_OUT_PAPER_TASKS))
        print('legacy suite:', ', '.join(registry.SUITE_TASKS))
        print('legacy held out:', ', '.join(registry.HELD_OUT_TASKS))
        return 0
    out = args.output_dir
    checkpoint = out / 'checkpoint.pt'
    if args.fresh and (aside := set_aside(out)) is not None:
        print(f'fresh run: the previous run in {out} was moved to {aside}')
    try:
        spec = registry.task_spec(args.task)
        if checkpoint.is_file():
            policy = load_checkpoint(checkpoint)
            if policy.name != args.method:
                raise ValueError(f'{checkpoint} holds a {policy.name!r} run, not {args.method!r}: '
                                 'use --fresh or another --output-dir')
        else:
            options = learner_options(args, args.method)
            policy = make_policy(args.method, seed=args.seed, encoder=args.encoder, **options)
            if args.pool_file is not None:
                seed_pool(policy, args.pool_file)
        state = policy.state_mode if spec.group in OBSERVABLE_GROUPS else None
        scene = {'scene_seed': args.seed} if args.reset == 'paper_like' and spec.group in OBSERVABLE_GROUPS else {}
        env = registry.make_env(args.task, seed=args.seed, state=state, **scene)
    except (ValueError, CheckpointError) as exc:
        print(f'sarl-demo: {exc}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    episodes_csv = out / 'episodes.csv'
    # The checkpoint is the authority: rows of an episode it does not hold are redone.
    trim_record(episodes_csv, policy.episodes)
    # Demonstrations are the run's first episodes (chooser 'person'); the curve shows online ones only.
    demonstrations = getattr(getattr(policy, 'config', None), 'demonstrations', 0)
    successes = [row['success'] == '1' for row in finished_episodes(episodes_csv) if row.get('chooser') != 'person']
    first = policy.episodes + 1
    resumed = f', resuming at episode {first}' if first > 1 else ''
    print(f'SARL demo: task "{env.task}" ({args.task}), method {args.method}, {args.episodes} episodes, '
          f'output {out}/{resumed}', flush=True)

    def episode_proposer(episode):
        # Seeded from (seed, episode) like the scene (reset seed) and the simulated VLA (seeded by
        # reset): a resumed run draws what an uninterrupted one would, with no RNG to checkpoint.
        # The policy's own RNG and learner are cumulative: they are in the checkpoint.
        vlm = registry.make_proposer(seed=episode_stream_seed(args.seed, episode, 'proposer'), task=args.task)
        # The method's instruction pool: until full new proposals join it, then the VLM chooses from it.
        pool = getattr(policy, 'pool', None)
        return vlm if pool is None else PooledProposer(vlm, pool)

    started = time.monotonic()
    total = demonstrations + args.episodes
    for episode in range(first, total + 1):
        demonstrated = episode <= demonstrations
        chooser = Demonstrated(policy, registry.make_demonstrator(env)) if demonstrated else policy
        result = run_episode(env, episode_proposer(episode), chooser, seed=episode_seed(args.seed, episode),
                             episode=episode,
                             updates_per_decision=getattr(policy, 'updates_per_decision', UPDATES_PER_DECISION))
        if not demonstrated:
            successes.append(bool(result.success))
        # Record first, then checkpoint: a kill in between leaves a row that resuming trims and redoes.
        _append_episode(episodes_csv, episode, result, 'person' if demonstrated else 'policy')
        save_checkpoint(policy, checkpoint)  # after every episode: nothing lost on a crash
        recent = successes[-10:]
        label = (f'demonstration {episode}/{demonstrations} (the person chooses)' if demonstrated
                 else f'episode {episode - demonstrations:3d}/{args.episodes}')
        rate = f'success rate (last {len(recent)}): {np.mean(recent):4.0%}' if recent else ''
        print(f'{label}  {"SUCCESS" if result.success else "failure"}  {result.decisions} decisions  {rate}  '
              f'[{time.monotonic() - started:5.1f} s]  ' + ' -> '.join(result.prompts), flush=True)

    final_env = FrameRecorder(registry.make_env(args.task, seed=args.seed, render=True, state=state, **scene))
    if not successes:
        print('sarl-demo: no episode to report', file=sys.stderr)
        return 1
    final_episode = total + 1
    final = run_episode(final_env, episode_proposer(final_episode), policy, greedy=True, learn=False,
                        seed=episode_seed(args.seed, final_episode), episode=final_episode)
    from sarl_ros.apps.figures import plot_learning_curve, save_image_strip
    plot_learning_curve(successes, out / 'learning_curve.png',
                        title=f'{args.method} on {args.task} (seed {args.seed})')
    save_image_strip(final_env.frames, out / 'last_episode.png',
                     title=f'greedy episode after training: {"success" if final.success else "failure"}')
    first, last = np.mean(successes[:10]), np.mean(successes[-10:])
    print(f'done in {time.monotonic() - started:.0f} s: success rate {first:.0%} in the first 10 episodes, '
          f'{last:.0%} in the last 10; greedy episode after training: '
          f'{"success" if final.success else "failure"} ({" -> ".join(final.prompts)})')
    print(f'wrote {out / "learning_curve.png"}, {out / "last_episode.png"}, {episodes_csv}, '
          f'{out / "checkpoint.pt"}')
    return 0


def _append_episode(path: Path, episode: int, result, chooser: str) -> None:
    new = not path.exists()
    with path.open('a', newline='') as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(['episode', 'success', 'decisions', 'control_steps', 'prompts', 'chooser'])
        writer.writerow([episode, int(result.success), result.decisions, result.control_steps,
                         ' | '.join(result.prompts), chooser])
        # On disk before the checkpoint names the episode: a row is never missing for a checkpointed one.
        f.flush()
        os.fsync(f.fileno())


if __name__ == '__main__':
    raise SystemExit(main())
