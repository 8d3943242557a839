"""Run methods x tasks x seeds: online learning episodes with periodic greedy evaluation.

Each (method, task, seed) job learns for `episodes` online episodes; at the evaluation points (every
`eval_every` online episodes from 0, or the explicit list `eval_at`) it runs `eval_episodes` separate
greedy episodes without learning on its own environment instance. Evaluation reset seeds are the same
at every point of a job (curves compare like with like) and differ between seeds. Methods that carry
nothing over between episodes (fixed, random: `policy.learns` is False) are evaluated once, at the last
point, without online episodes. Each job's environment gives the state its method asks for
(`policy.state_mode`: observable, or oracle for the sarl_oracle ablation) where the task has a choice.
Results: one row per job and evaluation point (results.csv, results.json with a summary) and a
learning-curve plot (learning_curves.png).
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import numpy as np

from sarl_ros.core.episode_loop import UPDATES_PER_DECISION
from sarl_ros.core.online_run import RESETS, run_default

ROW_FIELDS = ('method', 'task', 'seed', 'episodes', 'eval_success', 'eval_return', 'eval_decisions',
              'online_success', 'online_success_cumulative', 'online_decisions', 'proposer_calls', 'vlm_calls',
              'seconds')


@dataclass
class BenchConfig:
    methods: list[str]
    tasks: list[str]
    seeds: list[int]
    episodes: int = run_default('episodes')
    eval_every: int = 10
    eval_episodes: int = 10
    eval_at: list[int] | None = None  # explicit evaluation points (online episodes); overrides eval_every
    max_candidates: int = run_default('max_candidates')
    updates_per_decision: int = UPDATES_PER_DECISION
    encoder: str = run_default('encoder')
    sarl_options: dict = field(default_factory=dict)  # extra make_policy kwargs for sarl
    proposal_cache: dict | None = None  # CachedProposer parameters, or None for no cache
    jobs: int = 1
    # 'repaint': every reset re-paints look-alike colours and re-samples positions (the harder setting);
    # 'paper_like': the scene is kept across episodes (colours, base layout), positions jittered.
    reset: str = 'repaint'
    # Instruction pool of the methods that have none of their own (fixed, random, icl, ucb), so every
    # method chooses from the same kind of candidates; 0: they get the VLM's fresh proposals.
    baseline_pool: int = 0
    pool_file: str = run_default('pool_file')  # seed every run's instruction pool with this JSON list of prompts first

    def __post_init__(self):
        if self.episodes < 0 or self.eval_every <= 0 or self.eval_episodes < 0:
            raise ValueError('episodes must be >= 0, eval_every > 0, eval_episodes >= 0')
        if not self.methods or not self.tasks or not self.seeds:
            raise ValueError('give at least one method, task and seed')
        if self.reset not in RESETS:
            raise ValueError(f'unknown reset {self.reset!r}; choose one of {", ".join(RESETS)}')
        if self.baseline_pool < 0:
            raise ValueError(f'baseline_pool must be >= 0, got {self.baseline_pool}')
        if self.pool_file:
            from sarl_ros.core.sarl.pool import load_pool_file
            load_pool_file(self.pool_file, 4096)  # a malformed file stops the benchmark before any run
        if self.eval_at is not None:
            self.eval_at = sorted({int(e) for e in self.eval_at})
            if not self.eval_at or self.eval_at[0] < 0 or self.eval_at[-1] > self.episodes:
                raise ValueError(f'evaluation points must lie in 0..{self.episodes}, got {self.eval_at}')

    def evaluation_points(self) -> list[int]:
        """Return the online-episode counts after which a greedy evaluation runs (always the last)."""
        points = self.eval_at if self.eval_at is not None else list(range(0, self.episodes + 1, self.eval_every))
        return sorted(set(points) | {self.episodes})


@dataclass(frozen=True)
class Job:
    method: str
    task: str
    seed: int
    config: BenchConfig


def _evaluate(env, proposer, job: Job, policy) -> dict:
    from sarl_ros.core.episode_loop import run_episode

    # Evaluation scenes: the same at every point of a job, different for every seed.
    results = [run_episode(env, proposer, policy, max_candidates=job.config.max_candidates, greedy=True, learn=False,
                           seed=1_000_000 + 1_000 * job.seed + i) for i in range(job.config.eval_episodes)]
    if not results:
        return {'eval_success': float('nan'), 'eval_return': float('nan'), 'eval_decisions': float('nan')}
    return {'eval_success': float(np.mean([r.success for r in results])),
            'eval_return': float(np.mean([r.episode_return for r in results])),
            'eval_decisions': float(np.mean([r.decisions for r in results]))}


def attach_steering(job: Job, policy, *envs) -> None:
    """Let an action-space RL method (dsrl, residual) act inside the environments' prompt executions."""
    for env in envs:
        attach = getattr(env, 'attach_steering', None)
        if attach is None:
            raise ValueError(f'{job.method} steers the VLA inside each prompt; task {job.task} has no VLA '
                             '(run it on the simulated tasks)')
        attach(policy)


