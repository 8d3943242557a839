"""Learning curves: eval success vs online episodes, mean and standard error over seeds, a panel per task."""
from __future__ import annotations

from pathlib import Path


def plot_learning_curves(summary: list[dict], path: Path) -> Path:
    """Draw one panel per task with a line per method; return the PNG path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = list(dict.fromkeys(s['task'] for s in summary))
    methods = list(dict.fromkeys(s['method'] for s in summary))
    palette = plt.rcParams['axes.prop_cycle'].by_key()['color']  # one colour per method in every panel
    columns = min(len(tasks), 3) or 1
    rows = max(1, -(-len(tasks) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False, sharey=True)
    for ax, task in zip(axes.flat, tasks):
        for method in methods:
            points = sorted((s for s in summary if s['task'] == task and s['method'] == method),
                            key=lambda s: s['episodes'])
            if not points:
                continue
            x = np.array([p['episodes'] for p in points])
            mean = np.array([p['eval_success_mean'] for p in points])
            se = np.array([p['eval_success_se'] for p in points])
            colour = palette[methods.index(method) % len(palette)]
            if len(points) == 1:
                # A method that learns nothing was evaluated once: draw its level across the run.
                ax.axhline(mean[0], linestyle='--', linewidth=1.2, color=colour, label=f'{method} (no learning)')
                ax.axhspan(max(mean[0] - se[0], 0), min(mean[0] + se[0], 1), color=colour, alpha=0.1)
                continue
            ax.plot(x, mean, marker='o', markersize=3, label=method, color=colour)
            ax.fill_between(x, np.clip(mean - se, 0, 1), np.clip(mean + se, 0, 1), color=colour, alpha=0.2)
        ax.axhline(0.8, color='grey', linestyle=':', linewidth=1)
        ax.set_title(task)
        ax.set_xlabel('online episodes')
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel('greedy success rate')
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis('off')
    axes.flat[0].legend(fontsize=8, loc='best')
    fig.suptitle('Success vs online episodes (mean ± s.e. over seeds)', fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
