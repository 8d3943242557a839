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
import os
import sys
import time
from pathlib import Path

import numpy as np

from sarl_ros.core.config import add_arguments, from_arguments
from sarl_ros.core.online_run import RunConfig
from sarl_ros.core.sarl.config import SarlConfig

# The flags of RunConfig the demo takes (defaults, ranges and help are RunConfig's).
RUN_FLAGS = ('task', 'episodes', 'method', 'demonstrations', 'pool_file', 'reset', 'seed', 'encoder', 'output_dir',
             'fresh')
# The learner's flags, generated from SarlConfig (demonstrations is a run flag: -1 keeps the method's own).
LEARNER_FLAGS = ('temperature', 'temperature_final', 'temperature_halflife', 'gamma', 'pool_capacity')
# The demo shows the paper's own example, whose task prompt never succeeds (the graph's default task is the
# quicker pot lid, RunConfig's).
DEMO_TASK = 'hammer_plate_mushroom'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='sarl-demo', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(parser, RunConfig, only=RUN_FLAGS)
    # Its own directory: a demo never resumes a graph run (runs/latest) by accident.
    parser.set_defaults(output_dir='runs/demo', task=DEMO_TASK)
    parser.add_argument('--list-tasks', action='store_true', help='print the tasks and exit')
    # The learner's options, generated from SarlConfig's fields (type, range, help); a flag not given keeps
    # the method's own value (sarl_nodemo: no demonstrations). Demonstrations follow the task's grounded solution.
    learner = parser.add_argument_group('learner options (a flag not given keeps the method\'s own value)')
    add_arguments(learner, SarlConfig, only=LEARNER_FLAGS, given_only=True)
    args = parser.parse_args(argv)
    if args.episodes <= 0:
        parser.error(f'--episodes must be positive, got {args.episodes}')
    args.run = from_arguments(args, RunConfig)
    return args


