"""Figures of a demo run: the learning curve and an image strip of one episode."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_learning_curve(successes: Sequence[bool], path: Path, title: str, window: int = 10) -> None:
    """Plot per-episode outcomes, their moving average and the cumulative success rate."""
    plt = _pyplot()
    outcomes = np.asarray(successes, dtype=float)
    episodes = np.arange(1, len(outcomes) + 1)
    moving = np.array([outcomes[max(0, i - window + 1):i + 1].mean() for i in range(len(outcomes))])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.scatter(episodes, outcomes, s=10, color='0.6', label='episode outcome')
    ax.plot(episodes, moving, lw=2, label=f'success rate, last {window} episodes')
    ax.plot(episodes, np.cumsum(outcomes) / episodes, lw=1, ls='--', label='cumulative success rate')
    ax.set(xlabel='online episode', ylabel='success', ylim=(-0.05, 1.05), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc='center right', fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_image_strip(frames: Sequence[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """Save the frames side by side, each captioned with the command that led to it."""
    if not frames:
        raise ValueError('no frames to save: was the environment made with render=True?')
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(frames), figsize=(2.4 * len(frames), 3.0), dpi=100, squeeze=False)
    for ax, (label, image) in zip(axes[0], frames):
        ax.imshow(image)
        ax.set_title('\n'.join(textwrap.wrap(label, 22)), fontsize=8)
        ax.axis('off')
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
