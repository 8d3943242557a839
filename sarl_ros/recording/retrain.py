"""Train a Q-function from recorded runs, evaluate it against the logged choices, save a checkpoint.

The recorded transitions are fed to a fresh policy episode by episode, as the online learner
saw them (record, then `updates_per_decision` TD updates), followed by `extra_updates`
updates over the whole replay. The checkpoint is the core format
(sarl_ros.core.durability.checkpoint), so the Q-policy node starts from it with
`warm_start:=<checkpoint>`.

Evaluation joins each logged decision (CandidateSet) with the transition of the same episode
and step (its state features) and asks the trained policy for its greedy choice among the
same candidates: agreement with the logged choice, overall and split by episode outcome, and
the mean Q the policy gives to the logged choices of successful vs failed episodes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from sarl_ros.core.episode_loop import UPDATES_PER_DECISION
from sarl_ros.core.method_names import DEFAULT_METHOD
from sarl_ros.recording.reader import Recording

Progress = Callable[[int, int, str], None]  # (done, total, what)


@dataclass
class Evaluation:
    """How a policy's greedy choices compare with the logged ones."""

    decisions: int = 0  # logged decisions with a matching transition (state features)
    agreement: float = float('nan')  # greedy choice == logged choice
    agreement_successful: float = float('nan')  # ... on decisions of successful episodes
    agreement_failed: float = float('nan')
    q_chosen_successful: float = float('nan')  # mean Q of logged choices in successful episodes
    q_chosen_failed: float = float('nan')
    q_greedy: float = float('nan')  # mean Q of the policy's own greedy choices

    def lines(self) -> list[str]:
        """Return a human-readable report."""
        def pct(x):
            return 'n/a' if np.isnan(x) else f'{x:.1%}'

        def num(x):
            return 'n/a' if np.isnan(x) else f'{x:.3f}'
        return [f'evaluated on {self.decisions} logged decisions',
                f'greedy choice = logged choice: {pct(self.agreement)} (successful episodes '
                f'{pct(self.agreement_successful)}, failed {pct(self.agreement_failed)})',
                f'mean Q of logged choices: successful episodes {num(self.q_chosen_successful)}, '
                f'failed {num(self.q_chosen_failed)}; of greedy choices {num(self.q_greedy)}']


@dataclass
class RetrainResult:
    """What retraining did and where the checkpoint is."""

    checkpoint: Path
    method: str
    episodes: int
    transitions: int
    updates: int
    td_loss: float
    evaluation: Evaluation = field(default_factory=Evaluation)

    def as_dict(self) -> dict:
        """Return a JSON-friendly summary."""
        out = asdict(self)
        out['checkpoint'] = str(self.checkpoint)
        return out


def _training_episodes(recordings: Sequence[Recording]):
    for rec in recordings:
        for episode in rec.episodes:
            if episode.transitions:
                yield episode


def train_policy(recordings: Sequence[Recording], *, method: str = DEFAULT_METHOD, seed: int = 0,
                 updates_per_decision: int = UPDATES_PER_DECISION, extra_updates: int = 0,
                 progress: Progress | None = None,
                 **policy_kwargs):
    """Return (policy, updates, last td_loss) after learning from every recorded transition."""
    from sarl_ros.core.methods import make_policy

    episodes = list(_training_episodes(recordings))
    if not episodes:
        raise ValueError('no transitions in the given bag(s): nothing to learn from')
    policy = make_policy(method, seed=seed, **policy_kwargs)
    updates, td_loss = 0, float('nan')
    for number, episode in enumerate(episodes, start=1):
        policy.begin_episode(episode.task)
        for record in episode.transitions:
            policy.record(record.transition)
            stats = policy.update(updates_per_decision)
            updates += int(stats.get('updates', 0))
            td_loss = float(stats.get('td_loss', td_loss)) if stats.get('updates') else td_loss
        policy.end_episode(episode.success)
        if progress:
            progress(number, len(episodes), 'episodes replayed')
    done = 0
    while done < extra_updates:
        batch = min(256, extra_updates - done)
        stats = policy.update(batch)
        updates += int(stats.get('updates', 0))
        if stats.get('updates'):
            td_loss = float(stats['td_loss'])
        done += batch
        if progress:
            progress(done, extra_updates, 'extra updates')
    return policy, updates, td_loss


def _greedy(policy, state: np.ndarray, prompts: Sequence[str], task: str) -> tuple[int, np.ndarray | None]:
    q_values = getattr(policy, 'q_values', None)
    if q_values is not None:
        q = np.asarray(q_values(state, list(prompts)), dtype=float)
        return int(np.argmax(q)), q
    from sarl_ros.core.mdp import Candidate, Observation
    decision = policy.select(Observation(features=state), [Candidate(p) for p in prompts], task, greedy=True)
    return decision.index, None


def evaluate_policy(policy, recordings: Sequence[Recording]) -> Evaluation:
    """Compare the policy's greedy choices with the logged decisions of the recordings."""
    agree = {True: [], False: []}
    q_chosen = {True: [], False: []}
    q_greedy = []
    for rec in recordings:
        for episode in rec.episodes:
            states = {t.transition.step: t.transition.state for t in episode.transitions}
            for decision in episode.decisions:
                state = states.get(decision.step)
                if state is None or not decision.prompts or not 0 <= decision.chosen_index < len(decision.prompts):
                    continue
                index, q = _greedy(policy, state, decision.prompts, episode.task or decision.task)
                agree[episode.success].append(index == decision.chosen_index)
                if q is not None:
                    q_chosen[episode.success].append(q[decision.chosen_index])
                    q_greedy.append(q[index])

    def mean(values):
        return float(np.mean(values)) if len(values) else float('nan')
    every = agree[True] + agree[False]
    return Evaluation(decisions=len(every), agreement=mean(every), agreement_successful=mean(agree[True]),
                      agreement_failed=mean(agree[False]), q_chosen_successful=mean(q_chosen[True]),
                      q_chosen_failed=mean(q_chosen[False]), q_greedy=mean(q_greedy))


def retrain(recordings: Sequence[Recording], checkpoint: str | Path, *, method: str = DEFAULT_METHOD,
            seed: int = 0, updates_per_decision: int = UPDATES_PER_DECISION, extra_updates: int = 0,
            evaluate_on: Sequence[Recording] | None = None,
            progress: Progress | None = None, **policy_kwargs) -> RetrainResult:
    """Train from recordings, save the checkpoint, and evaluate against logged choices."""
    from sarl_ros.core.durability.checkpoint import save_checkpoint

    policy, updates, td_loss = train_policy(recordings, method=method, seed=seed,
                                            updates_per_decision=updates_per_decision,
                                            extra_updates=extra_updates, progress=progress, **policy_kwargs)
    path = save_checkpoint(policy, checkpoint)
    evaluation = evaluate_policy(policy, evaluate_on if evaluate_on is not None else recordings)
    episodes = list(_training_episodes(recordings))
    return RetrainResult(checkpoint=path, method=method, episodes=len(episodes),
                         transitions=sum(len(e.transitions) for e in episodes), updates=updates, td_loss=td_loss,
                         evaluation=evaluation)
