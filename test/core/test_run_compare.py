"""Comparing two runs' records: everything but the clock must agree."""
import numpy as np

from sarl_ros.core.mdp import Transition
from sarl_ros.core.durability.run_compare import main, run_differences
from sarl_ros.core.durability.wal import TransitionLog


def write_run(out, prompts=('grasp the lid', 'put it on the towel'), seconds=('1.20', '0.80'), reward=1.0):
    (out / 'checkpoints').mkdir(parents=True)
    (out / 'episodes.csv').write_text('episode,task,success,decisions,prompts,seconds\n' + ''.join(
        f'{e},pot_lid_on_towel,1,1,{p},{s}\n' for e, (p, s) in enumerate(zip(prompts, seconds), 1)))
    log = TransitionLog(out / 'checkpoints' / 'sarl.wal', sync='none')
    for e, prompt in enumerate(prompts, 1):
        log.append(Transition(state=np.full(3, 0.1 * e, np.float32), prompt=prompt, reward=reward,
                              next_state=np.ones(3, np.float32), next_prompts=(), terminal=True, episode=e))
    log.close()
    return out


def test_runs_that_differ_only_in_time_are_the_same_run(tmp_path, capsys):
    a = write_run(tmp_path / 'a')
    b = write_run(tmp_path / 'b', seconds=('3.00', '2.50'))
    assert run_differences(a, b) == []
    assert main([str(a), str(b)]) == 0
    assert 'the same run: 2 episodes, 2 transitions' in capsys.readouterr().out


def test_a_different_choice_or_reward_is_named(tmp_path, capsys):
    a = write_run(tmp_path / 'a')
    assert run_differences(a, write_run(tmp_path / 'b', prompts=('grasp the lid', 'put it on the cloth')))[1:] == [
        'transition episode 2 step 0 differs in prompt']
    assert run_differences(a, write_run(tmp_path / 'c', reward=0.0)) == [
        'transition episode 1 step 0 differs in reward', 'transition episode 2 step 0 differs in reward']
    assert main([str(a), str(tmp_path / 'c')]) == 1
    assert 'differs in reward' in capsys.readouterr().err
    assert main([str(a), str(tmp_path / 'empty')]) == 1  # a run that left nothing is no match
