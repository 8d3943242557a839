"""The rules the one SARL loop decides for every runner: reward, termination, skipped and aborted steps, tasks."""
import pytest

from sarl_ros.harness.toy_mdps import make_toy_env, make_toy_proposer
from sarl_ros.core.episode_loop import run_episode
from sarl_ros.core.mdp import EpisodeAborted, StepOutcome, StepSkipped, judge_step
from sarl_ros.core.methods import make_policy
from sarl_ros.core.tasks import DEFAULT_BUDGET, Task, resolve_task


@pytest.mark.parametrize('success, failed, expected', [
    (True, False, (1.0, True)), (False, True, (0.0, True)), (False, False, (0.0, False)), (True, True, (1.0, True))])
def test_judge_step(success, failed, expected):
    assert judge_step(success, failed) == expected


class Interrupting:
    """A toy env whose chosen steps raise: as the graph's environment does when a prompt cannot run."""

    def __init__(self, env, skip_steps=(), abort_at=None, fail_at=None):
        self.env, self.skip_steps, self.abort_at, self.fail_at = env, set(skip_steps), abort_at, fail_at
        self.task, self.max_decisions = env.task, env.max_decisions
        self.calls = 0

    def reset(self, seed=None):
        self.calls = 0
        return self.env.reset(seed)

    def step(self, prompt):
        call, self.calls = self.calls, self.calls + 1
        if call in self.skip_steps:
            raise StepSkipped('the executor refused')
        if call == self.abort_at:
            raise EpisodeAborted('stopped by the operator')
        outcome = self.env.step(prompt)
        if call == self.fail_at:  # the task became impossible: terminal, no success
            reward, terminal = judge_step(False, True)
            return StepOutcome(outcome.observation, reward, terminal, False, False, outcome.control_steps,
                               failed_for_good=True)
        return outcome


def run(env, **kw):
    return run_episode(env, make_toy_proposer('toy_chain'), make_policy('fixed'), seed=0, **kw)


def test_a_skipped_step_spends_budget_and_stores_nothing():
    env = Interrupting(make_toy_env('toy_chain'), skip_steps=(0, 2))
    result = run(env)
    assert result.skipped == 2
    assert result.decisions == len(result.transitions) == env.max_decisions - 2
    assert [t.step for t in result.transitions] == [s for s in range(env.max_decisions) if s not in (0, 2)]
    assert result.end == 'timeout'


def test_an_abort_ends_the_episode_at_once():
    result = run(Interrupting(make_toy_env('toy_chain'), abort_at=1))
    assert result.decisions == 1 and result.aborted == 'stopped by the operator' and result.end == 'aborted'


def test_an_abort_during_the_reset_runs_no_step():
    env = Interrupting(make_toy_env('toy_chain'))
    env.reset = lambda seed=None: (_ for _ in ()).throw(EpisodeAborted('stopped'))
    policy = make_policy('fixed')
    result = run_episode(env, make_toy_proposer('toy_chain'), policy, seed=0)
    assert result.aborted == 'stopped' and result.decisions == 0 and policy.episodes == 0


def test_failure_for_good_is_terminal_and_not_truncated():
    result = run(Interrupting(make_toy_env('toy_chain'), fail_at=1))
    last = result.transitions[-1]
    assert result.decisions == 2 and last.terminal and not last.truncated and last.next_prompts == ()
    assert result.failed_for_good and result.end == 'failed'


class Catalog:
    def lookup(self, name_or_text):
        return Task('sushi', 'put the sushi in the pot', 8) if name_or_text in ('sushi', 'put the sushi in the pot') \
            else None


def test_a_task_is_resolved_by_the_first_catalog_that_knows_it():
    assert resolve_task('sushi', [Catalog()]) == Task('sushi', 'put the sushi in the pot', 8)
    assert resolve_task('sushi', [Catalog()], max_decisions=3).max_decisions == 3
    assert resolve_task(' wipe the table ', [Catalog()]) == Task('wipe the table', 'wipe the table', DEFAULT_BUDGET)
    with pytest.raises(ValueError, match='empty'):
        resolve_task('  ', [Catalog()])
