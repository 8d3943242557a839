"""Action-space RL baselines (dsrl, residual) on the paper tasks, with a per-task episode budget.

The same harness as `sarl-bench` (sarl_ros.harness.harness.run_job: online episodes, greedy evaluation of
the protocol's evaluation scenes), but jobs are ordered by priority and every evaluation point is
appended to rows.jsonl the moment it is measured, so a run cut short by the clock keeps what it has.
A job's first 100 episodes are the same whether it runs 100 or 300 (same seeds), so one 300-episode
run evaluated at 0,50,100,300 gives both budgets.

  ./sarl run nice -n 19 python benchmarks/action_space_bench.py \
      --plan pot_lid_on_towel:300,left_toy_largest_bowl:100,hammer_plate_mushroom:100,banana_pot_sushi_bowl:100 \
      --methods dsrl,residual --seeds 0,1,2 --eval-episodes 20 --jobs 2 --out docs/results/action_space
  ./sarl run python benchmarks/action_space_bench.py --summarize --out docs/results/action_space
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from sarl_ros.harness.harness import BenchConfig, Job, run_job, write_results

EVAL_POINTS = (0, 50, 100, 300)


def parse_plan(text: str) -> list[tuple[str, int]]:
    plan = []
    for item in (s.strip() for s in text.split(',') if s.strip()):
        task, _, episodes = item.partition(':')
        plan.append((task, int(episodes or 100)))
    if not plan:
        raise ValueError('empty plan')
    return plan


def make_jobs(plan, methods, seeds, eval_episodes) -> list[Job]:
    jobs = []
    for task, episodes in plan:
        config = BenchConfig(methods=methods, tasks=[task], seeds=seeds, episodes=episodes,
                             eval_at=[p for p in EVAL_POINTS if p <= episodes], eval_episodes=eval_episodes)
        jobs += [Job(method, task, seed, config) for seed in seeds for method in methods]
    # Seed-major: if the clock cuts the run, whole seeds over every task are done first.
    return sorted(jobs, key=lambda j: seeds.index(j.seed))


def _run(job: Job, rows_path: str) -> str:
    def append(row: dict) -> None:
        with open(rows_path, 'a') as f:
            f.write(json.dumps({**row, 'budget': job.config.episodes}) + '\n')
            f.flush()
            os.fsync(f.fileno())

    run_job(job, progress=lambda line: print(line, flush=True), on_row=append)
    return f'{job.method} {job.task} seed {job.seed}'


def summarize(out: Path) -> None:
    rows = [json.loads(line) for line in (out / 'rows.jsonl').read_text().splitlines() if line.strip()]
    # A 300-episode job's point at 100 is also its 100-episode result: keep one row per (job, point).
    unique = {(r['method'], r['task'], r['seed'], r['episodes']): {k: v for k, v in r.items() if k != 'budget'}
              for r in rows}
    rows = list(unique.values())
    config = BenchConfig(methods=sorted({r['method'] for r in rows}), tasks=sorted({r['task'] for r in rows}),
                         seeds=sorted({r['seed'] for r in rows}), episodes=max(r['episodes'] for r in rows),
                         eval_at=sorted({r['episodes'] for r in rows}), eval_episodes=20)
    last: dict[tuple, float] = {}
    for r in rows:  # a job's compute time is the seconds of its last row
        key = (r['method'], r['task'], r['seed'])
        last[key] = max(last.get(key, 0.0), float(r['seconds']))
    document = write_results(config, rows, out, seconds=sum(last.values()))
    print(f'{len(rows)} rows, {len(document["summary"])} summary points -> {out}/results.csv, results.json, '
          'learning_curves.png')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--plan', default='pot_lid_on_towel:300,left_toy_largest_bowl:100,'
                        'hammer_plate_mushroom:100,banana_pot_sushi_bowl:100')
    parser.add_argument('--methods', default='dsrl,residual')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--eval-episodes', type=int, default=20)
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--out', type=Path, default=Path('docs/results/action_space'))
    parser.add_argument('--summarize', action='store_true', help='only write results from rows.jsonl')
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summarize:
        summarize(args.out)
        return 0
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    seeds = [int(s) for s in args.seeds.split(',')]
    jobs = make_jobs(parse_plan(args.plan), methods, seeds, args.eval_episodes)
    rows_path = str(args.out / 'rows.jsonl')
    print(f'{len(jobs)} jobs in {args.jobs} processes; rows -> {rows_path}', flush=True)
    started = time.monotonic()
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context('spawn')) as pool:
        futures = [pool.submit(_run, job, rows_path) for job in jobs]
        for i, future in enumerate(as_completed(futures), 1):
            print(f'job {i}/{len(jobs)} done: {future.result()} ({time.monotonic() - started:.0f} s)', flush=True)
    summarize(args.out)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
