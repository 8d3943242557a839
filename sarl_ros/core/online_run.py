"""One online run: which episodes run, their numbers and seeds, resuming, and the episode record.

The demo (sarl_ros.apps.demo), the benchmark (sarl_ros.harness.harness) and the episode manager node
drive their runs with `OnlineRun`; one episode is core's run_episode (sarl_ros.core.episode_loop).

Order and numbering. A run is `demonstrations` language-guided demonstrations (a demonstrator
chooses, the learner stores the steps) followed by `episodes` online episodes. Demonstration i
(0-based) is episode -1 - i; online episodes are numbered 1 .. episodes. Run position k (episodes
finished before it, demonstrations included) is episode `episode_number(k, demonstrations)`.

Seeds. Episode e resets its scene with `episode_seed(run_seed, e)` (run_seed * 100_000 + e - 1 online,
run_seed * 100_000 + 90_000 + i for demonstration i: the benchmark's pre-registered seeds). Components
seeded afresh per episode use `episode_stream_seed(run_seed, e, stream)`.

Resuming. A run continues at the position after the last finished episode: the learner's
checkpoint is the authority where the runner holds it (its episode count; record rows beyond it
are dropped and redone), else the record's row count (`resume_position`).

The episode record, `<output_dir>/episodes.csv`: one row per finished episode, appended (and
fsynced) as each ends, in run order. Its columns, `EPISODE_FIELDS`:

==============  ======  ==========================================================================
column          type    meaning
==============  ======  ==========================================================================
episode         int     the episode's number: 1 .. episodes online, -1 - i for demonstration i
task            str     the task's name (a simulator task) or text (a real robot)
chooser         str     who chose the prompts: `policy`, or `person` in a demonstration
success         0/1     the task succeeded (after an operator's correction, the corrected verdict)
outcome         str     success, failure (failed for good), timeout (decision budget) or aborted
decided_by      str     who gave the final verdict in the graph: person, detector,
                        `person (corrected)`; empty in process, for a timeout or an abort
decisions       int     decisions executed (skipped ones not counted)
control_steps   int     low-level control steps the VLA ran over the episode
return          float   undiscounted sum of the rewards
skipped         int     decisions whose prompt could not run (budget spent, nothing stored)
seed            int     the reset seed of the episode (`episode_seed`)
seconds         float   wall-clock duration of the episode (the one column that depends on the clock)
prompts         str     the executed prompts in order, joined with ' | '
==============  ======  ==========================================================================

A record begun by an older version keeps its own header: rows are written in its columns.
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sarl_ros.core.config import Config, register_config, setting
from sarl_ros.core.durability.resume import RECORD_NAME, finished_episodes, trim_record
from sarl_ros.core.episode_loop import UPDATES_PER_DECISION, EpisodeResult, episode_seed, run_episode
from sarl_ros.core.events import BY_EPISODE_END
from sarl_ros.core.method_names import DEFAULT_METHOD
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER, ENCODERS
from sarl_ros.core.proposals import MAX_CANDIDATES
from sarl_ros.core.sarl.demonstrations import Demonstrated

RESETS = ('paper_like', 'repaint')

EPISODE_FIELDS = ('episode', 'task', 'chooser', 'success', 'outcome', 'decided_by', 'decisions', 'control_steps',
                  'return', 'skipped', 'seed', 'seconds', 'prompts')
PROMPT_SEPARATOR = ' | '
PERSON, POLICY = 'person', 'policy'


@register_config('run', 'online')
@dataclass(frozen=True)
class RunConfig(Config):
    """What an online run is: the settings the demo, the benchmark and the episode manager share."""

    # The one default task of the demo, the graph (its task:= launch argument must equal it) and the node.
    task: str = setting('pot_lid_on_towel', 'Task: a simulator task name, or the task text for a real robot')
    episodes: int = setting(60, 'Online episodes of the run in all (a resumed run continues up to this number)',
                            low=0)
    seed: int = setting(0, 'Run seed: episode e resets its scene with seed * 100000 + e - 1 (demonstration i: '
                        'seed * 100000 + 90000 + i)', low=0)
    method: str = setting(DEFAULT_METHOD, 'Prompt-selection method: sarl or a baseline')
    demonstrations: int = setting(-1, "Language-guided demonstrations before the online episodes (-1: the method's "
                                  'own, sarl: 3; 0: none)', low=-1)
    max_candidates: int = setting(MAX_CANDIDATES, 'Candidates requested from the proposer', low=1)
    reset: str = setting('paper_like', 'paper_like: the scene is kept between episodes (colours, layout), positions '
                         'jittered; repaint: new colours and positions every episode (harder)', choices=RESETS)
    pool_file: str = setting('', 'Seed the instruction pool with the prompts of this JSON list first (empty: none)')
    encoder: str = setting(DEFAULT_ENCODER, 'Prompt encoder of the learning methods', choices=ENCODERS)
    greedy: bool = setting(False, 'Evaluate: choose greedily')
    output_dir: str = setting('runs/latest', 'The run directory: episodes.csv, checkpoints')
    fresh: bool = setting(False, 'Start afresh: move an existing output directory aside instead of resuming it')


def run_default(name: str):
    """Return RunConfig's default of one setting (for node parameters and flags declared elsewhere)."""
    for spec in RunConfig.settings():
        if spec.name == name:
            return spec.default
    raise KeyError(f'RunConfig has no setting {name!r}')


