"""Learner-free candidate coverage of the simulated VLM (issue 26 item 7): how good are the offered prompts?

For each paper-style task, reset setting and candidate regime, over seeds x episodes:
  working     share of decisions at which at least one offered candidate works: executed from a copy
              of the simulator state (sarl_ros.sim.snapshot) it achieves the task or a subgoal not
              achieved before in the episode (without losing a required object);
  best        best-possible success: each episode is run by a one-step-lookahead chooser that tries every
              offered candidate from a snapshot and executes one that makes progress, i.e. the success
              of choosing well among the offered candidates. --chooser careful (default): success
              first; then a new subgoal, the earliest in the task's order (the next step) first; when
              none works, a candidate that undoes nothing (no subgoal true now becomes false, nothing
              lost), the whole-task prompt if it is such; else the least harmful. --chooser literal:
              success, then the most new subgoals, else always the whole-task prompt: it also takes a
              step out of order and falls back on the whole task when it undoes progress (the task
              prompt collapses to its first clause: "grasp the banana" taken out of the pot again),
              and env.step counts a subgoal only once per episode, so a re-grasp after a drop never
              counts: this rule measures its own mistakes more than the candidates;
  fixed       success of repeating the whole-task prompt (reference; no candidates involved).
Both coverage figures are measured along the lookahead chooser's own episodes. A trial draws the VLA's
noise from the env's stream and everything is put back afterwards (VLA, world, env), so executing the
chosen candidate reproduces its trial exactly, and the VLM's stream is never touched by a trial: the
figures say what a chooser could reach if it knew each candidate's outcome in this state, one step
ahead (it foresees the VLA's noise, which no learner does; it does not plan several steps, which
could do better still).

Reset settings: paper_like (SimTabletopEnv(..., scene_seed=<run seed>): colours and base layout kept
across resets, positions jittered) and repaint (scene_seed None: colours re-painted, layout re-sampled).
Candidate regimes: pool (an InstructionPool of capacity 32 between the VLM and the chooser, seeded by 3
language-guided demonstration episodes first, as sarl_ros.harness.harness.run_job does for `sarl`: same
env, proposer and seeds: demos job.seed*100000+90000+i, episodes job.seed*100000+episode) and fresh
(the VLM's fresh proposals every decision, no pool, no demonstrations).

Usage:
  nice -n 5 ./sarl run python benchmarks/candidate_coverage.py [--tasks paper,held_out_paper | T1,T2]
      [--seeds 0,1,2] [--episodes 30] [--jobs 2] [--resets paper_like,repaint] [--regimes pool,fresh]
      [--max-candidates 8] [--pool-capacity 32] [--demonstrations 3] [--chooser careful|literal]
      [--out docs/results/sarl_paper/coverage.json] [--resume]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESETS = ('paper_like', 'repaint')
REGIMES = ('pool', 'fresh')
CHOOSERS = ('careful', 'literal')
DEFAULT_OUT = ROOT / 'docs' / 'results' / 'sarl_paper' / 'coverage.json'


def _lookahead_policy_class():
    from sarl_ros.core.baselines.simple import BaselinePolicy
    from sarl_ros.core.proposals import normalize_prompt
    from sarl_ros.sim.snapshot import save, try_prompt

    class LookaheadChooser(BaselinePolicy):  # the baselines' shared settings (temperature reported)
        """Choose by trying every candidate from a snapshot of the env's state (a measuring device, not a learner)."""

        name = 'lookahead'
        learns = False

        def __init__(self, env, pool=None, rule: str = 'careful'):
            super().__init__(seed=0)
            self.env, self.rule = env, rule
            self.pool = pool  # Demonstrated adds the demonstrations' prompts to it
            self.decision_log: list[dict] = []

        def _trial(self, prompt, snapshot):
            # The trial's observation is not used: skip its camera render (about half of a step's cost).
            camera, self.env.state_camera = self.env.state_camera, None
            try:
                return try_prompt(self.env, prompt, snapshot)
            finally:
                self.env.state_camera = camera

        def _choose(self, features, candidates, prompts, task, greedy):
            snapshot = save(self.env)
            order = [name for name, _ in self.env.spec.subgoals]
            now = {name for name, done in self.env._subgoal_flags().items() if done}
            whole = normalize_prompt(self.env.task)
            keys, working = [], 0
            for prompt in prompts:
                outcome = self._trial(prompt, snapshot)
                new = outcome.info['new_subgoals']
                progress = bool(outcome.success or (new and not outcome.failed_for_good))
                working += progress
                if self.rule == 'literal':
                    keys.append((2.0 if outcome.success else 1.0 + 0.01 * len(new) if progress else 0.0,))
                    continue
                lost = len(now - {name for name, done in outcome.info['subgoals'].items() if done})
                if outcome.success:
                    keys.append((3, 0, 0))
                elif progress:  # the next step of the task first
                    keys.append((2, -min(order.index(n) for n in new), -lost))
                elif not outcome.failed_for_good and not lost:  # harmless: the whole task, else any
                    keys.append((1, int(prompt == whole), 0))
                else:
                    keys.append((0, -lost - 10 * outcome.failed_for_good, int(prompt == whole)))
            if self.rule == 'literal' and not working:
                index = prompts.index(whole) if whole in prompts else 0
            else:
                index = max(range(len(prompts)), key=lambda i: keys[i])  # the first of the best
            self.decision_log.append({'candidates': len(prompts), 'working': int(working),
                                      'pool_frozen': bool(self.pool is not None and self.pool.frozen)})
            probabilities = tuple(1.0 if i == index else 0.0 for i in range(len(prompts)))
            return index, [float(k[0]) for k in keys], probabilities, 0.0

    return LookaheadChooser


