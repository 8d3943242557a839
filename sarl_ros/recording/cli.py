"""sarl-replay: analyse recorded SARL runs (rosbag2) offline, re-train from them, play them back.

  sarl-replay summary BAG...            per-episode summary of each bag
  sarl-replay plot BAG... [-o DIR]      success rate, prompt usage, Q-values, prompts per phase (PNG)
  sarl-replay export BAG... [-o DIR]    episodes.csv, decisions.csv, transitions.csv
  sarl-replay retrain BAG... -o FILE    train a Q-function, evaluate it, write a warm-start checkpoint
  sarl-replay play BAG [--rate R]       republish onto the ROS topics (needs ROS 2)
  sarl-replay repair BAG [-o DIR]       rewrite a damaged bag as a complete one

BAG is a bag directory (with metadata.yaml) or its .mcap / .db3 file. Only `play` needs ROS.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sarl_ros.core.episode_loop import UPDATES_PER_DECISION
from sarl_ros.core.method_names import DEFAULT_METHOD, METHODS
from sarl_ros.rosutil.bag_storages import DEFAULT_STORAGE, STORAGES
from sarl_ros.recording.bag.source import BagError

PROGRAM = 'sarl-replay'
IMAGES_HELP = 'count camera images per episode (reads every image: slower)'


class CliError(Exception):
    """A user error: printed as one line, exit code 2 (1 when there is nothing to work on)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _warn(text: str):
    print(f'{PROGRAM}: warning: {text}', file=sys.stderr)


class ProgressPrinter:
    """Print progress of long work to stderr: in place on a terminal, every 10% otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.last_decile: dict[str, int] = {}
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, what: str):
        """Report that `done` of `total` units of `what` are finished."""
        elapsed = time.monotonic() - self.started
        text = f'{done}/{total} {what}' if total else f'{done} {what}'
        if self.tty:
            end = '\n' if total and done >= total else ''
            print(f'\r{PROGRAM}: {text} ({elapsed:.0f} s)', end=end, file=self.stream, flush=True)
            return
        decile = int(10 * done / total) if total else done // 1000
        if decile != self.last_decile.get(what) or (total and done >= total):
            self.last_decile[what] = decile
            print(f'{PROGRAM}: {text} ({elapsed:.0f} s)', file=self.stream, flush=True)


def _read(paths, images: bool = False):
    from sarl_ros.recording.reader import read_recording
    recordings = []
    for path in paths:
        rec = read_recording(path, images=images)
        for problem in rec.problems:
            _warn(problem)
        recordings.append(rec)
    return recordings


def _episodes(recordings):
    episodes = [e for rec in recordings for e in rec.episodes]
    if not episodes:
        raise CliError('no SARL episodes in the given bag(s); see the warnings above', code=1)
    return episodes


def _default_dir(paths, name: str) -> Path:
    first = Path(paths[0])
    return (first.parent if first.is_dir() else first.parent.parent) / name


def summary_lines(rec) -> list[str]:
    """Return the per-episode summary of one Recording."""
    lines = [f'bag {rec.path}' + (' (recovered from a damaged file)' if rec.recovered else '')]
    lines.append('  topics: ' + ', '.join(f'{t} ({rec.topic_counts.get(t, 0)})' for t in sorted(rec.topics)))
    if not rec.episodes:
        lines.append('  no episodes')
        return lines
    images = bool(rec.image_times_ns)
    lines.append(f'  {"episode":>7} {"outcome":<10} {"decisions":>9} {"steps":>5} {"return":>6} {"seconds":>7}'
                 + (f' {"images":>6}' if images else '') + '  prompts')
    for e in rec.episodes:
        label = f'{e.episode}' + (f'.{e.run}' if e.run else '')
        lines.append(f'  {label:>7} {e.outcome:<10} {len(e.decisions):>9} {e.control_steps:>5} '
                     f'{e.episode_return:>6.2f} {e.duration_s:>7.1f}' + (f' {e.images:>6}' if images else '')
                     + f'  {" | ".join(e.prompts)}')
    finished = [e for e in rec.episodes if e.outcome != 'unfinished']
    wins = sum(e.success for e in finished)
    rate = f'{wins / len(finished):.0%}' if finished else 'n/a'
    methods = sorted({e.method for e in rec.episodes if e.method})
    lines.append(f'  {len(rec.episodes)} episodes, {wins}/{len(finished)} succeeded ({rate}); '
                 f'{len(rec.transitions)} transitions; method {", ".join(methods) or "unknown"}')
    return lines


def cmd_summary(args) -> int:
    """Print each bag's episodes."""
    recordings = _read(args.bags, args.images)
    if args.json:
        print(json.dumps([{
            'bag': str(rec.path), 'problems': rec.problems, 'topics': rec.topics, 'counts': dict(rec.counts),
            'episodes': [{'episode': e.episode, 'run': e.run, 'task': e.task, 'method': e.method,
                          'outcome': e.outcome, 'decisions': len(e.decisions), 'control_steps': e.control_steps,
                          'images': e.images,
                          'return': e.episode_return, 'prompts': e.prompts} for e in rec.episodes]}
            for rec in recordings], indent=1))
    else:
        for rec in recordings:
            print('\n'.join(summary_lines(rec)))
    return 0 if any(rec.episodes for rec in recordings) else 1