def episode_number(position: int, demonstrations: int) -> int:
    """Return the number of the episode at run position `position` (0-based, demonstrations first)."""
    if position < demonstrations:
        return -1 - position
    return position - demonstrations + 1


def is_demonstration(episode: int) -> bool:
    return episode < 0


def episode_row(episode: int, result: EpisodeResult, *, task: str, seed: int, seconds: float,
                chooser: str = POLICY, decided_by: str = '') -> dict:
    """Return the record row (EPISODE_FIELDS) of one finished episode."""
    return {'episode': int(episode), 'task': task, 'chooser': chooser, 'success': int(result.success),
            'outcome': BY_EPISODE_END[result.end].label, 'decided_by': decided_by, 'decisions': result.decisions,
            'control_steps': result.control_steps, 'return': f'{result.episode_return:.9g}',
            'skipped': result.skipped, 'seed': int(seed), 'seconds': f'{seconds:.2f}',
            'prompts': PROMPT_SEPARATOR.join(result.prompts)}


class RunRecord:
    """A run's episodes.csv: read, append one row per episode, trim to the checkpoint, correct the last verdict."""

    def __init__(self, path):
        path = Path(path)
        self.path = path / RECORD_NAME if path.is_dir() else path

    def rows(self) -> list[dict]:
        """Return the rows of the finished episodes (episode as int; a torn last row is dropped)."""
        return finished_episodes(self.path)

    def keep_first(self, count: int) -> None:
        """Drop every row after the first `count` (episodes a checkpoint does not hold are redone)."""
        trim_record(self.path, count)

    def append(self, row: dict) -> None:
        """Append one row and put it on disk before returning (before a checkpoint may name the episode)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        columns = list(EPISODE_FIELDS)
        new = not self.path.exists() or not self.path.stat().st_size
        if not new:
            with self.path.open(newline='') as f:  # a run begun by an older version keeps its columns
                columns = next(csv.reader(f), None) or columns
        with self.path.open('a', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction='ignore')
            if new:
                writer.writeheader()
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def correct_last(self, episode: int, success: bool) -> str:
        """Rewrite the last row (episode's) with a person's verdict; return the outcome it had."""
        with self.path.open(newline='') as f:
            rows = list(csv.reader(f))
        header, last = rows[0], rows[-1]
        if len(rows) < 2 or int(last[0]) != episode:
            raise ValueError(f'the last row of {self.path} is not episode {episode}')
        row = dict(zip(header, last))
        was = row.get('outcome') or ('success' if row.get('success') == '1' else 'failure')
        row.update(success=str(int(success)), outcome='success' if success else 'failure',
                   decided_by='person (corrected)')
        rows[-1] = [row.get(column, '') for column in header]
        tmp = self.path.with_suffix('.csv.tmp')
        with tmp.open('w', newline='') as f:
            csv.writer(f).writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return was


def resume_position(record: RunRecord | None, checkpoint_episodes: int | None = None) -> int:
    """Return how many episodes of the run are finished, i.e. the run position to continue at.

    checkpoint_episodes: the episodes the learner's checkpoint holds, when the runner holds the
    learner (the demo); the record is trimmed to them, as rows are written before the checkpoint.
    Without it (the graph: the learner is another node) the record's rows count.
    """
    if checkpoint_episodes is not None:
        if record is not None:
            record.keep_first(checkpoint_episodes)
        return int(checkpoint_episodes)
    return len(record.rows()) if record is not None else 0


class OnlineRun:
    """Run demonstrations, then online episodes: numbered, seeded and recorded in one way.

    proposer: one proposer for every episode, or proposer_for(episode) -> a proposer per episode.
    demonstrator: chooses the prompts of the demonstrations (Demonstrator protocol); required when
    demonstrations > 0. start: the run position to begin at (resume_position). record: where rows go
    (None: no record). Hooks, each given the episode number:
      before_episode(episode) -> False stops the run before that episode;
      on_end(episode, result, row) runs before the row is written (it may fill e.g. decided_by);
      on_recorded(episode, result, row) runs after (a checkpoint, progress).
    """

    def __init__(self, config: RunConfig, env, policy, *, proposer=None,
                 proposer_for: Callable[[int], object] | None = None, record: RunRecord | None = None,
                 demonstrations: int, demonstrator=None, start: int = 0,
                 updates_per_decision: int = UPDATES_PER_DECISION,
                 learn: bool = True, task_name: str = '',
                 before_episode: Callable[[int], bool | None] | None = None,
                 on_end: Callable[[int, EpisodeResult, dict], None] | None = None,
                 on_recorded: Callable[[int, EpisodeResult, dict], None] | None = None):
        if (proposer is None) == (proposer_for is None):
            raise ValueError('give either one proposer or proposer_for(episode)')
        if demonstrations < 0:
            raise ValueError(f'demonstrations must be resolved to a count >= 0, got {demonstrations}')
        if demonstrations and demonstrator is None:
            raise ValueError(f'{demonstrations} demonstrations need a demonstrator')
        self.config, self.env, self.policy, self.record = config, env, policy, record
        self.proposer_for = proposer_for or (lambda episode: proposer)
        self.demonstrations, self.demonstrator = int(demonstrations), demonstrator
        self.position = int(start)
        self.updates_per_decision, self.learn = int(updates_per_decision), learn
        # The task's name in the record; the episode manager may change it between episodes.
        self.task_name = task_name or config.task
        self.before_episode, self.on_end, self.on_recorded = before_episode, on_end, on_recorded

    @property
    def total(self) -> int:
        """Episodes of the whole run, demonstrations included."""
        return self.demonstrations + self.config.episodes

    @property
    def next_episode(self) -> int | None:
        """Return the number of the episode the run continues with (None when it is complete)."""
        return episode_number(self.position, self.demonstrations) if self.position < self.total else None

    def run(self) -> list[tuple[int, EpisodeResult]]:
        """Run the episodes left; return (episode, result) of those run by this call."""
        ran = []
        while self.position < self.total:
            episode = episode_number(self.position, self.demonstrations)
            if self.before_episode is not None and self.before_episode(episode) is False:
                break
            ran.append((episode, self.run_one(episode)))
        return ran

    def run_one(self, episode: int) -> EpisodeResult:
        """Run the episode at the current position (number `episode`), record it and advance."""
        demonstrated = is_demonstration(episode)
        chooser = Demonstrated(self.policy, self.demonstrator) if demonstrated else self.policy
        seed = episode_seed(self.config.seed, episode)
        started = time.monotonic()
        result = run_episode(self.env, self.proposer_for(episode), chooser, max_candidates=self.config.max_candidates,
                             greedy=self.config.greedy and not demonstrated, learn=self.learn,
                             updates_per_decision=self.updates_per_decision, seed=seed, episode=episode)
        row = episode_row(episode, result, task=self.task_name, seed=seed, seconds=time.monotonic() - started,
                          chooser=PERSON if demonstrated else POLICY)
        if self.on_end is not None:
            self.on_end(episode, result, row)
        # Record first, then whatever follows (a checkpoint): a kill in between leaves a row that
        # resuming from the checkpoint trims and redoes.
        if self.record is not None:
            self.record.append(row)
        self.position += 1
        if self.on_recorded is not None:
            self.on_recorded(episode, result, row)
        return result
