"""Operator console: a web page (and single keys) to watch, label, reset and stop the robot.

Shows the camera, the task, the candidates with Q-values and probabilities, the executing
prompt and its control steps, episode and decision counters, the success curve and the
episode events, live; its buttons and keys report success or failure, confirm a reset,
pause after the running episode, and engage or release the emergency stop. Served by
uvicorn on a thread of this node, on 127.0.0.1 unless `host` says otherwise (then a token,
read from the environment variable `token_env`, is required).
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from sarl_ros.console.state import END_EVENTS, EVENT_NAMES, Candidate, ConsoleState
from sarl_ros.core.log_text import printable
from sarl_ros.core.durability.resume import RECORD_NAME, finished_episodes
from sarl_ros.console.web import FRAME_NAME, CommandRefused, ConsoleServer, PeerUnavailable, is_loopback
from sarl_ros.core.events import CORRECTED_BY_OPERATOR
from sarl_ros import names
from sarl_ros.msg import CandidateSet, EpisodeEvent, ExecutedAction, LearnerStats
from sarl_ros.node_configs import OperatorConsoleConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.images import from_image_msg
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import LATCHED, RECORD, SENSOR
from sarl_ros.srv import DemonstratePrompt, EmergencyStop, PauseEpisodes, ReportOutcome


CORRECTION_TIMEOUT_S = 60.0  # a correction waits for the learner's checkpoint, slow on a loaded machine
FRAMES_DIR = 'console_frames'  # in output_dir: e<episode>_<index>.jpg
FRAMES_PER_EPISODE = 12

# EpisodeEvent.type -> name, from the message's own constants.
EVENT_KIND = {getattr(EpisodeEvent, name.upper()): name for name in EVENT_NAMES}


class RosOperator:
    """The console's commands as calls to the nodes that own them."""

    def __init__(self, node: Node, state: ConsoleState, timeout_s: float):
        group = ReentrantCallbackGroup()
        self.node, self.state, self.timeout_s = node, state, timeout_s
        self.report = node.create_client(ReportOutcome, names.SRV_REPORT_OUTCOME, callback_group=group)
        self.reset = node.create_client(Trigger, names.SRV_CONFIRM_RESET, callback_group=group)
        self.pause = node.create_client(PauseEpisodes, names.SRV_PAUSE, callback_group=group)
        self.estop = node.create_client(EmergencyStop, names.SRV_EMERGENCY_STOP, callback_group=group)
        self.correct = node.create_client(ReportOutcome, names.SRV_CORRECT_OUTCOME, callback_group=group)
        self.demo = node.create_client(DemonstratePrompt, names.SRV_DEMONSTRATE, callback_group=group)

    def _call(self, client, request, answer_within_s: float | None = None):
        if not client.wait_for_service(timeout_sec=self.timeout_s):
            raise PeerUnavailable(f'{client.srv_name} is not available: is the graph running?')
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        answer_within_s = answer_within_s or self.timeout_s
        if not done.wait(answer_within_s):
            client.remove_pending_request(future)
            raise PeerUnavailable(f'{client.srv_name} did not answer within {answer_within_s:.0f} s')
        return future.result()

    def report_outcome(self, success: bool) -> str:
        episode = self.state.running_episode()
        if episode is None:
            raise CommandRefused('no episode is running')
        outcome = ReportOutcome.Request.SUCCESS if success else ReportOutcome.Request.FAILURE
        reply = self._call(self.report, ReportOutcome.Request(episode=episode, outcome=outcome,
                                                              note='operator console'))
        if not reply.accepted:
            raise CommandRefused(reply.message)
        verdict = 'success' if success else 'failure'
        self.node.get_logger().info(f'operator: episode {episode} {verdict}')
        return f'episode {episode}: {verdict} reported'

    def confirm_reset(self) -> str:
        reply = self._call(self.reset, Trigger.Request())
        if not reply.success:
            raise CommandRefused(reply.message)
        return reply.message or 'reset confirmed'

    def set_paused(self, paused: bool) -> str:
        reply = self._call(self.pause, PauseEpisodes.Request(paused=paused))
        if not reply.success:
            raise CommandRefused(reply.message)
        self.state.set_operator_flags(paused=paused)
        return reply.message

    def emergency_stop(self, engage: bool, reason: str) -> str:
        reply = self._call(self.estop, EmergencyStop.Request(engage=engage, reason=reason))
        if not reply.success:
            raise CommandRefused(reply.message)
        self.state.set_operator_flags(estop_engaged=engage)
        return f'emergency stop {reply.message}'

    def demonstrate(self, prompt: str, typed: bool) -> str:
        """Send the operator's prompt for the running episode's next decision (a language-guided demonstration)."""
        episode = self.state.running_episode()
        if episode is None:
            raise CommandRefused('no episode is running')
        step = self.state.decisions_in_episode  # the next decision: the shown one is being executed
        if not self.demo.wait_for_service(timeout_sec=min(self.timeout_s, 1.0)):
            raise PeerUnavailable(f'no node serves {names.SRV_DEMONSTRATE}: demonstrations need the learner side, '
                                  'which is not built yet')
        reply = self._call(self.demo, DemonstratePrompt.Request(episode=episode, decision_step=step, prompt=prompt,
                                                                typed=typed))
        if not reply.accepted:
            raise CommandRefused(reply.message)
        self.node.get_logger().info(f'operator: demonstration for episode {episode} decision {step}: '
                                    f'{printable(prompt)!s}')
        return reply.message or f'episode {episode}, decision {step + 1}: {prompt!r}'

    def correct_last(self) -> str:
        """Flip the verdict of the episode that just ended (the terminal's `c`)."""
        episode = self.state.correctable
        if episode is None:
            raise CommandRefused('no verdict to correct: only the episode that just ended, before the next starts')
        return self.correct_outcome(episode, self.state.outcomes.get(episode) != 'success')

    def correct_outcome(self, episode: int, success: bool) -> str:
        if self.state.correctable != episode:
            raise CommandRefused(f'episode {episode} cannot be corrected now: only the episode that just ended, '
                                 'before the next one starts')
        outcome = ReportOutcome.Request.SUCCESS if success else ReportOutcome.Request.FAILURE
        # The manager waits for the learner to have ended the episode (its checkpoint), then relabels it.
        reply = self._call(self.correct, ReportOutcome.Request(episode=episode, outcome=outcome,
                                                               note='corrected on the operator console'),
                           answer_within_s=max(self.timeout_s, CORRECTION_TIMEOUT_S))
        if not reply.accepted:
            raise CommandRefused(reply.message)
        verdict = 'success' if success else 'failure'
        self.node.get_logger().info(f'operator: episode {episode} corrected to {verdict}')
        return f'episode {episode}: corrected to {verdict}'


