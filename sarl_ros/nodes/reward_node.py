"""Reward: success signals from a human (service or key press) and from a detector.

Conflict rule: a human verdict always wins over a detector; when they disagree the
reward says so in its detail and a warning is logged. After a single decision
(final=false) only the detector is asked; at the end of an episode (final=true) a
human, when enabled, is asked and waited for up to human_timeout_s, after which the
detector's answer is used; with neither, the episode is undecided (skipped).

The detector judges the image in the request (the episode manager sends the frame of its
latest state) or, when the request has none, the latest frame of the camera topic.
A verdict a person already gave for the episode (operator console, keys, service) is used
at the next evaluation, final or not; a person's failure is final ("failed for good"), so
"failure" ends the episode there.
"""
from __future__ import annotations

import sys
import threading

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from sarl_ros.backends import catalog
from sarl_ros.backends.catalog import DETECTOR_BACKENDS
from sarl_ros.backends.options import options_for
from sarl_ros.core.events import WAITING_FOR_VERDICT
from sarl_ros import names
from sarl_ros.msg import EpisodeEvent, RewardSignal
from sarl_ros.node_configs import RewardConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.images import from_image_msg
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import RECORD, SENSOR
from sarl_ros.srv import EvaluateEpisode, ReportOutcome


KEYS = {'s': ReportOutcome.Request.SUCCESS, 'f': ReportOutcome.Request.FAILURE, 'k': ReportOutcome.Request.SKIP}


def resolve(detector: tuple[bool | None, float] | None, human: int | None) -> tuple[bool | None, int, float, str]:
    """(success or None, source, confidence, detail) by the documented conflict rule."""
    if human is not None and human != ReportOutcome.Request.SKIP:
        success = human == ReportOutcome.Request.SUCCESS
        detail = 'human'
        if detector is not None and detector[0] is not None and detector[0] != success:
            detail = f'human overrides detector (detector said {"success" if detector[0] else "failure"})'
        return success, RewardSignal.SOURCE_HUMAN, 1.0, detail
    if human == ReportOutcome.Request.SKIP:
        return None, RewardSignal.SOURCE_HUMAN, 1.0, 'human skipped'
    if detector is not None and detector[0] is not None:
        return detector[0], RewardSignal.SOURCE_DETECTOR, float(detector[1]), 'detector'
    return None, RewardSignal.SOURCE_DETECTOR, 0.0, 'undecided'


class RewardNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('reward', **node_options)
        self.p = declare_parameters(self, RewardConfig)
        group = ReentrantCallbackGroup()  # a human verdict must arrive while evaluate waits
        self.detector = self._make_detector(group)
        self._latest_frame = None  # the last camera message, decoded only when a detector needs it
        self._frame_lock = threading.Lock()
        self.create_subscription(_image_type(), self.p.camera_topic, self._on_image, SENSOR, callback_group=group)
        self._verdicts: dict[int, int] = {}
        self._verdict_arrived = threading.Condition()
        self.pub = self.create_publisher(RewardSignal, names.TOPIC_REWARDS, RECORD)
        self.events = self.create_publisher(EpisodeEvent, names.TOPIC_EVENTS, RECORD)
        self.create_service(EvaluateEpisode, names.SRV_EVALUATE, self._on_evaluate, callback_group=group)
        self.create_service(ReportOutcome, names.SRV_REPORT_OUTCOME, self._on_report, callback_group=group)
        self.get_logger().info(f'ready: detector={self.p.detector} human={self.p.human}')

    def _make_detector(self, group):
        if self.p.detector == 'none':
            return None
        if self.p.detector == 'sim':
            return WorldJudgeClient(self, group)
        options = options_for(catalog.DETECTOR, self.p.detector, vars(self.p), DETECTOR_BACKENDS)
        return catalog.make_detector(self.p.detector, **options.kwargs())

    def _on_image(self, msg):
        with self._frame_lock:
            self._latest_frame = msg

    def _image_for(self, request):
        """Return the request's image, else the latest camera frame, else None."""
        image = from_image_msg(request.image)
        if image is None:
            with self._frame_lock:
                latest = self._latest_frame
            image = from_image_msg(latest) if latest is not None else None
        return image

    def _on_report(self, request, response):
        if request.outcome not in KEYS.values():
            response.accepted, response.message = False, f'unknown outcome {request.outcome}'
            return response
        with self._verdict_arrived:
            self._verdicts[request.episode] = request.outcome
            self._verdict_arrived.notify_all()
        response.accepted = True
        return response

    def _on_evaluate(self, request, response):
        detected, failed = None, False
        if self.detector is not None:
            image = self._image_for(request)
            try:
                detected = self.detector.evaluate(image, request.task)
                # Only some detectors can tell that the task can no longer succeed (the simulator's can).
                check = getattr(self.detector, 'failed_for_good', None)
                failed = bool(check(image, request.task)) if check is not None else False
            except Exception as exc:  # noqa: BLE001 - a broken detector leaves the verdict to others
                self.get_logger().warning(f'detector failed: {exc}')
        human = self._take_verdict(request.episode)
        # With human:=true no episode ends without the person's word: also when the detector says it is over.
        ends = request.final or (detected is not None and detected[0]) or failed
        if human is None and ends and self.p.human:
            human = self._wait_for_human(request.episode, request.task, request.timeout_s or self.p.human_timeout_s)
        success, source, confidence, detail = resolve(detected, human)
        if 'overrides' in detail:
            self.get_logger().warning(f'episode {request.episode}: {detail}')
        response.decided = success is not None
        response.message = detail
        # A human's success overrides a lost-object report; a human's failure ends the episode.
        failed = (failed or human == ReportOutcome.Request.FAILURE) and not success
        response.reward = RewardSignal(episode=request.episode, decision_step=request.decision_step,
                                       value=float(bool(success)), source=source, confidence=confidence,
                                       detail=detail + ('; failed for good' if failed else ''),
                                       failed_for_good=failed)
        response.reward.header.stamp = self.get_clock().now().to_msg()
        if request.final or success or failed or human is not None:  # every verdict that ends an episode
            self.pub.publish(response.reward)
        return response

    def _take_verdict(self, episode: int) -> int | None:
        with self._verdict_arrived:
            return self._verdicts.pop(episode, None)

    def _wait_for_human(self, episode: int, task: str, timeout: float) -> int | None:
        if self.p.keyboard and sys.stdin is not None and sys.stdin.isatty():
            threading.Thread(target=self._ask_keyboard, args=(episode, task), daemon=True).start()
        self.get_logger().info(f'episode {episode}: waiting for a verdict (service {names.SRV_REPORT_OUTCOME})')
        # The console shows that the run waits for a person (and for what): a PAUSED event.
        event = EpisodeEvent(type=EpisodeEvent.PAUSED, episode=episode, detail=WAITING_FOR_VERDICT)
        event.header.stamp = self.get_clock().now().to_msg()
        self.events.publish(event)
        with self._verdict_arrived:
            self._verdict_arrived.wait_for(lambda: episode in self._verdicts, timeout=timeout)
            return self._verdicts.pop(episode, None)

    def _ask_keyboard(self, episode: int, task: str):
        answer = input(f'\nepisode {episode} "{task}": [s]uccess / [f]ailure / s[k]ip? ').strip().lower()[:1]
        if answer in KEYS:
            with self._verdict_arrived:
                self._verdicts.setdefault(episode, KEYS[answer])
                self._verdict_arrived.notify_all()


class WorldJudgeClient:
    """The judge of a backend that knows its world's true state (the simulator), served by the executor node."""

    def __init__(self, node: Node, group):
        self.client = node.create_client(EvaluateEpisode, names.SRV_SIM_SUCCESS, callback_group=group)

    def evaluate(self, image, task) -> tuple[bool | None, float]:
        reward = self._ask(task)
        return reward.value > 0.5, reward.confidence

    def failed_for_good(self, image, task) -> bool:
        return bool(self._ask(task).failed_for_good)

    def _ask(self, task):
        if not self.client.wait_for_service(timeout_sec=5.0):
            raise TimeoutError(f'{names.SRV_SIM_SUCCESS} is not available')
        done = threading.Event()
        future = self.client.call_async(EvaluateEpisode.Request(task=task))
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout=10.0):
            raise TimeoutError('the executor did not answer the success check')
        return future.result().reward


def _image_type():
    from sensor_msgs.msg import Image
    return Image


NODE_CLASS = RewardNode


def main(argv=None):
    return run_node('reward', __doc__.splitlines()[0], RewardConfig, RewardNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
