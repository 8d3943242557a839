"""sarl-bench: compare prompt-selection methods on semantic tasks (methods x tasks x seeds).

Examples:
  ./sarl bench --tasks toy --seeds 3 --episodes 60
  ./sarl bench --tasks paper --methods fixed,random,icl,sarl_blind,sarl,sarl_oracle --episodes 100 \
      --eval-at 0,50,100 --eval-episodes 20 --jobs 2 --out docs/results/paper_tasks
  ./sarl bench --tasks legacy --methods sarl,icl,fixed --seeds 3 --jobs 2 --out results/legacy
  ./sarl bench --list
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.harness.harness import BenchConfig, BenchResumeError, run_benchmark
from sarl_ros.harness.task_table import available_tasks, default_task_spec, resolve_tasks
from sarl_ros.core.methods import BENCH_METHODS as METHODS
from sarl_ros.core.durability.resume import set_aside
from sarl_ros.core.perception.text_encoding import ENCODERS


def _option(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f'expected KEY=VALUE, got {text!r}')
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def sarl_options_help() -> str:
    """Return the --sarl-option keys, generated from SarlConfig's fields, for the --help epilog."""
    lines = ['', 'sarl options (--sarl-option KEY=VALUE; checked before any run):']
    for spec in SarlConfig.settings():
        lines.append(f'  {spec.name} ({spec.kind.__name__}, default {spec.default}): {spec.describe()}')
    return '\n'.join(lines)


def checked_sarl_options(pairs) -> dict:
    """Return the --sarl-option values, checked against SarlConfig; ValueError naming a bad key or value."""
    options = dict(pairs)
    SarlConfig().with_options(**options)  # names, types, ranges and cross-checks, before any run
    return options  # as given: a resumed benchmark compares them with the ones it started with


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='sarl-bench', description=__doc__.splitlines()[0],
                                     epilog='\n'.join(__doc__.splitlines()[2:]) + '\n' + sarl_options_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--methods', default=','.join(METHODS), help='comma list of methods (default: all)')
    parser.add_argument('--tasks', default=None,
                        help='comma list of task names or groups toy, paper, held_out_paper, suite, held_out, legacy, '
                             'all (default: paper if the simulator is available, else toy)')
    parser.add_argument('--seeds', type=int, default=3, help='number of seeds 0..N-1 (default 3)')
    parser.add_argument('--seed-list', default=None, help='explicit comma list of seeds (overrides --seeds)')
    # Defaults of the run's settings: BenchConfig's (sarl_ros.harness.harness), not written again here.
    parser.add_argument('--episodes', type=int, default=BenchConfig.episodes,
                        help=f'online episodes per run (default {BenchConfig.episodes})')
    parser.add_argument('--eval-every', type=int, default=BenchConfig.eval_every,
                        help='evaluate after every N online episodes')
    parser.add_argument('--eval-episodes', type=int, default=BenchConfig.eval_episodes,
                        help='greedy episodes per evaluation')
    parser.add_argument('--eval-at', default=None, help='comma list of evaluation points (overrides --eval-every)')
    parser.add_argument('--max-candidates', type=int, default=BenchConfig.max_candidates,
                        help='candidates asked of the proposer')
    parser.add_argument('--updates-per-decision', type=int, default=BenchConfig.updates_per_decision,
                        help='learning updates after each decision')
    parser.add_argument('--encoder', default=BenchConfig.encoder, choices=ENCODERS, help='prompt encoder for sarl')
    parser.add_argument('--sarl-option', type=_option, action='append', default=[], metavar='KEY=VALUE',
                        help='an option of the SARL learner for the sarl variants, e.g. lr=0.001 (repeatable; '
                             'the keys are listed below)')
    parser.add_argument('--proposal-cache', action='store_true', help='serve proposals through CachedProposer')
    parser.add_argument('--cache-option', type=_option, action='append', default=[], metavar='KEY=VALUE',
                        help='CachedProposer parameter, e.g. max_reuses=4 (repeatable; implies --proposal-cache)')
    parser.add_argument('--reset', default=BenchConfig.reset, choices=('repaint', 'paper_like'),
                        help='repaint: colours re-painted and positions re-sampled at every reset; paper_like: the '
                             'scene kept across episodes, positions jittered (as a person resets it)')
    parser.add_argument('--baseline-pool', type=int, default=BenchConfig.baseline_pool,
                        help='instruction pool size for methods without their own (fixed, random, icl, ucb); 0: none')
    parser.add_argument('--pool-file', default=BenchConfig.pool_file,
                        help='JSON list of prompts that seed every instruction pool first')
    parser.add_argument('--jobs', type=int, default=BenchConfig.jobs,
                        help=f'parallel worker processes (default {BenchConfig.jobs})')
    parser.add_argument('--out', type=Path, default=None,
                        help='output directory (default results/bench-<time>); an existing one is resumed')
    parser.add_argument('--fresh', action='store_true', help='move an existing --out aside instead of resuming it')
    parser.add_argument('--list', action='store_true', help='list the available tasks and methods, then exit')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for name, task in available_tasks().items():
            print(f'{name:28s} {task.group}')
        print('methods:', ', '.join(METHODS))
        return 0
    try:
        methods = [m.strip() for m in args.methods.split(',') if m.strip()]
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f'unknown method(s) {", ".join(unknown)}; choose from {", ".join(METHODS)}')
        tasks = resolve_tasks(args.tasks or default_task_spec())
        seeds = ([int(s) for s in args.seed_list.split(',')] if args.seed_list else list(range(args.seeds)))
        cache = dict(args.cache_option) if (args.proposal_cache or args.cache_option) else None
        config = BenchConfig(methods=methods, tasks=tasks, seeds=seeds, episodes=args.episodes,
                             eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                             eval_at=[int(e) for e in args.eval_at.split(',')] if args.eval_at else None,
                             max_candidates=args.max_candidates, updates_per_decision=args.updates_per_decision,
                             encoder=args.encoder, sarl_options=checked_sarl_options(args.sarl_option),
                             proposal_cache=cache,
                             jobs=args.jobs, reset=args.reset, baseline_pool=args.baseline_pool,
                             pool_file=args.pool_file)
    except ValueError as exc:
        print(f'sarl-bench: {exc}', file=sys.stderr)
        return 2
    out_dir = args.out or Path('results') / time.strftime('bench-%Y%m%d-%H%M%S')
    if args.fresh and (aside := set_aside(out_dir)) is not None:
        print(f'fresh benchmark: the previous results in {out_dir} were moved to {aside}')
    try:
        document = run_benchmark(config, out_dir, progress=lambda line: print(line, flush=True))
    except BenchResumeError as exc:
        print(f'sarl-bench: {exc}', file=sys.stderr)
        return 2
    print(f'\nfinal greedy success after {config.episodes} online episodes (mean ± s.e. over {len(seeds)} seeds):')
    for entry in document['final']:
        reached = entry['episodes_to_80']
        print(f'  {entry["task"]:24s} {entry["method"]:11s} {entry["final_eval_success"]:.2f} ± '
              f'{entry["final_eval_se"]:.2f}   80% reached after: {reached if reached is not None else "-"}')
    print(f'results: {out_dir}/results.csv, results.json, learning_curves.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