class OperatorConsole(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('operator_console', **node_options)
        self.p = declare_parameters(self, OperatorConsoleConfig)
        if not 1 <= self.p.jpeg_quality <= 100:
            raise ValueError(f'operator_console.jpeg_quality must be 1-100, got {self.p.jpeg_quality}')
        if self.p.image_rate_hz <= 0:
            raise ValueError(f'operator_console.image_rate_hz must be positive, got {self.p.image_rate_hz}')
        self.state = ConsoleState(event_history=self.p.event_history)
        # The run's thumbnails: a few frames of every episode, kept beside its records.
        self.frames_dir = Path(self.p.output_dir) / FRAMES_DIR if self.p.output_dir else None
        if self.p.output_dir:  # a restarted console (or graph) still shows the run's history
            record = Path(self.p.output_dir) / RECORD_NAME
            try:
                self.state.load_history(finished_episodes(record))
                self._load_frames()
            except (OSError, ValueError) as exc:
                self.get_logger().warning(f'episode history not loaded from {record}: {exc}')
        self._needs_said = None
        self.operator = RosOperator(self, self.state, self.p.service_timeout_s)
        self._last_image_ns = 0
        self.keys = None
        ordered = MutuallyExclusiveCallbackGroup()  # the view changes in the order the graph acted
        self.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, self._on_event, RECORD, callback_group=ordered)
        self.create_subscription(CandidateSet, names.TOPIC_CANDIDATES, self._on_candidates, RECORD,
                                 callback_group=ordered)
        self.create_subscription(ExecutedAction, names.TOPIC_EXECUTED_ACTIONS, self._on_action, RECORD,
                                 callback_group=ordered)
        self.create_subscription(LearnerStats, names.TOPIC_LEARNER_STATS, self._on_stats, RECORD,
                                 callback_group=ordered)
        self.create_subscription(Bool, names.TOPIC_ESTOP_STATE, self._on_estop_state, LATCHED, callback_group=ordered)
        self.create_subscription(Image, self.p.image_topic, self._on_image, SENSOR,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.server = self._start_web() if self.p.web else None
        self.keys = self._start_keys() if self.p.keyboard and sys.stdin is not None and sys.stdin.isatty() else None

    def _start_web(self) -> ConsoleServer:
        token = os.environ.get(self.p.token_env, '') or None
        if token is None and not is_loopback(self.p.host):
            import secrets
            token = secrets.token_urlsafe(16)
            # On the terminal only: the ROS log is recorded and may be shared.
            print(f'operator console token (set {self.p.token_env} to choose one): {token}', file=sys.stderr)
        try:
            server = ConsoleServer(self.state, self.operator, self.p.host, self.p.port, token,
                                   max_body_bytes=self.p.max_body_bytes, frames_dir=self.frames_dir)
        except OSError as exc:
            raise ValueError(f'operator console cannot serve on {self.p.host}:{self.p.port} ({exc}); '
                             'choose another: console_port:=N (ros2 launch, sarl-graph; 0: a free one) or '
                             '-p port:=N (ros2 run)') from exc
        server.start()
        if not server.wait_started():
            raise RuntimeError(f'the operator console did not start on {server.url}')
        self.get_logger().info(f'operator console: {server.url}' + (' (token required)' if token else ''))
        return server

    def _start_keys(self):
        from sarl_ros.console.keys import KeyConsole
        keys = KeyConsole(self.operator, lambda: self.state.paused, sys.stdin.fileno(), sys.stdout)
        keys.start()
        return keys

    @property
    def url(self) -> str:
        return self.server.url if self.server is not None else ''

    # --- the graph -> the view ------------------------------------------------------------------
    def _on_event(self, msg: EpisodeEvent):
        kind = EVENT_KIND.get(msg.type, f'event {msg.type}')
        self.state.on_episode_event(kind, msg.episode, msg.task, msg.detail)
        if kind in END_EVENTS and not msg.detail.startswith(CORRECTED_BY_OPERATOR):
            self._keep_frame(msg.episode)  # how the episode ended
        if self.keys is not None:  # the terminal operator follows the episodes too
            detail = f' ({msg.detail})' if msg.detail else ''
            self.keys.say(f'episode {msg.episode}: {kind.replace("_", " ")}{detail}')
        self._say_needs()

    def _on_estop_state(self, msg: Bool):
        self.state.set_operator_flags(estop_engaged=bool(msg.data))
        self._say_needs()

    def _say_needs(self):
        """On the terminal: what the run waits for from a person, once each time it changes."""
        needs = self.state.needs()
        key = None if needs is None else needs['what']
        if key == self._needs_said:
            return
        self._needs_said = key
        if self.keys is not None and needs is not None:
            self.keys.say(f'NEEDS YOU: {needs["text"]} (key {needs["keys"]})')

    def _on_candidates(self, msg: CandidateSet):
        candidates = [Candidate(a.prompt, float(q), float(p), a.source)
                      for a, q, p in zip(msg.candidates, msg.q_values, msg.probabilities)]
        self.state.on_decision(msg.episode, msg.decision_step, msg.task, msg.method, float(msg.temperature),
                               candidates, msg.chosen_index)
        self._keep_frame(msg.episode)  # the scene the decision was made in

    def _keep_frame(self, episode: int):
        """Save a thumbnail of the latest camera image for the episode's history strip."""
        jpeg = self.state.jpeg()
        index = self.state.frame_count(episode)
        if self.frames_dir is None or jpeg is None or index >= FRAMES_PER_EPISODE:
            return
        name = f'e{episode:05d}_{index:02d}.jpg'
        try:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            (self.frames_dir / name).write_bytes(thumbnail(jpeg))
        except (OSError, ValueError) as exc:
            self.get_logger().warning(f'episode frame not kept: {exc}', throttle_duration_sec=60.0)
            return
        self.state.add_frames(episode, [name])

    def _load_frames(self):
        if self.frames_dir is None or not self.frames_dir.is_dir():
            return
        by_episode: dict[int, list[str]] = {}
        for path in sorted(self.frames_dir.glob('e*_*.jpg')):
            if FRAME_NAME.fullmatch(path.name):
                by_episode.setdefault(int(path.name[1:6]), []).append(path.name)
        for episode, frames in by_episode.items():
            self.state.add_frames(episode, frames)

    def _on_action(self, msg: ExecutedAction):
        self.state.on_control_step(msg.prompt, msg.decision_step, msg.control_step, list(msg.action))

    def _on_stats(self, msg: LearnerStats):
        self.state.on_learner({'episodes': msg.episodes, 'transitions': msg.transitions, 'updates': msg.updates,
                               'td_loss': round(float(msg.td_loss), 5), 'mean_q': round(float(msg.mean_q), 4),
                               'recent_success_rate': round(float(msg.recent_success_rate), 3)})

    def _on_image(self, msg: Image):
        now = self.get_clock().now().nanoseconds
        if now - self._last_image_ns < 1e9 / self.p.image_rate_hz:
            return  # encode only what the page can show
        self._last_image_ns = now
        try:
            rgb = from_image_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f'camera image not shown: {exc}', throttle_duration_sec=10.0)
            return
        if rgb is not None:
            self.state.on_image(encode_jpeg(rgb, self.p.jpeg_quality))

    def close(self):
        if self.keys is not None:
            self.keys.stop()
            self.keys = None
        if self.server is not None:
            self.server.stop()
            self.server = None


def thumbnail(jpeg: bytes, width: int = 112) -> bytes:
    """Return a small JPEG of a JPEG image (for the history strip)."""
    import cv2
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError('the camera image does not decode')
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    ok, data = cv2.imencode('.jpg', cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA),
                            [cv2.IMWRITE_JPEG_QUALITY, 70])
    if not ok:
        raise ValueError('JPEG encoding failed')
    return data.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    import cv2
    ok, data = cv2.imencode('.jpg', np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError('JPEG encoding failed')
    return data.tobytes()


NODE_CLASS = OperatorConsole


def main(argv=None):
    return run_node('operator_console', __doc__.splitlines()[0], OperatorConsoleConfig, OperatorConsole, argv)


if __name__ == '__main__':
    raise SystemExit(main())
