"""The operator console in a real browser (headless Chromium) against the simulated graph.

The nodes run in this process; the executor paces the simulator in real time (5 Hz control), the reward
comes only from the operator, and resets wait for the operator. Through the page: it loads and live
updates arrive; the page says what the run needs from the operator (the reset, the release), with its key
and since when, and only the buttons that apply are enabled; "confirm reset" starts an episode; "failure"
ends it with a terminal, zero-reward transition stored by the Q-policy, and "correct the last verdict"
turns it into a success before the next episode starts (the curve, the history and episodes.csv follow);
the next episode starts after the next "confirm reset"; the emergency stop halts the arm within one
control step and latches until an explicit release; demonstrate mode offers the candidates and a typed
command for the next decision, which the episode manager takes for that decision (or refuses, naming the
decision it expects); when the console goes away the page says CONNECTION LOST, greys its data and its
e-stop button is visibly inert; on a phone-sized window the page is one column. CI installs Chromium
(SARL_REQUIRE_BROWSER=1 turns a skip into a failure).
"""
import csv
import os
import time

import pytest

from sarl_ros.console.browser import headless_chromium, missing_browser

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
_missing = missing_browser()
if _missing and os.environ.get('SARL_REQUIRE_BROWSER') == '1':
    pytest.fail(f'SARL_REQUIRE_BROWSER=1 but {_missing}', pytrace=False)
if _missing:
    pytest.skip(f'no headless browser: {_missing}', allow_module_level=True)

import torch  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from sarl_ros.msg import EpisodeEvent, ExecutedAction, Transition  # noqa: E402
from sarl_ros.nodes.camera_node import CameraNode  # noqa: E402
from sarl_ros.nodes.episode_manager_node import EpisodeManager  # noqa: E402
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.operator_console_node import OperatorConsole  # noqa: E402
from sarl_ros.nodes.policy_node import PolicyNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402
from sarl_ros.nodes.reward_node import RewardNode  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.sim.robot import CONTROL_HZ  # noqa: E402

TASK = 'sushi_to_pot'


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}


class Probe:
    """What the graph published, with receive times."""

    def __init__(self, ros):
        self.node = ros.add(Node('console_browser_probe'))
        self.events, self.transitions, self.actions = [], [], []
        self.node.create_subscription(EpisodeEvent, '/sarl/episode_events', self.events.append, RECORD)
        self.node.create_subscription(Transition, '/sarl/transitions', self.transitions.append, RECORD)
        self.node.create_subscription(ExecutedAction, '/sarl/executed_actions', self.actions.append, RECORD)

    def kinds(self, episode):
        return [e.type for e in self.events if e.episode == episode]


@pytest.fixture
def graph(ros, tmp_path):
    torch.set_num_threads(1)
    nodes = {
        'executor': ExecutorNode(**overrides(robot='sim', vla='sim', sim_task=TASK, realtime=True,
                                             sim_camera_rate_hz=4.0)),
        'camera': CameraNode(**overrides(backend='relay', rate_hz=4.0)),
        'proposer': ProposerNode(**overrides(backend='sim')),
        'policy': PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))),
        'reward': RewardNode(**overrides(detector='none', human=False)),
        'console': OperatorConsole(**overrides(port=0, keyboard=False, output_dir=str(tmp_path))),
    }
    for node in nodes.values():
        ros.add(node)
    probe = Probe(ros)
    nodes['manager'] = ros.add(EpisodeManager(**overrides(
        task=TASK, episodes=3, max_decisions=30, reset_mode='operator', output_dir=str(tmp_path),
        service_timeout_s=20.0, retries=0)))
    return nodes, probe


@pytest.fixture
def browser():
    driver = headless_chromium(width=1100, height=1000)
    yield driver
    driver.quit()


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def enabled(driver, *ids):
    """Return the ids (of those given) whose buttons are enabled, read in one script."""
    return driver.execute_script('return arguments[0].filter((id) => !document.getElementById(id).disabled);',
                                 list(ids))


BUTTONS = ('btn-success', 'btn-failure', 'btn-reset', 'btn-pause', 'btn-correct', 'btn-demo', 'btn-estop')