def run_unit(task: str, reset: str, regime: str, seed: int, episodes: int, max_candidates: int,
             pool_capacity: int, demonstrations: int, rule: str = 'careful') -> dict:
    """Run one (task, reset, regime, seed): the lookahead chooser's episodes, or the fixed prompt."""
    from sarl_ros.core.episode_loop import episode_seed, run_episode
    from sarl_ros.core.sarl.demonstrations import Demonstrated
    from sarl_ros.core.sarl.pool import InstructionPool, PooledProposer
    from sarl_ros.sim import registry

    started = time.monotonic()
    scene = {'scene_seed': seed} if reset == 'paper_like' else {}
    # As the harness: env.seed = run seed, observable state (what `sarl` asks for), the task's VLM.
    env = registry.make_env(task, seed=seed, state='observable', **scene)
    row = {'task': task, 'reset': reset, 'regime': regime, 'seed': seed, 'episodes': episodes}
    # The run driver's seeds (sarl_ros.core.online_run): online episodes 1 .. episodes.
    episode_seeds = [episode_seed(seed, episode) for episode in range(1, episodes + 1)]
    if regime == 'fixed':
        row['success'] = registry.fixed_prompt_success_rate(env, episode_seeds)
        row['seconds'] = round(time.monotonic() - started, 1)
        return row
    proposer = registry.make_proposer(seed, task)
    pool = None
    if regime == 'pool':
        pool = InstructionPool(pool_capacity)
        proposer = PooledProposer(proposer, pool)
    chooser = _lookahead_policy_class()(env, pool, rule)
    if pool is not None and demonstrations:
        teacher = Demonstrated(chooser, registry.make_demonstrator(env))
        demo_success = [run_episode(env, proposer, teacher, max_candidates=max_candidates, updates_per_decision=0,
                                    seed=episode_seed(seed, -1 - i), episode=-1 - i).success
                        for i in range(demonstrations)]
        row.update(demonstration_success=float(np.mean(demo_success)), pool_after_demonstrations=len(pool))
    successes, decisions, per_episode = [], [], []
    for episode, reset_seed in enumerate(episode_seeds, 1):
        before = len(chooser.decision_log)
        # learn=True as the harness's online episodes (the last step's next candidates are proposed too,
        # which feeds the pool); the chooser stores nothing and updates nothing.
        result = run_episode(env, proposer, chooser, max_candidates=max_candidates, updates_per_decision=0,
                             seed=reset_seed, episode=episode)
        log = chooser.decision_log[before:]
        successes.append(bool(result.success))
        decisions.append(result.decisions)
        per_episode.append({'success': bool(result.success), 'decisions': result.decisions,
                            'with_working': sum(d['working'] > 0 for d in log)})
    log = chooser.decision_log
    row.update(
        decisions=len(log), with_working=int(sum(d['working'] > 0 for d in log)),
        working_share=float(np.mean([d['working'] > 0 for d in log])) if log else float('nan'),
        best_success=float(np.mean(successes)), mean_decisions=float(np.mean(decisions)),
        candidates_per_decision=float(np.mean([d['candidates'] for d in log])) if log else float('nan'),
        working_per_decision=float(np.mean([d['working'] for d in log])) if log else float('nan'),
        per_episode=per_episode, seconds=round(time.monotonic() - started, 1))
    if pool is not None:
        frozen = [d for d in log if d['pool_frozen']]
        row.update(pool_size=len(pool), pool_frozen_decisions=len(frozen),
                   working_share_frozen=float(np.mean([d['working'] > 0 for d in frozen])) if frozen else None,
                   pool_prompts=list(pool.prompts))
    return row


