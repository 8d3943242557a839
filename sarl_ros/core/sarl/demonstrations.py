"""Language-guided demonstrations: episodes whose prompts a person (or a scripted stand-in) chooses.

The VLA still executes every prompt; only the choice is the demonstrator's. The transitions go into
the learner's replay exactly like its own (next candidates from the same proposer), and the chosen
prompts join the instruction pool, so demonstrations are best given before the pool fills: a
demonstration prompt that is not in a full pool is refused (PoolFull, naming the fix).

A demonstrator has one method: choose(observation, candidates, task) -> prompt text.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from sarl_ros.core.mdp import Candidate, Decision, Observation
from sarl_ros.core.proposals import normalize_prompt


class Demonstrator(Protocol):
    def choose(self, observation: Observation, candidates: Sequence[Candidate], task: str) -> str: ...


class Demonstrated:
    """A policy whose choices are a demonstrator's for this episode; everything else goes to the learner."""

    def __init__(self, policy, demonstrator: Demonstrator):
        self.policy, self.demonstrator = policy, demonstrator

    def begin_episode(self, task: str, max_decisions: int = 0) -> None:
        self.policy.begin_episode(task, max_decisions=max_decisions)

    def select(self, observation: Observation, candidates: Sequence[Candidate], task: str,
               greedy: bool = False) -> Decision:
        prompt = normalize_prompt(self.demonstrator.choose(observation, candidates, task))
        if not prompt:
            raise ValueError('the demonstrator chose a blank prompt')
        pool = getattr(self.policy, 'pool', None)
        if pool is not None:
            pool.require(prompt, 'the demonstration')
        advance = getattr(self.policy, 'note_outside_decision', None)
        if advance is not None:
            advance()  # the budget feature counts this decision too
        prompts = [normalize_prompt(c.prompt) for c in candidates]
        index = prompts.index(prompt) if prompt in prompts else -1  # -1: typed by the person, not offered
        chosen = tuple(1.0 if i == index else 0.0 for i in range(len(candidates)))
        return Decision(index=index, prompt=prompt, q_values=(0.0,) * len(candidates), probabilities=chosen,
                        temperature=0.0, greedy=True)

    def record(self, transition) -> None:
        self.policy.record(transition)

    def update(self, n_updates: int) -> dict:
        return self.policy.update(n_updates)

    def end_episode(self, success: bool) -> None:
        self.policy.end_episode(success)


class SubgoalDemonstrator:
    """The simulator's stand-in for a person: follows the task's grounded solution in its scene.

    It reads what a person watching sees (which of the task's steps are done: the observation's
    subgoal flags, in solution order) and gives the command of the next step; it retries a step
    the robot failed. Privileged by design: it plays the person, never the learner.
    """

    def __init__(self, solution_for):
        self.solution_for = solution_for  # () -> the task's commands in this episode's layout

    def choose(self, observation: Observation, candidates: Sequence[Candidate], task: str) -> str:
        solution = list(self.solution_for())
        flags = list(observation.info.get('subgoals', {}).values())
        if not flags:
            raise ValueError('the simulated demonstrator needs the observation\'s subgoal flags (a simulated task)')
        done = max((i + 1 for i, flag in enumerate(flags) if flag), default=0)
        return solution[min(done, len(solution) - 1)]
