"""Report of the pre-registered paper-build runs (docs/results/sarl_paper/PROTOCOL.md), finished or not.

    ./sarl run python benchmarks/sarl_paper_report.py [--results docs/results/sarl_paper]

Reads every finished run under <results>/<part>/runs, or a finished part's results.json (A1 and A2
are one run, part A), prints per part a table of greedy success at 0 / 30 / 60 / 100 online episodes
(mean over the seeds finished, and how many), checks the pre-registered rule for support on what is
there, and writes <results>/summary.json and one learning-curve figure per part (<results>/<part>_curves.png).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


from sarl_ros.harness.harness import summarize
from sarl_ros.harness.plots import plot_learning_curves

PARTS = {'A': ('A1', 'A2'), 'B': ('B',), 'C': ('C',), 'D': ('D',), 'E': ('E',)}
POINTS = (0, 30, 60, 100)
ORDER_DEPENDENT = ('hammer_plate_mushroom', 'banana_pot_sushi_bowl')


def load_rows(results: Path, part: str) -> list[dict]:
    rows = []
    for directory in PARTS[part]:
        runs = sorted((results / directory / 'runs').glob('*__seed*.json'))
        if runs:  # a part still running (or resumable): its finished runs
            for path in runs:
                rows += json.loads(path.read_text())
        elif (results / directory / 'results.json').exists():  # a finished part keeps only its results
            rows += json.loads((results / directory / 'results.json').read_text())['rows']
    return rows


def table(rows: list[dict]) -> dict:
    """Return {(task, method): {episodes: (mean, seeds)}}, a learner-free method's one point at every column."""
    cells: dict = {}
    for entry in summarize(rows):
        cells.setdefault((entry['task'], entry['method']), {})[entry['episodes']] = (
            entry['eval_success_mean'], entry['seeds'], entry['eval_success_se'])
    for key, points in cells.items():
        if len(points) == 1:  # fixed, random: evaluated once
            only = next(iter(points.values()))
            cells[key] = {p: only for p in POINTS}
    return cells


def at(cells, task, method, episodes):
    return cells.get((task, method), {}).get(episodes, (float('nan'), 0, 0.0))[0]


def verdicts(a: dict, c: dict, coverage: dict) -> list[str]:
    """The pre-registered rule, on the runs finished so far (each line says what it rests on)."""
    tasks = sorted({t for t, _ in a})
    lines = []

    def applies(task):
        best = coverage.get(task)
        return best is None or best >= 0.85

    met = [t for t in tasks if at(a, t, 'sarl', 100) >= 0.8 and at(a, t, 'sarl', 60) >= 0.7]
    eligible = [t for t in tasks if applies(t)]
    lines.append(f'1. sarl >= 0.8 at 100 and >= 0.7 at 60: met on {len(met)} of {len(tasks)} paper tasks '
                 f'({", ".join(met) or "none"}) -> {"SUPPORTED" if len(met) >= 3 else "NOT MET"} (needs 3 of 4)')
    best = ', '.join(f'{t} {coverage.get(t, float("nan")):.2f}' for t in tasks)
    lines.append(f'   rule 5: the one-step coverage puts best-possible success >= 0.85 on {len(eligible)} of '
                 f'{len(tasks)} ({best})')
    held = sorted({t for t, _ in c})
    if held:
        ok = [t for t in held if at(c, t, 'sarl', 100) >= 0.7]
        lines.append(f'   held-out: sarl >= 0.7 at 100 on {len(ok)} of {len(held)} ({", ".join(ok) or "none"})')
    nodemo = [t for t in tasks if at(a, t, 'sarl_nodemo', 100) >= 0.6]
    lines.append(f'2. sarl_nodemo >= 0.6 at 100: {len(nodemo)} of {len(tasks)} -> '
                 f'{"SUPPORTED" if len(nodemo) >= 3 else "NOT MET"}')
    gaps = {t: at(a, t, 'sarl', 100) - at(a, t, 'sarl_blind', 100) for t in ORDER_DEPENDENT if t in tasks}
    lines.append('3. sarl - sarl_blind at 100 on the order-dependent tasks: '
                 + ', '.join(f'{t} {g:+.2f}' for t, g in gaps.items())
                 + f' -> {"SUPPORTED" if gaps and all(g >= 0.2 for g in gaps.values()) else "NOT MET"}')
    below = [t for t in tasks if at(a, t, 'icl', 100) < at(a, t, 'sarl', 100)]
    lines.append(f'4. icl below sarl at 100 on {len(below)} of {len(tasks)} -> '
                 f'{"SUPPORTED" if len(below) >= 3 else "NOT MET"}')
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', type=Path, default=Path('docs/results/sarl_paper'))
    args = parser.parse_args(argv)
    coverage_file = args.results / 'coverage.json'
    coverage = {}
    if coverage_file.exists():
        for entry in json.loads(coverage_file.read_text()).get('summary', []):
            if entry.get('reset') == 'paper_like' and entry.get('regime') == 'pool':
                coverage[entry['task']] = entry.get('best_success')
    summary, tables = {}, {}
    for part in PARTS:
        rows = load_rows(args.results, part)
        if not rows:
            continue
        cells = tables[part] = table(rows)
        print(f'\npart {part}: greedy success at {", ".join(map(str, POINTS))} online episodes (seeds finished)')
        for task, method in sorted(cells):
            points = cells[(task, method)]
            values = '  '.join(f'{points[p][0]:.2f}' if p in points else '  - ' for p in POINTS)
            seeds = max(v[1] for v in points.values())
            last = points.get(POINTS[-1])
            values += f'   (100: {last[0]:.2f} ± {last[2]:.2f})' if last else ''
            print(f'  {task:24s} {method:16s} {values}   ({seeds} seeds)')
        summary[part] = [{'task': t, 'method': m, **{str(p): v[0] for p, v in pts.items()},
                          **{f'{p}_se': v[2] for p, v in pts.items()},
                          'seeds': max(v[1] for v in pts.values())} for (t, m), pts in sorted(cells.items())]
        plot_learning_curves(summarize(rows), args.results / f'{part}_curves.png')
    if 'A' in tables:
        print('\nrule for support (on the runs finished):')
        lines = verdicts(tables['A'], tables.get('C', {}), coverage)
        print('\n'.join('  ' + line for line in lines))
        summary['verdicts'] = lines
    (args.results / 'summary.json').write_text(json.dumps(summary, indent=1, default=float))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