def _unit_in_worker(args: tuple) -> dict:
    import torch
    torch.set_num_threads(1)
    return run_unit(*args)


def summarize(rows: list[dict], tasks, resets, regimes) -> list[dict]:
    """Return one entry per (task, reset, regime): figures pooled over seeds, with the fixed-prompt reference."""
    summary = []
    for task in tasks:
        for reset in resets:
            fixed = [r['success'] for r in rows if (r['task'], r['reset'], r['regime']) == (task, reset, 'fixed')]
            for regime in regimes:
                members = [r for r in rows if (r['task'], r['reset'], r['regime']) == (task, reset, regime)]
                if not members:
                    continue
                decisions = sum(r['decisions'] for r in members)
                best = [r['best_success'] for r in members]
                entry = {'task': task, 'reset': reset, 'regime': regime, 'seeds': [r['seed'] for r in members],
                         'episodes_per_seed': members[0]['episodes'], 'decisions': decisions,
                         'working_share': sum(r['with_working'] for r in members) / decisions if decisions else None,
                         'working_share_by_seed': [r['working_share'] for r in members],
                         'best_success': float(np.mean(best)), 'best_success_by_seed': best,
                         'fixed_success': float(np.mean(fixed)) if fixed else None,
                         'candidates_per_decision': float(np.mean([r['candidates_per_decision'] for r in members])),
                         'working_per_decision': float(np.mean([r['working_per_decision'] for r in members])),
                         'mean_decisions': float(np.mean([r['mean_decisions'] for r in members]))}
                if regime == 'pool':
                    entry['pool_size'] = [r.get('pool_size') for r in members]
                    frozen = sum(r.get('pool_frozen_decisions', 0) for r in members)
                    entry['frozen_decision_share'] = frozen / decisions if decisions else None
                summary.append(entry)
    return summary


def print_table(summary: list[dict]) -> None:
    print(f'{"task":24s} {"reset":10s} {"regime":6s} {"working":>7s} {"best":>5s} {"fixed":>5s} '
          f'{"cands":>5s} {"work/dec":>8s} {"dec/ep":>6s}')
    for e in summary:
        fixed = '  -  ' if e['fixed_success'] is None else f'{e["fixed_success"]:5.2f}'
        print(f'{e["task"]:24s} {e["reset"]:10s} {e["regime"]:6s} {e["working_share"]:7.2f} {e["best_success"]:5.2f} '
              f'{fixed} {e["candidates_per_decision"]:5.1f} {e["working_per_decision"]:8.2f} '
              f'{e["mean_decisions"]:6.2f}')