def test_operator_console_drives_the_simulated_graph(graph, browser, ros):
    nodes, probe = graph
    wait = WebDriverWait(browser, 30, poll_frequency=0.05)
    browser.get(nodes['console'].url)

    # The page loads and the live stream arrives: episode 1 waits for the operator's reset.
    wait.until(lambda d: text(d, 'connection') == 'live')
    # The page says the run waits for the operator's reset, which key, since when; only what applies is enabled.
    wait.until(lambda d: d.find_element(By.ID, 'needs').is_displayed())
    assert text(browser, 'needs-text') == 'reset the scene, then confirm the reset'
    assert text(browser, 'needs-keys') == 'r' and text(browser, 'needs-since').startswith('waiting since')
    assert enabled(browser, *BUTTONS) == ['btn-reset', 'btn-pause', 'btn-estop']
    assert text(browser, 'task') == TASK and text(browser, 'episode') == '1'
    assert EpisodeEvent.START not in probe.kinds(1)

    browser.find_element(By.ID, 'btn-reset').click()
    wait.until(lambda d: text(d, 'phase') == 'running')
    wait.until(lambda d: not d.find_element(By.ID, 'needs').is_displayed())
    assert enabled(browser, *BUTTONS) == ['btn-success', 'btn-failure', 'btn-pause', 'btn-demo',
                                          'btn-estop']
    # Live updates: candidates with Q-values and probabilities, the chosen prompt, control steps, the camera.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#candidates tbody tr')) >= 2)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#candidates tr.chosen'))
    wait.until(lambda d: int(text(d, 'exec-steps')) >= 1)
    # Read in one script: the table is re-rendered at every decision, so an element found a moment
    # earlier can be gone (stale) by the time its text is asked for.
    wait.until(lambda d: d.execute_script(
        "const c = document.querySelector('#candidates tr.chosen td');"
        "const e = document.getElementById('exec-prompt');"
        "return !!c && !!e && c.textContent.trim() !== '' && c.textContent.trim() === e.textContent.trim();"))
    wait.until(lambda d: d.execute_script("const i = document.getElementById('camera');"
                                          "return i.complete && i.naturalWidth > 0;"))

    browser.find_element(By.ID, 'btn-failure').click()
    wait.until(lambda d: 'episode 1: failure reported' in text(d, 'message'))
    ros.wait_for(lambda: EpisodeEvent.FAILURE in probe.kinds(1), timeout=30, what='episode 1 to fail')
    ros.wait_for(lambda: any(t.terminal for t in probe.transitions if t.episode == 1), what='the last transition')
    stored = [t for t in probe.transitions if t.episode == 1]
    assert stored[-1].terminal and stored[-1].reward == 0.0 and not stored[-1].truncated
    assert all(t.reward == 0.0 for t in stored)
    wait.until(lambda d: 'episode 1: failure' in text(d, 'events'))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#curve circle.loss')) == 1)

    # A wrong verdict is corrected before the next episode starts: the curve, history and record follow.
    wait.until(lambda d: 'btn-correct' in enabled(d, 'btn-correct'))
    assert text(browser, 'btn-correct').startswith('Episode 1 was a success')
    browser.find_element(By.ID, 'btn-correct').click()
    wait.until(lambda d: 'episode 1: corrected to success' in text(d, 'message'))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#curve circle.win')) == 1
               and not d.find_elements(By.CSS_SELECTOR, '#curve circle.loss'))
    wait.until(lambda d: d.execute_script("const r = document.querySelector('#history tbody tr.success');"
                                          "return !!r && r.textContent.includes('person (corrected)');"))
    row = next(csv.DictReader((nodes['manager'].out_dir / 'episodes.csv').open()))
    assert (row['outcome'], row['decided_by']) == ('success', 'person (corrected)')
    # The history keeps a strip of the episode's frames (thumbnails beside the run's records).
    wait.until(lambda d: d.execute_script(
        "const i = document.querySelectorAll('#history tbody tr.success td.strip img');"
        "return i.length >= 2 && [...i].every((e) => e.complete && e.naturalWidth > 0);"))

    # The next episode waits for the reset and starts on "confirm reset" (keyboard shortcut r).
    wait.until(lambda d: text(d, 'episode') == '2' and not d.find_elements(By.CSS_SELECTOR, '#candidates tbody tr'))
    assert EpisodeEvent.START not in probe.kinds(2)
    wait.until(lambda d: text(d, 'needs-keys') == 'r' and 'btn-reset' in enabled(d, 'btn-reset'))
    browser.find_element(By.TAG_NAME, 'body').send_keys('r')
    ros.wait_for(lambda: EpisodeEvent.START in probe.kinds(2), timeout=30, what='episode 2 to start')
    ros.wait_for(lambda: any(a.episode == 2 for a in probe.actions), timeout=30, what='a control step')

    # Emergency stop: the arm halts within one control step, and stays stopped until released.
    executor = nodes['executor']
    browser.find_element(By.ID, 'btn-estop').click()
    wait.until(ready.visibility_of_element_located((By.ID, 'estop-banner')))
    acknowledged = time.time()  # the executor has answered: the stop is engaged
    wait.until(lambda d: text(d, 'needs-keys') == 'u')  # what the run waits for now: the release
    period = 1.0 / CONTROL_HZ
    ros.wait_for(lambda: not executor._busy.locked(), timeout=period + 1.0, what='the prompt to halt')
    ros.wait_for(lambda: EpisodeEvent.ABORTED in probe.kinds(2), timeout=10, what='episode 2 to be aborted')
    steps = [a for a in probe.actions if a.episode == 2]
    late = [a for a in steps if stamp_seconds(a) > acknowledged]
    assert len(late) <= 1, f'{len(late)} control steps commanded after the emergency stop was acknowledged'
    assert not [t for t in probe.transitions if t.episode == 2]  # a cut-short prompt is not learned from
    # Latched: the next episode's reset is refused until an explicit release.
    ros.wait_for(lambda: any(e.detail.startswith('emergency stop engaged') for e in probe.events if e.episode == 3),
                 timeout=10, what='the manager to wait for the release')
    assert executor._estopped.is_set() and len([a for a in probe.actions if a.episode >= 2]) == len(steps)
    assert text(browser, 'estop-banner').startswith('EMERGENCY STOP ENGAGED')
    assert 'btn-reset' not in enabled(browser, 'btn-reset')  # no reset confirmed before the release
    # The aborted episode is neither a success nor a failure: the curve keeps the one corrected episode.
    wait.until(lambda d: d.execute_script("const r = document.querySelector('#history tbody tr.aborted');"
                                          "return !!r && r.textContent.startsWith('2');"))
    assert len(browser.find_elements(By.CSS_SELECTOR, '#curve circle')) == 1

    browser.find_element(By.ID, 'btn-release').click()
    browser.switch_to.alert.accept()
    wait.until(ready.invisibility_of_element_located((By.ID, 'estop-banner')))
    assert not executor._estopped.is_set()
    wait.until(lambda d: text(d, 'needs-keys') == 'r')  # released: now the reset is what the run waits for
    browser.find_element(By.ID, 'btn-reset').click()  # the graph goes on once released
    ros.wait_for(lambda: EpisodeEvent.START in probe.kinds(3), timeout=30, what='episode 3 to start')

    # Demonstrate mode: each candidate can be chosen, or a command typed, for the next decision; the
    # episode manager answers (it runs the prompt at that decision, or names the decision it expects).
    wait.until(lambda d: 'btn-demo' in enabled(d, 'btn-demo'))
    browser.find_element(By.TAG_NAME, 'body').send_keys('d')
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#candidates button.use')
               and d.find_element(By.ID, 'demo-prompt').is_displayed())
    browser.find_element(By.ID, 'demo-prompt').send_keys('open the gripper\n')
    answered = ("will run 'open the gripper'", 'the next decision is')
    wait.until(lambda d: any(words in text(d, 'message') for words in answered))
    assert ros.call(probe.node.create_client(Trigger, '/sarl/stop'), Trigger.Request()).success

    # The console goes away: the page says so loudly, greys its data, and its e-stop is visibly inert.
    nodes['console'].server.stop()
    wait.until(ready.visibility_of_element_located((By.ID, 'lost-banner')))
    assert text(browser, 'lost-banner').startswith('CONNECTION LOST - this page cannot stop the arm')
    assert text(browser, 'connection') == 'CONNECTION LOST' and enabled(browser, *BUTTONS) == []
    assert text(browser, 'btn-estop').startswith('E-STOP UNAVAILABLE')
    assert float(browser.execute_script(
        "return getComputedStyle(document.getElementById('status')).opacity")) < 0.6  # greyed
    browser.find_element(By.TAG_NAME, 'body').send_keys('e')
    wait.until(lambda d: 'connection is lost' in text(d, 'message'))

    # A phone-sized screen: one column, nothing wider than the screen, the e-stop button reachable.
    browser.set_window_size(390, 844)
    wait.until(lambda d: d.execute_script('return window.innerWidth') <= 400)
    assert browser.execute_script('return document.documentElement.scrollWidth <= window.innerWidth')
    estop = browser.find_element(By.ID, 'btn-estop')
    assert estop.is_displayed() and estop.rect['x'] + estop.rect['width'] <= 390
    camera, status = browser.find_element(By.ID, 'camera-panel').rect, browser.find_element(By.ID, 'status').rect
    assert status['y'] >= camera['y'] + camera['height'] - 1  # stacked, not side by side


def stamp_seconds(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_the_page_asks_for_the_token_when_one_is_set(ros, browser, monkeypatch):
    monkeypatch.setenv('SARL_CONSOLE_TOKEN', 'a-long-console-token')
    console = ros.add(OperatorConsole(**overrides(port=0, keyboard=False)))
    browser.get(console.url)
    wait = WebDriverWait(browser, 20, poll_frequency=0.05)
    wait.until(ready.visibility_of_element_located((By.ID, 'token-form')))
    assert not browser.find_element(By.ID, 'console').is_displayed()
    field = browser.find_element(By.ID, 'token')
    field.send_keys('a-wrong-token\n')
    wait.until(lambda d: text(d, 'token-error') == 'wrong token')
    field.clear()
    field.send_keys('a-long-console-token\n')
    wait.until(lambda d: text(d, 'connection') == 'live')
    assert browser.find_element(By.ID, 'console').is_displayed()
    assert 'a-long-console-token' not in browser.page_source
    assert all(c['httpOnly'] for c in browser.get_cookies())