def cmd_plot(args) -> int:
    """Write the PNG plots."""
    from sarl_ros.recording.plots import plot_all
    episodes = _episodes(_read(args.bags))
    out = Path(args.output) if args.output else _default_dir(args.bags, 'plots')
    for name, path in plot_all(episodes, out).items():
        print(path)
    return 0


def cmd_export(args) -> int:
    """Write the CSV files."""
    from sarl_ros.recording.export import export_csv
    recordings = _read(args.bags, args.images)
    _episodes(recordings)
    out = Path(args.output) if args.output else _default_dir(args.bags, 'csv')
    for name, (path, rows) in export_csv(recordings, out).items():
        print(f'{path} ({rows} rows)')
    return 0


def cmd_retrain(args) -> int:
    """Train from the bags, write the checkpoint, print the evaluation."""
    from sarl_ros.recording.retrain import retrain
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    recordings = _read(args.bags)
    _episodes(recordings)
    evaluate_on = _read(args.eval) if args.eval else None
    kwargs = {} if args.encoder is None else {'encoder': args.encoder}
    try:
        result = retrain(recordings, args.output, method=args.method, seed=args.seed,
                         updates_per_decision=args.updates_per_decision, extra_updates=args.extra_updates,
                         evaluate_on=evaluate_on, progress=ProgressPrinter(), **kwargs)
    except ValueError as exc:
        raise CliError(str(exc), code=1) from exc
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
        return 0
    print(f'trained {result.method} on {result.transitions} transitions of {result.episodes} episodes '
          f'({result.updates} TD updates, last loss {result.td_loss:.4g})')
    print('\n'.join(result.evaluation.lines()))
    print(f'checkpoint: {result.checkpoint}')
    print('warm start the Q-policy node from it: '
          f'ros2 run sarl_ros q_policy --ros-args -p warm_start:={result.checkpoint}')
    return 0


def cmd_play(args) -> int:
    """Republish a bag."""
    from sarl_ros.rosutil.imports import RosUnavailable, require_ros
    try:
        require_ros()
    except RosUnavailable as exc:
        raise CliError(str(exc)) from exc
    from sarl_ros.recording.bag.play import play
    problems: list[str] = []
    try:
        count = play(args.bag, rate=args.rate, topics=set(args.topics) if args.topics else None,
                     wait_for_subscribers_s=args.wait, progress=ProgressPrinter(), problems=problems)
    except KeyboardInterrupt:
        print(f'{PROGRAM}: stopped', file=sys.stderr)
        return 130
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    for problem in problems:
        _warn(problem)
    print(f'published {count} messages from {args.bag}')
    return 0 if count else 1