def _task_list(text: str) -> list[str]:
    from sarl_ros.sim import registry
    groups = {'paper': registry.PAPER_TASKS, 'held_out_paper': registry.HELD_OUT_PAPER_TASKS}
    tasks: list[str] = []
    for item in (t.strip() for t in text.split(',') if t.strip()):
        names = groups[item] if item in groups else (registry.task_spec(item).name,)
        tasks += [n for n in names if n not in tasks]
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', default='paper,held_out_paper', help='task names or groups, comma-separated')
    parser.add_argument('--seeds', default='0,1,2', help='run seeds, comma-separated')
    parser.add_argument('--episodes', type=int, default=30, help='lookahead episodes per seed')
    parser.add_argument('--jobs', type=int, default=2, help='worker processes (spawned)')
    parser.add_argument('--resets', default=','.join(RESETS))
    parser.add_argument('--regimes', default=','.join(REGIMES))
    parser.add_argument('--max-candidates', type=int, default=8, help='candidates asked of the VLM (as the bench)')
    parser.add_argument('--pool-capacity', type=int, default=32)
    parser.add_argument('--demonstrations', type=int, default=3, help='demonstration episodes seeding the pool')
    parser.add_argument('--chooser', default='careful', choices=CHOOSERS,
                        help='lookahead rule: careful (default) or literal (see the docstring)')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT)
    parser.add_argument('--resume', action='store_true', help='keep the units already in --out (same configuration)')
    args = parser.parse_args()
    tasks = _task_list(args.tasks)
    seeds = [int(s) for s in args.seeds.split(',') if s.strip()]
    resets = [r for r in args.resets.split(',') if r]
    regimes = [r for r in args.regimes.split(',') if r]
    if set(resets) - set(RESETS) or set(regimes) - set(REGIMES) or not (tasks and seeds and resets and regimes):
        parser.error(f'resets among {RESETS}, regimes among {REGIMES}, at least one task and seed')
    if args.episodes < 1 or args.jobs < 1:
        parser.error('--episodes and --jobs must be positive')
    from sarl_ros.sim import registry
    budget = {t: registry.task_spec(t).max_decisions for t in tasks}
    units = [(t, r, g, s) for t in tasks for r in resets for g in regimes + ['fixed'] for s in seeds]
    # Longest first (lookahead units of long tasks), so the workers finish together.
    units.sort(key=lambda u: (u[2] == 'fixed', -budget[u[0]]))
    config = {'tasks': tasks, 'seeds': seeds, 'episodes': args.episodes, 'resets': resets, 'regimes': regimes,
              'max_candidates': args.max_candidates, 'pool_capacity': args.pool_capacity,
              'demonstrations': args.demonstrations, 'chooser': args.chooser, 'jobs': args.jobs}
    print(f'{len(units)} units ({len(tasks)} tasks x {len(resets)} resets x {len(regimes)} regimes + fixed x '
          f'{len(seeds)} seeds), {args.episodes} episodes each, {args.jobs} process(es)', flush=True)
    started = time.monotonic()
    rows: list[dict] = []
    extra = (args.episodes, args.max_candidates, args.pool_capacity, args.demonstrations, args.chooser)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def write(complete: bool) -> dict:
        summary = summarize(rows, tasks, resets, regimes)
        document = {'what': 'candidate coverage of the simulated VLM (benchmarks/candidate_coverage.py, issue 26 '
                            'item 7)', 'complete': complete, 'config': config,
                    'seconds': round(time.monotonic() - started, 1), 'summary': summary,
                    'rows': sorted(rows, key=lambda r: (r['task'], r['reset'], r['regime'], r['seed']))}
        args.out.write_text(json.dumps(document, indent=1))
        return document

    def done(row: dict, i: int) -> None:
        rows.append(row)
        figures = (f'success {row["success"]:.2f}' if row['regime'] == 'fixed' else
                   f'working {row["working_share"]:.2f}, best {row["best_success"]:.2f}')
        print(f'[{i}/{len(units)}] {row["task"]} {row["reset"]} {row["regime"]} seed {row["seed"]}: {figures} '
              f'({row["seconds"]:.0f} s; {time.monotonic() - started:.0f} s in all)', flush=True)
        write(False)

    if args.resume and args.out.exists():
        previous = json.loads(args.out.read_text())
        same = {k: v for k, v in previous.get('config', {}).items() if k != 'jobs'} == \
            {k: v for k, v in config.items() if k != 'jobs'}
        if not same:
            parser.error(f'{args.out} holds another configuration; drop --resume or use another --out')
        rows += previous['rows']
        finished = {(r['task'], r['reset'], r['regime'], r['seed']) for r in rows}
        units = [u for u in units if u not in finished]
        print(f'resuming: {len(finished)} units done before, {len(units)} to run', flush=True)
    if args.jobs == 1:
        for i, unit in enumerate(units, 1):
            done(run_unit(*unit, *extra), i)
    else:
        os.environ.setdefault('OMP_NUM_THREADS', '1')
        todo, count = list(units), 0
        for attempt in range(3):  # a worker that dies (signal, GL crash) costs its unit, not the run
            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context('spawn')) as workers:
                futures = {workers.submit(_unit_in_worker, unit + extra): unit for unit in todo}
                try:
                    for future in as_completed(futures):
                        count += 1
                        done(future.result(), count)
                        todo.remove(futures[future])
                except BrokenProcessPool as exc:
                    print(f'a worker died ({exc}); running the {len(todo)} units left again', flush=True)
                    continue
            break
        if todo:
            raise SystemExit(f'{len(todo)} units could not be run: {todo}')
    document = write(True)
    print(f'\n{len(tasks)} tasks, seeds {seeds}, {args.episodes} episodes each, '
          f'{document["seconds"]:.0f} s; written to {args.out}')
    print_table(document['summary'])


if __name__ == '__main__':
    main()