def run_job(job: Job, progress: Callable[[str], None] | None = print,
            on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Run one (method, task, seed) and return its rows, one per evaluation point (each also to on_row)."""
    import torch

    from sarl_ros.harness.task_table import available_tasks
    from sarl_ros.core.methods import make_policy
    from sarl_ros.core.proposals import CachedProposer
    from sarl_ros.core.online_run import OnlineRun, RunConfig
    from sarl_ros.core.sarl.pool import InstructionPool, PooledProposer, load_pool_file

    torch.set_num_threads(1)
    cfg = job.config
    task = available_tasks()[job.task]
    options = dict(cfg.sarl_options) if job.method.startswith('sarl') else {}
    policy = make_policy(job.method, seed=job.seed, encoder=cfg.encoder, **options)
    # Paper-like resets keep one scene per run: online, demonstration and evaluation episodes share it.
    scene = {'scene_seed': job.seed} if cfg.reset == 'paper_like' else {}
    env = task.env_for(job.seed, policy.state_mode, **scene)
    inner = task.make_proposer(job.seed)
    pool = getattr(policy, 'pool', None)
    if pool is None and cfg.baseline_pool and job.method != 'sarl_text':
        pool = InstructionPool(cfg.baseline_pool)
    if pool is not None and cfg.pool_file:
        pool.add_all(load_pool_file(cfg.pool_file, pool.capacity))
    proposer = CachedProposer(inner, **cfg.proposal_cache) if cfg.proposal_cache is not None else inner
    if pool is not None:
        proposer = PooledProposer(proposer, pool)
    # Evaluation has its own environment and proposer, so it never disturbs the online ones; a learner's
    # evaluation offers only prompts already in its pool (evaluation must not fill it). A method that
    # learns nothing runs no online episode: its evaluation fills its pool, as online episodes would.
    eval_env = task.env_for(job.seed + 10_000, policy.state_mode, **scene)
    eval_proposer = task.make_proposer(job.seed + 10_000)
    if pool is not None:
        eval_proposer = PooledProposer(eval_proposer, pool, admit=not policy.learns)
    if getattr(policy, 'steers_actions', False):
        attach_steering(job, policy, env, eval_env)
    updates = getattr(policy, 'updates_per_decision', cfg.updates_per_decision)
    demonstrations = getattr(getattr(policy, 'config', None), 'demonstrations', 0)
    if demonstrations and task.make_demonstrator is None:
        if progress is not None:
            progress(f'[{job.method} {job.task} seed {job.seed}] task {job.task} has no demonstrator: '
                     'no demonstrations in this run')
        demonstrations = 0
    started = time.monotonic()
    rows: list[dict] = []
    online: list[bool] = []
    decisions: list[int] = []
    proposer_calls = 0
    label = f'[{job.method} {job.task} seed {job.seed}]'
    points = cfg.evaluation_points() if policy.learns else [cfg.episodes]
    episodes = cfg.episodes if policy.learns else 0
    previous = 0

    def evaluation_point(done: int) -> None:
        # After `done` online episodes (before the next one, or at the end): a greedy evaluation
        # where it is an evaluation point, else a progress line every 10 episodes.
        nonlocal previous
        if done in points or (not policy.learns and done == 0):
            window = online[previous:]
            row = {'method': job.method, 'task': job.task, 'seed': job.seed,
                   'episodes': done if policy.learns else cfg.episodes,
                   **_evaluate(eval_env, eval_proposer, job, policy),
                   'online_success': float(np.mean(window)) if window else float('nan'),
                   'online_success_cumulative': float(np.mean(online)) if online else float('nan'),
                   'online_decisions': float(np.mean(decisions[previous:])) if window else float('nan'),
                   'proposer_calls': proposer_calls,
                   'vlm_calls': proposer.vlm_calls if isinstance(proposer, CachedProposer) else proposer_calls,
                   'seconds': round(time.monotonic() - started, 2)}
            rows.append(row)
            if on_row is not None:
                on_row(row)
            previous = len(online)
            if progress is not None:
                progress(f'{label} {row["episodes"]}/{cfg.episodes} episodes: eval success {row["eval_success"]:.2f}, '
                         f'online {row["online_success"]:.2f} ({row["seconds"]:.0f} s)')
        elif progress is not None and done % 10 == 0:
            progress(f'{label} {done}/{cfg.episodes} episodes, online success so far '
                     f'{np.mean(online):.2f} ({time.monotonic() - started:.0f} s)')

    def before_episode(episode: int) -> None:
        if episode > 0:  # online episode n follows n - 1 online ones
            evaluation_point(episode - 1)

    def ended(episode: int, result, row: dict) -> None:
        nonlocal proposer_calls, started
        if episode == -demonstrations:  # the online part's clock starts after the demonstrations
            started = time.monotonic()
        if episode > 0:
            online.append(result.success)
            decisions.append(result.decisions)
            proposer_calls += result.proposer_calls

    # The online episodes (demonstrations first) are the one run driver's: its numbers and seeds
    # are the pre-registered ones (seed * 100_000 + e - 1, demonstration i: seed * 100_000 + 90_000 + i).
    run = RunConfig(task=job.task, episodes=episodes, seed=job.seed, method=job.method,
                    demonstrations=demonstrations, max_candidates=cfg.max_candidates, reset=cfg.reset,
                    pool_file=cfg.pool_file, encoder=cfg.encoder)
    OnlineRun(run, env, policy, proposer=proposer, demonstrations=demonstrations,
              demonstrator=task.make_demonstrator(env) if demonstrations else None,
              updates_per_decision=updates, before_episode=before_episode, on_end=ended).run()
    evaluation_point(episodes)
    return rows


def _run_job_in_worker(job: Job) -> list[dict]:
    return run_job(job, progress=lambda line: print(line, flush=True))


def summarize(rows: list[dict]) -> list[dict]:
    """Return mean and standard error over seeds per (method, task, episodes)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row['method'], row['task'], row['episodes']), []).append(row)
    summary = []
    for (method, task, episodes), members in sorted(groups.items()):
        values = np.array([m['eval_success'] for m in members], dtype=np.float64)
        online = np.array([m['online_success'] for m in members], dtype=np.float64)
        summary.append({'method': method, 'task': task, 'episodes': episodes, 'seeds': len(members),
                        'eval_success_mean': float(np.mean(values)), 'eval_success_se': _standard_error(values),
                        'online_success_mean': float(np.nanmean(online)) if np.any(np.isfinite(online)) else None})
    return summary