def learner_options(args: argparse.Namespace, method: str) -> dict:
    """Return the learner flags given on the command line that the method takes (ValueError for others)."""
    from sarl_ros.core.methods import method_defaults
    takes = set(method_defaults(method))
    given = {name: getattr(args, name) for name in LEARNER_FLAGS if hasattr(args, name)}
    # --demonstrations is a run flag (-1: the method's own); a count given is the method's option, and
    # 0 asked of a method without demonstrations is what it does anyway.
    if args.run.demonstrations > 0 or (args.run.demonstrations == 0 and 'demonstrations' in takes):
        given['demonstrations'] = args.run.demonstrations
    refused = sorted(set(given) - takes)
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
    run: RunConfig = args.run
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import torch
    torch.set_num_threads(1)  # tiny networks: threads cost more than they give on 2 cores
    from sarl_ros.core.durability.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from sarl_ros.core.durability.resume import set_aside
    from sarl_ros.core.episode_loop import UPDATES_PER_DECISION, episode_seed, episode_stream_seed, run_episode
    from sarl_ros.core.methods import make_policy
    from sarl_ros.core.online_run import PERSON, OnlineRun, RunRecord, resume_position
    from sarl_ros.core.sarl.pool import PooledProposer, seed_pool
    from sarl_ros.sim import registry
    from sarl_ros.sim.state import OBSERVABLE_GROUPS

    if args.list_tasks:
        print('paper:', ', '.join(registry.PAPER_TASKS))
        print('held-out paper-style:', ', '.join(registry.HELD_OUT_PAPER_TASKS))
        print('legacy suite:', ', '.join(registry.SUITE_TASKS))
        print('legacy held out:', ', '.join(registry.HELD_OUT_TASKS))
        return 0
    out = Path(run.output_dir)
    checkpoint = out / 'checkpoint.pt'
    if run.fresh and (aside := set_aside(out)) is not None:
        print(f'fresh run: the previous run in {out} was moved to {aside}')
    try:
        spec = registry.task_spec(run.task)
        if checkpoint.is_file():
            policy = load_checkpoint(checkpoint)
            if policy.name != run.method:
                raise ValueError(f'{checkpoint} holds a {policy.name!r} run, not {run.method!r}: '
                                 'use --fresh or another --output-dir')
        else:
            options = learner_options(args, run.method)
            policy = make_policy(run.method, seed=run.seed, encoder=run.encoder, **options)
            if run.pool_file:
                seed_pool(policy, Path(run.pool_file))
        state = policy.state_mode if spec.group in OBSERVABLE_GROUPS else None
        scene = {'scene_seed': run.seed} if run.reset == 'paper_like' and spec.group in OBSERVABLE_GROUPS else {}
        env = registry.make_env(run.task, seed=run.seed, state=state, **scene)
    except (ValueError, CheckpointError) as exc:
        print(f'sarl-demo: {exc}', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    record = RunRecord(out / 'episodes.csv')
    # The checkpoint is the authority: rows of an episode it does not hold are redone.
    start = resume_position(record, checkpoint_episodes=policy.episodes)
    # The method's own demonstrations (its config holds --demonstrations when given); none for a baseline.
    demonstrations = getattr(getattr(policy, 'config', None), 'demonstrations', 0)
    # The curve shows online episodes only.
    successes = [row['success'] == '1' for row in record.rows() if row.get('chooser') != PERSON]

    def episode_proposer(episode):
        # Seeded from (seed, episode) like the scene (reset seed) and the simulated VLA (seeded by
        # reset): a resumed run draws what an uninterrupted one would, with no RNG to checkpoint.
        # The policy's own RNG and learner are cumulative: they are in the checkpoint.
        vlm = registry.make_proposer(seed=episode_stream_seed(run.seed, episode, 'proposer'), task=run.task)
        # The method's instruction pool: until full new proposals join it, then the VLM chooses from it.
        pool = getattr(policy, 'pool', None)
        return vlm if pool is None else PooledProposer(vlm, pool)

    started = time.monotonic()

    def report(episode, result, row):
        save_checkpoint(policy, checkpoint)  # after every episode (and its row): nothing lost on a crash
        if episode > 0:
            successes.append(bool(result.success))
        recent = successes[-10:]
        label = (f'demonstration {-episode}/{demonstrations} (the person chooses)' if episode < 0
                 else f'episode {episode:3d}/{run.episodes}')
        rate = f'success rate (last {len(recent)}): {np.mean(recent):4.0%}' if recent else ''
        print(f'{label}  {"SUCCESS" if result.success else "failure"}  {result.decisions} decisions  {rate}  '
              f'[{time.monotonic() - started:5.1f} s]  ' + ' -> '.join(result.prompts), flush=True)

    driver = OnlineRun(run, env, policy, proposer_for=episode_proposer, record=record,
                       demonstrations=demonstrations,
                       demonstrator=registry.make_demonstrator(env) if demonstrations else None,
                       start=start, updates_per_decision=getattr(policy, 'updates_per_decision', UPDATES_PER_DECISION),
                       on_recorded=report)
    resumed = f', resuming at {_episode_label(driver.next_episode)}' if start else ''
    print(f'SARL demo: task "{env.task}" ({run.task}), method {run.method}, {run.episodes} episodes, '
          f'output {out}/{resumed}', flush=True)
    driver.run()

    final_env = FrameRecorder(registry.make_env(run.task, seed=run.seed, render=True, state=state, **scene))
    if not successes:
        print('sarl-demo: no episode to report', file=sys.stderr)
        return 1
    final_episode = run.episodes + 1  # numbered after the online episodes: a scene none of them had
    final = run_episode(final_env, episode_proposer(final_episode), policy, greedy=True, learn=False,
                        seed=episode_seed(run.seed, final_episode), episode=final_episode)
    from sarl_ros.apps.figures import plot_learning_curve, save_image_strip
    plot_learning_curve(successes, out / 'learning_curve.png',
                        title=f'{run.method} on {run.task} (seed {run.seed})')
    save_image_strip(final_env.frames, out / 'last_episode.png',
                     title=f'greedy episode after training: {"success" if final.success else "failure"}')
    first, last = np.mean(successes[:10]), np.mean(successes[-10:])
    print(f'done in {time.monotonic() - started:.0f} s: success rate {first:.0%} in the first 10 episodes, '
          f'{last:.0%} in the last 10; greedy episode after training: '
          f'{"success" if final.success else "failure"} ({" -> ".join(final.prompts)})')
    print(f'wrote {out / "learning_curve.png"}, {out / "last_episode.png"}, {record.path}, '
          f'{out / "checkpoint.pt"}')
    return 0


def _episode_label(episode) -> str:
    if episode is None:
        return 'the end (every episode is done)'
    return f'demonstration {-episode}' if episode < 0 else f'episode {episode}'


if __name__ == '__main__':
    raise SystemExit(main())
