"""Print the markdown results table of a paper-task benchmark (results.json of sarl-bench).

Usage: ./sarl run python benchmarks/paper_tasks_table.py docs/results/paper_tasks/results.json
       (or a benchmark's output directory: the finished runs under <dir>/runs/, e.g. of an unfinished benchmark)
Greedy: success of 20 greedy episodes after the last online episode (mean ± s.e. over seeds);
online: success over all online episodes of a run (mean over seeds); fixed and random learn
nothing and run no online episodes (their greedy figure is their success rate).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

METHOD_ORDER = ('fixed', 'random', 'icl', 'sarl_blind', 'sarl', 'sarl_oracle', 'ucb')


def table(document: dict) -> str:
    rows = document['rows']
    order = ('hammer_plate_mushroom', 'banana_pot_sushi_bowl', 'left_toy_largest_bowl', 'pot_lid_on_towel',
             'corn_pan_sponge', 'right_can_smallest_dish')
    tasks = sorted(dict.fromkeys(r['task'] for r in rows), key=lambda t: (order.index(t) if t in order else 99, t))
    methods = [m for m in METHOD_ORDER if any(r['method'] == m for r in rows)]
    lines = ['| task | ' + ' | '.join(methods) + ' |', '|---|' + '---|' * len(methods)]
    for task in tasks:
        cells = []
        for method in methods:
            mine = [r for r in rows if r['task'] == task and r['method'] == method]
            if not mine:  # an unfinished benchmark: this run is still to come
                cells.append('-')
                continue
            last = max(r['episodes'] for r in mine)
            final = [r for r in mine if r['episodes'] == last]
            greedy = np.array([r['eval_success'] for r in final])
            se = float(np.std(greedy, ddof=1) / math.sqrt(len(greedy))) if len(greedy) > 1 else 0.0
            online = [r['online_success_cumulative'] for r in final
                      if not math.isnan(r['online_success_cumulative'])]
            cell = f'{greedy.mean():.2f} ± {se:.2f}'
            if online:
                cell += f' ({np.mean(online):.2f})'
            cells.append(cell)
        lines.append(f'| {task} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def load_rows(path: str) -> dict:
    """Return {'rows': [...]} from a results.json, or from the finished runs of an output directory."""
    source = Path(path)
    if source.is_dir():
        return {'rows': [row for run in sorted((source / 'runs').glob('*__seed*.json'))
                         for row in json.loads(run.read_text())]}
    return json.loads(source.read_text())


if __name__ == '__main__':
    print(table(load_rows(sys.argv[1])))