def _standard_error(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def final_table(summary: list[dict]) -> list[dict]:
    """Return, per (method, task), the last evaluation and the first episode count reaching 80% success."""
    table: dict[tuple, dict] = {}
    for entry in summary:
        key = (entry['method'], entry['task'])
        current = table.setdefault(key, {'method': key[0], 'task': key[1], 'episodes_to_80': None})
        if current['episodes_to_80'] is None and entry['eval_success_mean'] >= 0.8:
            current['episodes_to_80'] = entry['episodes']
        current.update(final_episodes=entry['episodes'], final_eval_success=entry['eval_success_mean'],
                       final_eval_se=entry['eval_success_se'])
    return list(table.values())


def write_results(config: BenchConfig, rows: list[dict], out_dir: Path, seconds: float) -> dict:
    """Write results.csv, results.json and learning_curves.png; return the JSON document."""
    from sarl_ros.harness.plots import plot_learning_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r['task'], r['method'], r['seed'], r['episodes']))
    with (out_dir / 'results.csv').open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=ROW_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = summarize(rows)
    document = {'config': asdict(config), 'seconds': round(seconds, 1), 'final': final_table(summary),
                'summary': summary, 'rows': rows}
    (out_dir / 'results.json').write_text(json.dumps(document, indent=1, default=_json_default))
    plot_learning_curves(summary, out_dir / 'learning_curves.png')
    return document


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f'cannot write {type(value).__name__} to JSON')


