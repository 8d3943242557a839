"""Print the markdown table of the action-space baselines (dsrl, residual) next to the fixed prompt and SARL.

Usage: ./sarl run python benchmarks/action_space_table.py docs/results/action_space/results.json \
           [docs/results/paper_tasks/results.json] [--plot docs/results/action_space/curves_vs_sarl.png]
A cell is the greedy success of 20 evaluation episodes after N online episodes, mean ± s.e. over the
seeds measured (n = seeds), then in brackets the online success over all online episodes up to that point.
The optional second file (sarl-bench results of the paper tasks, issue 18) fills the fixed and SARL
columns from the same evaluation scenes; without it those columns say where the lead finds them.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

POINTS = (100, 300)
METHODS = ('dsrl', 'residual')


def cell(rows: list[dict], method: str, task: str, episodes: int | None, seeds=None) -> str:
    mine = [r for r in rows if r['method'] == method and r['task'] == task and (seeds is None or r['seed'] in seeds)]
    if episodes is not None:
        mine = [r for r in mine if r['episodes'] == episodes]
    elif mine:
        last = max(r['episodes'] for r in mine)
        mine = [r for r in mine if r['episodes'] == last]
    if not mine:
        return 'not run'
    greedy = np.array([r['eval_success'] for r in mine], dtype=float)
    se = float(np.std(greedy, ddof=1) / math.sqrt(len(greedy))) if len(greedy) > 1 else float('nan')
    online = [r['online_success_cumulative'] for r in mine
              if r['online_success_cumulative'] == r['online_success_cumulative']]  # NaN-free
    text = f'{greedy.mean():.2f}' + (f' ± {se:.2f}' if se == se else '') + f' (n={len(greedy)})'
    if online:
        text += f' [{np.mean(online):.2f}]'
    return text


def table(document: dict, sarl: dict | None) -> str:
    rows = document['rows']
    tasks = list(dict.fromkeys(r['task'] for r in rows))
    header = ['task', 'fixed prompt', 'SARL @100', 'SARL @100, same seeds']
    header += [f'{m} @{p}' for p in POINTS for m in METHODS]
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for task in tasks:
        seeds = {r['seed'] for r in rows if r['task'] == task}
        if sarl is not None:
            fixed, sarl_cell = cell(sarl['rows'], 'fixed', task, None), cell(sarl['rows'], 'sarl', task, 100)
            same = cell(sarl['rows'], 'sarl', task, 100, seeds)
        else:
            fixed, sarl_cell, same = 'see paper_tasks', 'LEAD: fill from docs/results/paper_tasks', 'LEAD'
        cells = [task, fixed, sarl_cell, same] + [cell(rows, m, task, p) for p in POINTS for m in METHODS]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(document: dict, sarl: dict | None, path: str) -> None:
    """Per task: greedy (solid) and online success so far (dotted) per seed and method; fixed and SARL levels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = document['rows']
    tasks = list(dict.fromkeys(r['task'] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False, sharey=True)
    colours = {'dsrl': 'tab:blue', 'residual': 'tab:orange'}
    for ax, task in zip(axes[0], tasks):
        for method in METHODS:
            for seed in sorted({r['seed'] for r in rows if r['task'] == task and r['method'] == method}):
                mine = sorted((r for r in rows if r['task'] == task and r['method'] == method and r['seed'] == seed),
                              key=lambda r: r['episodes'])
                x = [r['episodes'] for r in mine]
                ax.plot(x, [r['eval_success'] for r in mine], marker='o', markersize=3, color=colours[method],
                        label=f'{method} greedy' if seed == 0 else None)
                online = [(r['episodes'], r['online_success_cumulative']) for r in mine
                          if r['online_success_cumulative'] == r['online_success_cumulative']]
                if online:
                    ax.plot(*zip(*online), linestyle=':', color=colours[method],
                            label=f'{method} online so far' if seed == 0 else None)
        if sarl is not None:
            for method, style, colour in (('fixed', '--', 'grey'), ('sarl', '-.', 'tab:green')):
                final = [r for r in sarl['rows'] if r['task'] == task and r['method'] == method
                         and r['episodes'] == (100 if method == 'sarl' else max(x['episodes'] for x in sarl['rows']))]
                if final:
                    level = float(np.mean([r['eval_success'] for r in final]))
                    ax.axhline(level, linestyle=style, color=colour, linewidth=1.2,
                               label=f'{method} (issue 18, 3 seeds{", 100 ep" if method == "sarl" else ""})')
        ax.set_title(task, fontsize=10)
        ax.set_xlabel('online episodes')
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel('success rate')
    axes[0][0].legend(fontsize=7, loc='upper left')
    fig.suptitle('Action-space RL on the paper tasks: greedy evaluation (20 episodes) and online success', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', type=Path, help="action_space_bench's results.json")
    parser.add_argument('sarl_results', type=Path, nargs='?',
                        help="sarl-bench's results.json of the paper tasks (fills the fixed and SARL columns)")
    parser.add_argument('--plot', type=Path, help='also write the curves to this PNG')
    args = parser.parse_args(argv)
    for path in (args.results, args.sarl_results):
        if path is not None and not path.is_file():
            parser.error(f'{path} is not a file (a results.json written by the benchmark)')
    document = json.loads(args.results.read_text())
    sarl = json.loads(args.sarl_results.read_text()) if args.sarl_results else None
    print(table(document, sarl))
    if args.plot is not None:
        plot(document, sarl, str(args.plot))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
