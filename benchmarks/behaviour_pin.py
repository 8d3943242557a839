"""Pin what the user-facing commands compute on one seed, so a refactor can show it changed nothing.

    ./sarl run python benchmarks/behaviour_pin.py --out pin.json            # record (any checkout)
    ./sarl run python benchmarks/behaviour_pin.py --compare before.json pin.json

It runs `sarl-bench` (every prompt-selection and action-space method, the four paper tasks and
two toy tasks, seed 0, a short budget with paper-like resets and a baseline pool) and `sarl-demo`
(SARL with demonstrations, seed 3), and keeps every number they write except wall-clock times.
Two pins of the same code are equal; a refactor that changes a decision, a reward or an update
changes some number here. Only the commands' flags are used, so the pin runs on old and new code.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_METHODS = 'sarl,sarl_nodemo,sarl_text,sarl_textprompt,sarl_oracle,icl,random,fixed,ucb,dsrl,residual'
BENCH_TASKS = 'paper'
TOY_TASKS = 'toy'
TIMING = {'seconds', 'wall_s', 'time_s', 'elapsed_s', 'duration_s', 'started', 'ended', 'timestamp'}


def _run(repo: Path, *args: str) -> None:
    print('$ ./sarl', ' '.join(args), flush=True)
    subprocess.run([str(repo / 'sarl'), *args], check=True, cwd=repo)


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return [{k: v for k, v in row.items() if k not in TIMING and not k.endswith('_s')} for row in csv.DictReader(f)]


def record(repo: Path, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _run(repo, 'bench', '--tasks', BENCH_TASKS, '--methods', BENCH_METHODS, '--seed-list', '0', '--episodes', '12',
             '--eval-at', '0,12', '--eval-episodes', '4', '--reset', 'paper_like', '--baseline-pool', '32',
             '--jobs', str(jobs), '--out', str(work / 'paper'))
        _run(repo, 'bench', '--tasks', TOY_TASKS, '--methods', 'sarl_text,icl,random,fixed,ucb', '--seed-list', '0',
             '--episodes', '20', '--eval-at', '0,20', '--eval-episodes', '5', '--jobs', str(jobs),
             '--out', str(work / 'toy'))
        _run(repo, 'demo', '--episodes', '8', '--seed', '3', '--output-dir', str(work / 'demo'))
        demo_csv = next((work / 'demo').rglob('episodes.csv'))
        return {'bench_paper': _rows(work / 'paper' / 'results.csv'), 'bench_toy': _rows(work / 'toy' / 'results.csv'),
                'demo_episodes': _rows(demo_csv)}


def compare(before: dict, after: dict) -> list[str]:
    differences = []
    for part in sorted(set(before) | set(after)):
        old, new = before.get(part, []), after.get(part, [])
        if len(old) != len(new):
            differences.append(f'{part}: {len(old)} rows before, {len(new)} after')
            continue
        for i, (a, b) in enumerate(zip(old, new)):
            shared = set(a) & set(b)
            for key in sorted(shared):
                if a[key] != b[key]:
                    differences.append(f'{part} row {i} ({a.get("method", "")} {a.get("task", "")}): '
                                       f'{key} {a[key]} -> {b[key]}')
            for key in sorted(set(a) ^ set(b)):
                differences.append(f'{part} row {i}: column {key} only {"before" if key in a else "after"}')
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repo', type=Path, default=Path(__file__).resolve().parents[1], help='checkout to pin')
    parser.add_argument('--out', type=Path, help='write the pin here')
    parser.add_argument('--jobs', type=int, default=2, help='bench worker processes')
    parser.add_argument('--compare', nargs=2, type=Path, metavar=('BEFORE', 'AFTER'), help='compare two pins')
    args = parser.parse_args()
    if args.compare:
        differences = compare(*(json.loads(p.read_text()) for p in args.compare))
        counts = {k: len(v) for k, v in json.loads(args.compare[0].read_text()).items()}
        for line in differences:
            print(line)
        print(f'{len(differences)} differences over {counts} rows')
        return 1 if differences else 0
    if args.out is None:
        parser.error('give --out or --compare')
    pin = record(args.repo.resolve(), args.jobs)
    args.out.write_text(json.dumps(pin, indent=1))
    print(f'pinned {({k: len(v) for k, v in pin.items()})} rows to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
