"""Episode manager contract: teleop-style reset with an operator, executor refusals and VLA failures that skip
a step without a transition, and resuming a run at the next episode."""
import csv

import numpy as np
import pytest
import torch
from params import overrides
from rclpy.action import GoalResponse
from std_srvs.srv import Trigger

from sarl_ros.backends.vla_client import RemoteVLA
from sarl_ros.backends.vla_server import make_server
from sarl_ros.core.durability.wal import read_transitions
from sarl_ros.msg import EpisodeEvent, ExecutedAction
from sarl_ros.nodes.episode_manager_node import EpisodeManager
from sarl_ros.nodes.policy_node import PolicyNode
from sarl_ros.nodes.reward_node import RewardNode
from sarl_ros.rosutil.qos import RECORD

pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402

TASK = 'sushi_to_pot'


def start_graph(ros, tmp_path, vla=None, **manager):
    torch.set_num_threads(1)
    executor = ExecutorNode(**overrides(robot='sim', vla='sim', sim_task=TASK, sim_camera_rate_hz=0.0))
    if vla is not None:
        executor.stack.vla = vla  # the thinnest boundary: what the executor drives the arm with
    ros.add(executor)
    ros.add(ProposerNode(**overrides(backend='sim')))
    ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))))
    ros.add(RewardNode(**overrides(detector='sim', human=False)))
    events = ros.subscribe(EpisodeEvent, '/sarl/episode_events', RECORD)
    params = dict(task=TASK, output_dir=str(tmp_path), service_timeout_s=10.0, retries=1)
    params.update(manager)
    return executor, events, ros.add(EpisodeManager(**overrides(**params)))


def test_operator_reset_pauses_until_confirmed(ros, tmp_path):
    _, events, _ = start_graph(ros, tmp_path, episodes=1, reset_mode='operator', reset_reminder_s=0.3,
                               max_decisions=2)
    ros.wait_for(lambda: sum(e.type == EpisodeEvent.PAUSED for e in events) >= 2, what='two reminders')
    assert EpisodeEvent.START not in [e.type for e in events]  # nothing moves before the operator says so
    assert ros.call(ros.client(Trigger, '/sarl/confirm_reset'), Trigger.Request()).success
    ros.wait_for(lambda: any(e.type in (EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT) for e in events),
                 timeout=60, what='the episode to end')
    kinds = [e.type for e in events if e.type != EpisodeEvent.PAUSED]
    assert kinds[:3] == [EpisodeEvent.RESET_REQUESTED, EpisodeEvent.RESET_DONE, EpisodeEvent.START]


def test_rejected_goals_skip_steps_without_storing_transitions(ros, tmp_path):
    executor, events, manager = start_graph(ros, tmp_path, episodes=1, max_decisions=3)
    # The executor refuses every prompt (as when another goal runs); resets and state reads still work.
    executor.server.register_goal_callback(lambda goal: GoalResponse.REJECT)
    ros.wait_for(lambda: any(e.type == EpisodeEvent.TIMEOUT for e in events), timeout=90, what='the episode end')
    log = tmp_path / 'episodes.csv'
    ros.wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2, what='the episode log line')
    rows = list(csv.DictReader(log.open()))
    assert rows[0]['decisions'] == '0' and rows[0]['success'] == '0'
    assert manager.exit_code == 0


class StillVLA:
    """A served VLA that holds the arm still: the transport's faults are under test, not the actions."""

    def act(self, image, instruction, proprio):
        return np.zeros(7)

    def reset(self):
        pass

    def skill_done(self):
        return False


@pytest.mark.parametrize('plan, then', [((), 'hang'), ((None,) * 4, 'drop')], ids=['hangs', 'drops_midway'])
def test_a_failing_remote_vla_skips_the_decision_and_stores_no_transition(ros, tmp_path, faulty_server, plan, then):
    # drops_midway: /reset and three /act requests are served (the arm takes three control steps),
    # then every connection is dropped, so the prompt fails part of the way through.
    server = make_server(StillVLA(), port=0)
    url = faulty_server(server, plan=plan, then=then)
    actions = ros.subscribe(ExecutedAction, '/sarl/executed_actions', 50)
    # A hang costs one timeout per attempt; the served requests of drops_midway must not time out under load.
    vla = RemoteVLA(url=url, timeout_s=0.3 if then == 'hang' else 10.0, retries=1, backoff_s=0.01, check_health=False)
    _, events, manager = start_graph(ros, tmp_path, vla=vla, episodes=1, max_decisions=2)
    ros.wait_for(lambda: any(e.type == EpisodeEvent.TIMEOUT for e in events), timeout=60, what='the episode end')
    log = tmp_path / 'episodes.csv'
    ros.wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2, what='the episode log line')
    assert list(csv.DictReader(log.open()))[0]['decisions'] == '0'
    assert read_transitions(tmp_path / 'checkpoints' / 'sarl.wal') == []  # nothing acknowledged as stored
    assert server.proxy.requests >= 4
    if then == 'drop':
        assert len(actions) == 3  # it did move, then failed: still no transition for it
    assert manager.exit_code == 0


def test_a_rerun_continues_at_the_next_episode_of_the_record(ros, tmp_path):
    with (tmp_path / 'episodes.csv').open('w') as f:
        f.write('episode,task,success,decisions,prompts,seconds\n1,sushi_to_pot,1,2,a | b,0.5\n'
                '2,sushi_to_pot,0,3,a | b | c,0.7\n3,sushi_to')  # the last row torn by a kill
    _, events, manager = start_graph(ros, tmp_path, episodes=3, max_decisions=1)
    assert manager.first_episode == 3
    ros.wait_for(lambda: any(e.type in (EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT) for e in events),
                 timeout=60, what='the episode end')
    ros.wait_for(lambda: len((tmp_path / 'episodes.csv').read_text().splitlines()) == 4, what='the new row')
    rows = list(csv.DictReader((tmp_path / 'episodes.csv').open()))
    assert [int(r['episode']) for r in rows] == [1, 2, 3]
    assert {e.episode for e in events} == {3}


def test_a_start_with_another_task_makes_the_simulator_build_it_on_observable_state(ros, tmp_path):
    from sarl_ros.core.perception.observable_features import ObservableFeaturizer
    from sarl_ros.msg import Transition
    from sarl_ros.srv import StartEpisode

    executor, events, _ = start_graph(ros, tmp_path, episodes=1, autostart=False, max_decisions=2)
    transitions = ros.subscribe(Transition, '/sarl/transitions', RECORD)
    start = ros.client(StartEpisode, '/sarl/start_episode')
    # The episode manager resolves the name; the executor is told it with the reset and builds that scene.
    assert ros.call(start, StartEpisode.Request(task='pot_lid_on_towel')).success
    ros.wait_for(lambda: any(e.type in (EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT) for e in events),
                 timeout=90, what='the episode end')
    ros.wait_for(lambda: transitions, what='a stored transition')
    assert executor.stack.task == 'pot_lid_on_towel'
    assert {t.task for t in transitions} == {'pot_lid_on_towel'}
    assert {len(t.state_features) for t in transitions} == {ObservableFeaturizer().dim}
