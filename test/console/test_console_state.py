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
