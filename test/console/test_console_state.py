"""The console's view of the experiment, built from the graph's events (no ROS needed)."""
import asyncio
import threading

from sarl_ros.console.state import Candidate, ConsoleState


def test_an_episode_moves_the_view_through_its_phases():
    state = ConsoleState()
    state.on_episode_event('reset_requested', 1, 'sushi_to_pot', '')
    assert state.snapshot()['phase'] == 'reset requested' and state.running_episode() is None
    state.on_episode_event('reset_done', 1, 'sushi_to_pot', '')
    state.on_episode_event('start', 1, 'sushi_to_pot', '')
    assert state.running_episode() == 1
    state.on_decision(1, 0, 'sushi_to_pot', 'sarl', 0.2,
                      [Candidate('grasp the sushi', 0.4, 0.7, 'vlm'), Candidate('open gripper', 0.1, 0.3, 'vlm')], 0)
    state.on_control_step('grasp the sushi', 0, 3, [0.01, 0, 0, 0, 0, 0, 1])
    view = state.snapshot()
    assert [c['chosen'] for c in view['candidates']] == [True, False]
    assert view['candidates'][0]['q_value'] == 0.4 and view['candidates'][0]['probability'] == 0.7
    assert view['executing']['prompt'] == 'grasp the sushi' and view['executing']['control_step'] == 3
    assert view['decisions_in_episode'] == 1 and view['decisions_total'] == 1
    state.on_episode_event('failure', 1, 'sushi_to_pot', 'failure reported by the operator')
    state.on_episode_event('reset_requested', 2, 'sushi_to_pot', '')
    state.on_episode_event('start', 2, 'sushi_to_pot', '')
    state.on_episode_event('success', 2, 'sushi_to_pot', '1 decisions')
    view = state.snapshot()
    assert view['outcomes'] == [{'episode': 1, 'success': False}, {'episode': 2, 'success': True}]
    assert view['successes'] == 1 and view['episodes_done'] == 2
    assert [e['kind'] for e in view['events']][:2] == ['success', 'start']  # newest first
    assert state.running_episode() is None


def test_event_history_is_bounded():
    state = ConsoleState(event_history=5)
    for episode in range(1, 20):
        state.on_episode_event('start', episode, 't', '')
    assert len(state.snapshot()['events']) == 5 and state.snapshot()['episode'] == 19


def test_a_change_from_another_thread_wakes_an_asyncio_waiter():
    state = ConsoleState()

    async def wait_for_change():
        loop, changed = waiter = state.changes.subscribe()
        threading.Thread(target=state.on_image, args=(b'\xff\xd8jpeg',)).start()
        await asyncio.wait_for(changed.wait(), timeout=10)
        state.changes.unsubscribe(waiter)
        return state.snapshot()['image_seq']

    assert asyncio.run(wait_for_change()) == 1
    assert state.jpeg() == b'\xff\xd8jpeg'


def test_the_view_says_what_the_run_needs_from_a_person_and_since_when():
    from sarl_ros.core.events import PAUSED_BY_OPERATOR, WAITING_FOR_RELEASE, WAITING_FOR_RESET, WAITING_FOR_VERDICT
    state = ConsoleState()
    state.on_episode_event('reset_requested', 1, 't', WAITING_FOR_RESET, stamp=100.0)
    assert state.needs() == {'what': 'reset', 'keys': 'r', 'since': 100.0,
                             'text': 'reset the scene, then confirm the reset'}
    state.on_episode_event('paused', 1, 't', f'{WAITING_FOR_RESET} for 30 s', stamp=130.0)
    assert state.needs()['since'] == 100.0  # a reminder is the same wait
    state.on_episode_event('reset_done', 1, 't', '', stamp=140.0)
    state.on_episode_event('start', 1, 't', '', stamp=140.0)
    assert state.needs() is None
    state.on_episode_event('paused', 1, '', WAITING_FOR_VERDICT, stamp=150.0)
    assert state.needs()['what'] == 'verdict' and state.needs()['keys'] == 's / f'
    state.on_decision(1, 1, 't', 'sarl', 0.2, [Candidate('a', 0.0, 1.0)], 0)  # the run went on
    assert state.needs() is None
    state.set_operator_flags(estop_engaged=True)  # the e-stop comes first, whatever else waits
    state.on_episode_event('paused', 2, 't', WAITING_FOR_RELEASE, stamp=160.0)
    assert state.needs()['what'] == 'release' and state.needs()['keys'] == 'u'
    state.set_operator_flags(estop_engaged=False)
    state.on_episode_event('paused', 2, 't', PAUSED_BY_OPERATOR, stamp=170.0)
    assert state.needs()['what'] == 'resume' and state.needs()['since'] == 170.0
    assert state.snapshot()['needs'] == state.needs()


def test_aborted_episodes_stay_out_of_the_curve_and_a_correction_is_followed():
    from sarl_ros.core.events import CORRECTED_BY_OPERATOR, WAITING_FOR_RESET
    state = ConsoleState()
    state.on_episode_event('start', 1, 't', '')
    state.on_decision(1, 0, 't', 'sarl', 0.2, [Candidate('grasp', 0.0, 1.0)], 0)
    state.on_episode_event('aborted', 1, 't', 'emergency stop')
    assert state.correctable is None  # nothing to correct: nobody decided
    state.on_episode_event('start', 2, 't', '')
    state.on_episode_event('failure', 2, 't', 'failed for good (detector) after 1 decisions, decided by detector')
    view = state.snapshot()
    assert view['outcomes'] == [{'episode': 2, 'success': False}] and view['aborted'] == 1
    assert view['correctable'] == 2 and view['history'][0]['decided_by'] == 'detector'
    assert view['history'][1] == {'episode': 1, 'outcome': 'aborted', 'prompts': ['grasp'], 'detail': 'emergency stop',
                                  'decided_by': '', 'decisions': 1, 'frames': [],
                                  'seconds': view['history'][1]['seconds']}
    state.on_episode_event('reset_requested', 3, 't', WAITING_FOR_RESET)
    state.on_episode_event('success', 2, 't', f'{CORRECTED_BY_OPERATOR} (was failure), decided by person')
    assert state.needs()['what'] == 'reset'  # the next episode still waits for its reset
    view = state.snapshot()
    assert view['outcomes'] == [{'episode': 2, 'success': True}] and view['successes'] == 1
    assert view['history'][0]['corrected'] and view['history'][0]['decided_by'] == 'person'
    state.on_episode_event('start', 3, 't', '')
    assert state.snapshot()['correctable'] is None  # the next episode started: the verdict stands
