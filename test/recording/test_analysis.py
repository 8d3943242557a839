"""Plots (checked as images) and CSV export of a recorded run."""
import csv

import numpy as np
import pytest
from PIL import Image
from recording_helpers import learner_transitions, synthetic_run, write_bag

from sarl_ros.recording import plots
from sarl_ros.recording.export import PROMPT_SEPARATOR, export_csv
from sarl_ros.recording.reader import read_recording


@pytest.fixture(scope='module')
def recorded(tmp_path_factory):
    run = synthetic_run(episodes=24, seed=5)
    path = tmp_path_factory.mktemp('analysis') / 'bag'
    write_bag(path, run)
    return run, read_recording(path)


@pytest.fixture(scope='module')
def pngs(recorded, tmp_path_factory):
    out = tmp_path_factory.mktemp('plots')
    return plots.plot_all(recorded[1].episodes, out)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert('RGB')).astype(int)


def color_mask(image: np.ndarray, hex_color: str, tolerance: int = 40) -> np.ndarray:
    rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    return np.abs(image - rgb).sum(axis=2) < tolerance


def test_every_plot_is_a_nonblank_png_of_the_planned_size(pngs):
    assert set(pngs) == set(plots.PLOTS)
    for name, path in pngs.items():
        image = pixels(path)
        assert image.shape[0] >= 300 and image.shape[1] >= 800, name
        non_white = (image.sum(axis=2) < 700).mean()
        assert 0.02 < non_white < 0.9, (name, non_white)
        assert image.std() > 20, name
    assert Image.open(pngs['success_rate.png']).size == (int(plots.FIGSIZE[0] * plots.DPI),
                                                         int(plots.FIGSIZE[1] * plots.DPI))


def test_success_plot_shows_both_outcomes_and_a_rising_rate(recorded, pngs):
    run, _ = recorded
    assert 'success' in run.outcomes and 'timeout' in run.outcomes
    image = pixels(pngs['success_rate.png'])
    assert color_mask(image, plots.SUCCESS_COLOR).sum() > 50
    assert color_mask(image, plots.FAILURE_COLOR).sum() > 20
    line = color_mask(image, plots.RATE_COLOR, tolerance=30)
    rows, cols = np.nonzero(line[:, :int(image.shape[1] * 0.8)])  # left of the legend
    left, right = rows[cols < np.percentile(cols, 25)], rows[cols > np.percentile(cols, 75)]
    # Image rows grow downwards: a higher success rate late in the run is a smaller row index.
    assert right.mean() < left.mean()


def test_prompt_usage_has_one_colour_per_prompt(recorded, pngs):
    _, rec = recorded
    used = plots.top_prompts(rec.episodes, 10)
    image = pixels(pngs['prompt_usage.png'])
    colors = plots._prompt_colors(used)
    for prompt in used:
        hex_color = '#%02x%02x%02x' % tuple(int(255 * c) for c in colors[prompt][:3])
        assert color_mask(image, hex_color, tolerance=12).sum() > 30, prompt


def test_phase_table_counts_prompt_uses_per_step(recorded):
    run, rec = recorded
    prompts, steps, uses, wins = plots.phase_table(rec.episodes)
    assert steps == max(len(c) for c in run.chosen)
    first = prompts.index('pick up the sushi')
    assert uses[first, 0] == sum(c[0] == 'pick up the sushi' for c in run.chosen)
    assert wins[first, 0] == sum(c[0] == 'pick up the sushi' and o == 'success'
                                 for c, o in zip(run.chosen, run.outcomes))
    assert uses.sum() == sum(len(c) for c in run.chosen)


def test_q_plot_marks_choices_by_outcome(pngs):
    image = pixels(pngs['q_values.png'])
    assert color_mask(image, plots.SUCCESS_COLOR).sum() > 100
    assert color_mask(image, plots.FAILURE_COLOR).sum() > 20


def test_nothing_to_plot_is_an_error(tmp_path):
    with pytest.raises(ValueError, match='no episodes to plot'):
        plots.plot_all([], tmp_path)


def test_csv_export_round_trips_the_transitions(recorded, tmp_path):
    run, rec = recorded
    written = export_csv([rec], tmp_path)
    assert {name: rows for name, (_, rows) in written.items()} == {
        'episodes.csv': 24, 'decisions.csv': len(run.chosen_q), 'transitions.csv': len(run.transition_cdr)}
    with open(written['transitions.csv'][0]) as f:
        rows = list(csv.DictReader(f))
    for row, expected in zip(rows, learner_transitions(run)):
        state = np.array(row['state'].split(), dtype=np.float32)
        assert state.tobytes() == expected.state.tobytes()
        assert row['prompt'] == expected.prompt and int(row['truncated']) == expected.truncated
        assert tuple(row['next_prompts'].split(PROMPT_SEPARATOR)) == (expected.next_prompts or ('',))
    with open(written['episodes.csv'][0]) as f:
        reader = csv.DictReader(f)
        # The run record's schema (the episode manager's episodes.csv), between the bag's own columns.
        from sarl_ros.core.online_run import EPISODE_FIELDS
        assert [c for c in reader.fieldnames if c in EPISODE_FIELDS] == list(EPISODE_FIELDS)
        episodes = list(reader)
    assert [e['outcome'] for e in episodes] == run.outcomes
    assert [e['prompts'].split(PROMPT_SEPARATOR) for e in episodes] == run.chosen
    with open(written['decisions.csv'][0]) as f:
        decisions = list(csv.DictReader(f))
    assert [np.float32(d['chosen_q']) for d in decisions] == [np.float32(q) for q in run.chosen_q]
