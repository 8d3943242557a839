"""PNG plots of recorded runs (matplotlib, Agg: no display needed).

- success_rate.png: each episode's outcome and the rolling success rate.
- prompt_usage.png: how often each prompt was executed in each episode.
- q_values.png: the Q-value of every chosen prompt over the run, by outcome of its episode.
- prompt_phases.png: which prompts worked at which decision step (phase) of the task.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sarl_ros.recording.records import EpisodeRecord

SUCCESS_COLOR = '#2ca02c'
FAILURE_COLOR = '#d62728'
RATE_COLOR = '#1f77b4'
OTHER_PROMPTS = 'other prompts'
FIGSIZE = (9.0, 5.0)
DPI = 100


def _figure(size=FIGSIZE) -> Figure:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _short(prompt: str, width: int = 38) -> str:
    return prompt if len(prompt) <= width else prompt[:width - 1] + '…'


def rolling_rate(successes: Sequence[bool], window: int) -> np.ndarray:
    """Return the success rate over the last `window` episodes at each episode."""
    values = np.asarray(successes, dtype=float)
    sums = np.cumsum(values)
    out = np.empty_like(values)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        out[i] = (sums[i] - (sums[lo - 1] if lo else 0.0)) / (i + 1 - lo)
    return out


def plot_success_rate(episodes: Sequence[EpisodeRecord], path: Path, window: int = 10) -> Path:
    """Plot each finished episode's outcome (dots) and the rolling success rate (line)."""
    finished = [e for e in episodes if e.outcome != 'unfinished']
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(1, len(finished) + 1)
    outcomes = np.array([e.success for e in finished], dtype=bool)
    if len(finished):
        ax.scatter(x[outcomes], np.ones(outcomes.sum()), color=SUCCESS_COLOR, s=18, label='success', zorder=3)
        ax.scatter(x[~outcomes], np.zeros((~outcomes).sum()), color=FAILURE_COLOR, s=18, label='failure',
                   zorder=3)
        ax.plot(x, rolling_rate(outcomes, window), color=RATE_COLOR, linewidth=2.5,
                label=f'success rate (last {window})')
        ax.axhline(outcomes.mean(), color='grey', linestyle='--', linewidth=1, label=f'overall {outcomes.mean():.0%}')
        ax.legend(loc='center right', fontsize=8)
    ax.set_xlim(0.5, max(1, len(finished)) + 0.5)
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlabel('episode')
    ax.set_ylabel('success')
    ax.set_title(f'Success over {len(finished)} episodes')
    ax.grid(alpha=0.3)
    return _save(fig, path)


def top_prompts(episodes: Sequence[EpisodeRecord], limit: int) -> list[str]:
    """Return the `limit` most executed prompts, most used first."""
    counts = Counter(p for e in episodes for p in e.prompts)
    return [p for p, _ in counts.most_common(limit)]


