"""Print the markdown table of the action-space baselines (dsrl, residual) next to the fixed prompt and SARL.

Usage: ./sarl run python benchmarks/action_space_table.py docs/results/action_space/results.json \
           [docs/results/paper_tasks/results.json]
A cell is the greedy success of 20 evaluation episodes after N online episodes, mean ± s.e. over the
seeds measured (n = seeds), then in brackets the online success over all online episodes up to that point.
The optional second file (sarl-bench results of the paper tasks, issue 18) fills the fixed and SARL
columns from the same evaluation scenes; without it those columns say where the lead finds them.
"""
from __future__ import annotations

import json
import math
import sys

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
    online = [r['online_success_cumulative'] for r in mine if r['online_success_cumulative'] == r['online_success_cumulative']]
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__)
        return 2
    document = json.loads(open(argv[0]).read())
    sarl = json.loads(open(argv[1]).read()) if len(argv) > 1 else None
    print(table(document, sarl))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