class BenchResumeError(ValueError):
    """The output directory holds runs of another configuration."""


def _job_file(out_dir: Path, job: Job) -> Path:
    return out_dir / 'runs' / f'{job.task}__{job.method}__seed{job.seed}.json'


def _save_job(out_dir: Path, job: Job, rows: list[dict]) -> None:
    """Keep one finished run (atomically), so a killed benchmark resumes without redoing it."""
    path = _job_file(out_dir, job)
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps(rows, default=_json_default))
    os.replace(tmp, path)


def _resume(config: BenchConfig, out_dir: Path, jobs: list[Job]) -> tuple[list[dict], list[Job]]:
    """Return (rows of runs finished before, jobs still to run) for this output directory."""
    (out_dir / 'runs').mkdir(parents=True, exist_ok=True)
    identity = {k: v for k, v in asdict(config).items() if k != 'jobs'}  # the worker count changes nothing
    stored = out_dir / 'runs' / 'config.json'
    text = json.dumps(identity, sort_keys=True, default=_json_default)
    if stored.exists() and stored.read_text() != text:
        raise BenchResumeError(f'{out_dir} holds runs of another configuration ({stored}); use another --out '
                               'or --fresh')
    stored.write_text(text)
    rows, todo = [], []
    for job in jobs:
        path = _job_file(out_dir, job)
        if path.exists():
            rows += json.loads(path.read_text())
        else:
            todo.append(job)
    return rows, todo


def run_benchmark(config: BenchConfig, out_dir: Path, progress: Callable[[str], None] = print) -> dict:
    """Run every job (in `config.jobs` processes when > 1), write the results, return the JSON document.

    Each finished run is kept under <out_dir>/runs/, so running again with the same out_dir and
    configuration resumes: only the runs not finished yet are done.
    """
    all_jobs = [Job(m, t, s, config) for t in config.tasks for m in config.methods for s in config.seeds]
    started = time.monotonic()
    rows, jobs = _resume(config, out_dir, all_jobs)
    progress(f'{len(all_jobs)} runs: {len(config.methods)} methods x {len(config.tasks)} tasks x {len(config.seeds)} '
             f'seeds, {config.episodes} episodes each, {config.jobs} process(es)'
             + (f'; resuming: {len(all_jobs) - len(jobs)} done before' if len(jobs) < len(all_jobs) else ''))
    if config.jobs <= 1:
        for i, job in enumerate(jobs, 1):
            job_rows = run_job(job, progress)
            _save_job(out_dir, job, job_rows)
            rows += job_rows
            progress(f'run {i}/{len(jobs)} done')
    else:
        # Workers start clean (spawn): no torch thread pools inherited through fork.
        os.environ.setdefault('OMP_NUM_THREADS', '1')
        with ProcessPoolExecutor(max_workers=config.jobs, mp_context=get_context('spawn')) as pool:
            futures = {pool.submit(_run_job_in_worker, job): job for job in jobs}
            for i, future in enumerate(as_completed(futures), 1):
                job = futures[future]
                _save_job(out_dir, job, future.result())
                rows += future.result()
                progress(f'run {i}/{len(jobs)} done: {job.method} {job.task} seed {job.seed}')
    document = write_results(config, rows, out_dir, time.monotonic() - started)
    return document