def _prompt_colors(prompts: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps
    cmap = colormaps['tab10' if len(prompts) <= 10 else 'tab20']
    colors = {p: cmap(i % cmap.N) for i, p in enumerate(prompts)}
    colors[OTHER_PROMPTS] = (0.88, 0.88, 0.88, 1.0)  # lighter than tab10's grey, and hatched
    return colors


def plot_prompt_usage(episodes: Sequence[EpisodeRecord], path: Path, limit: int = 10) -> Path:
    """Plot, per episode, how many times each prompt was executed (stacked bars)."""
    shown = top_prompts(episodes, limit)
    rest = any(p not in shown for e in episodes for p in e.prompts)
    labels = shown + ([OTHER_PROMPTS] if rest else [])
    colors = _prompt_colors(shown)
    fig = _figure((FIGSIZE[0] + 3, FIGSIZE[1]))
    ax = fig.add_subplot()
    x = np.arange(1, len(episodes) + 1)
    bottom = np.zeros(len(episodes))
    for label in labels:
        heights = np.array([sum(1 for p in e.prompts if (p == label or (label == OTHER_PROMPTS and p not in shown)))
                            for e in episodes], dtype=float)
        ax.bar(x, heights, bottom=bottom, color=colors[label], label=_short(label), width=0.85,
               hatch='//' if label == OTHER_PROMPTS else None, edgecolor='white' if label != OTHER_PROMPTS else 'grey',
               linewidth=0.3)
        bottom += heights
    for xi, e in zip(x, episodes):
        if e.success:
            ax.plot(xi, bottom[xi - 1] + 0.25, marker='*', color='black', markersize=6)
    ax.set_xlabel('episode (* success)')
    ax.set_ylabel('prompts executed')
    ax.set_title('Prompt usage per episode')
    if labels:
        ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xlim(0.4, max(1, len(episodes)) + 0.6)
    return _save(fig, path)


def plot_q_values(episodes: Sequence[EpisodeRecord], path: Path) -> Path:
    """Plot the Q-value of each chosen prompt against time since the first decision."""
    decisions = [(d, e.success) for e in episodes for d in e.decisions]
    fig = _figure()
    ax = fig.add_subplot()
    if decisions:
        start = min(d.time_ns for d, _ in decisions)
        for success, color, label in ((True, SUCCESS_COLOR, 'in a successful episode'),
                                      (False, FAILURE_COLOR, 'in a failed episode')):
            points = [((d.time_ns - start) / 1e9, d.chosen_q) for d, ok in decisions if ok == success]
            if points:
                t, q = zip(*points)
                ax.scatter(t, q, s=14, color=color, label=label, zorder=3)
        t_all = np.array([(d.time_ns - start) / 1e9 for d, _ in decisions])
        best = np.array([float(np.max(d.q_values)) if len(d.q_values) else np.nan for d, _ in decisions])
        order = np.argsort(t_all)
        ax.plot(t_all[order], best[order], color=RATE_COLOR, linewidth=1, alpha=0.6, label='max Q of the candidates')
        ax.legend(fontsize=8)
    ax.set_xlabel('time since the first decision [s]')
    ax.set_ylabel('Q(s, chosen prompt)')
    ax.set_title('Q-values of chosen prompts')
    ax.grid(alpha=0.3)
    return _save(fig, path)


def phase_table(episodes: Sequence[EpisodeRecord], limit: int = 12):
    """Return (prompts, steps, uses[p, s], successes[p, s]): prompt executed at decision step s, and won."""
    shown = top_prompts(episodes, limit)
    uses: dict[tuple[str, int], int] = defaultdict(int)
    wins: dict[tuple[str, int], int] = defaultdict(int)
    steps = 0
    for e in episodes:
        for step, prompt in enumerate(e.prompts):
            steps = max(steps, step + 1)
            if prompt in shown:
                uses[(prompt, step)] += 1
                wins[(prompt, step)] += e.success
    use_grid = np.array([[uses[(p, s)] for s in range(steps)] for p in shown], dtype=int).reshape(len(shown), steps)
    win_grid = np.array([[wins[(p, s)] for s in range(steps)] for p in shown], dtype=int).reshape(len(shown), steps)
    return shown, steps, use_grid, win_grid


def plot_prompt_phases(episodes: Sequence[EpisodeRecord], path: Path, limit: int = 12) -> Path:
    """Plot, per prompt and decision step, the success rate of the episodes that executed it there."""
    prompts, steps, uses, wins = phase_table(episodes, limit)
    fig = _figure((FIGSIZE[0] + 1, max(3.0, 0.45 * len(prompts) + 1.5)))
    ax = fig.add_subplot()
    if not prompts:
        ax.text(0.5, 0.5, 'no prompts were executed', ha='center', va='center')
        return _save(fig, path)
    rate = np.where(uses > 0, wins / np.maximum(uses, 1), np.nan)
    image = ax.imshow(np.ma.masked_invalid(rate), cmap='RdYlGn', vmin=0.0, vmax=1.0, aspect='auto')
    for (i, j), n in np.ndenumerate(uses):
        if n:
            dark = rate[i, j] < 0.2 or rate[i, j] > 0.85  # the ends of RdYlGn are dark: white text there
            ax.text(j, i, f'{wins[i, j]}/{n}', ha='center', va='center', fontsize=8,
                    color='white' if dark else 'black')
    ax.set_xticks(range(steps), [str(s) for s in range(steps)])
    ax.set_yticks(range(len(prompts)), [_short(p) for p in prompts], fontsize=8)
    ax.set_xlabel('decision step (phase of the task)')
    ax.set_title('Which prompts worked when: successful episodes / uses')
    fig.colorbar(image, ax=ax, label='success rate')
    return _save(fig, path)


PLOTS = {
    'success_rate.png': plot_success_rate,
    'prompt_usage.png': plot_prompt_usage,
    'q_values.png': plot_q_values,
    'prompt_phases.png': plot_prompt_phases,
}


def plot_all(episodes: Sequence[EpisodeRecord], out_dir: str | Path) -> dict[str, Path]:
    """Write every plot to out_dir and return {file name: path}."""
    if not episodes:
        raise ValueError('no episodes to plot (see the reader\'s problems for why)')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {name: plot(episodes, out / name) for name, plot in PLOTS.items()}