def cmd_repair(args) -> int:
    """Rewrite a damaged bag."""
    from sarl_ros.recording.bag.writer import BagWriterError
    from sarl_ros.recording.bag.repair import repair
    source = Path(args.bag)
    out = Path(args.output) if args.output else source.with_name(source.name.split('.')[0] + '_repaired')
    try:
        count, problems = repair(source, out, args.storage)
    except BagWriterError as exc:
        raise CliError(str(exc)) from exc
    for problem in problems:
        _warn(problem)
    print(f'{out}: {count} messages')
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of sarl-replay."""
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.splitlines()[0],
                                     epilog='\n'.join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    p = sub.add_parser('summary', help='per-episode summary')
    p.add_argument('bags', nargs='+', metavar='BAG')
    p.add_argument('--json', action='store_true', help='machine-readable output')
    p.add_argument('--images', action='store_true', help=IMAGES_HELP)
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser('plot', help='PNG plots')
    p.add_argument('bags', nargs='+', metavar='BAG')
    p.add_argument('-o', '--output', help='directory (default: plots/ beside the bag)')
    p.set_defaults(run=cmd_plot)

    p = sub.add_parser('export', help='CSV files')
    p.add_argument('bags', nargs='+', metavar='BAG')
    p.add_argument('-o', '--output', help='directory (default: csv/ beside the bag)')
    p.add_argument('--images', action='store_true', help=IMAGES_HELP)
    p.set_defaults(run=cmd_export)

    p = sub.add_parser('retrain', help='train a Q-function from bags and write a checkpoint')
    p.add_argument('bags', nargs='+', metavar='BAG')
    p.add_argument('-o', '--output', required=True, help='checkpoint file to write (e.g. runs/offline/sarl.pt)')
    p.add_argument('--method', default=DEFAULT_METHOD, choices=METHODS,
                   help=f'learning method (default {DEFAULT_METHOD})')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--encoder', default=None, choices=('auto', 'minilm', 'hashing'),
                   help='prompt encoder (default auto)')
    p.add_argument('--updates-per-decision', type=int, default=UPDATES_PER_DECISION,
                   help='TD updates after each stored transition')
    p.add_argument('--extra-updates', type=int, default=0, help='TD updates over the whole replay at the end')
    p.add_argument('--eval', nargs='+', metavar='BAG', help='evaluate on these bags instead of the training bags')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    p.add_argument('--json', action='store_true', help='machine-readable output')
    p.set_defaults(run=cmd_retrain)

    p = sub.add_parser('play', help='republish a bag onto the ROS topics')
    p.add_argument('bag', metavar='BAG')
    p.add_argument('--rate', type=float, default=1.0, help='speed factor (2: twice as fast; default 1)')
    p.add_argument('--topics', nargs='+', help='only these topics')
    p.add_argument('--wait', type=float, default=2.0, help='seconds to wait for subscribers before starting')
    p.set_defaults(run=cmd_play)

    p = sub.add_parser('repair', help='rewrite a damaged bag as a complete one')
    p.add_argument('bag', metavar='BAG')
    p.add_argument('-o', '--output', help='new bag directory (default: <BAG>_repaired)')
    p.add_argument('--storage', default=DEFAULT_STORAGE, choices=STORAGES)
    p.set_defaults(run=cmd_repair)
    return parser


def main(argv=None) -> int:
    """Run sarl-replay; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BagError as exc:
        print(f'{PROGRAM}: error: {exc}', file=sys.stderr)
        return 2
    except CliError as exc:
        print(f'{PROGRAM}: error: {exc}', file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into head or less, which quit early
        return 0


if __name__ == '__main__':
    raise SystemExit(main())
