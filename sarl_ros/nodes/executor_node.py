"""VLA executor: an action server that runs one prompt on the arm through the VLA.

Goal: prompt + control-step budget; feedback per control step; result: outcome, steps and
the state features after execution. Also: emergency stop (halts at once, latches), scene
reset (arm home; a backend with a self-resetting scene, the simulator, restores it), current
state, and, where the backend offers them, a view of the scene (published as a camera topic)
and a judge of the task from the world's state (served to the reward node).
"""
from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool

from sarl_ros.action import ExecutePrompt
from sarl_ros.backends.stack import build_stack
from sarl_ros.core.log_text import printable
from sarl_ros.core.executor import CANCELLED, SKILL_DONE, execute_prompt
from sarl_ros import names
from sarl_ros.msg import ExecutedAction, RewardSignal
from sarl_ros.node_configs import ExecutorConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.convert import seen_object_to_msg
from sarl_ros.rosutil.images import from_image_msg, to_image_msg
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import LATCHED, RECORD, SENSOR
from sarl_ros.srv import EmergencyStop, EvaluateEpisode, GetState, ResetScene


class TopicCamera:
    """The latest frame of an image topic, as the Camera interface the executor reads."""

    def __init__(self, node: Node, topic: str):
        self._msg = None
        self._lock = threading.Lock()
        node.create_subscription(_image_type(), topic, self._on_image, SENSOR)

    def _on_image(self, msg):
        with self._lock:
            self._msg = msg  # decoded when read: most frames are never used

    def read(self) -> np.ndarray:
        with self._lock:
            msg = self._msg
        if msg is None:
            raise RuntimeError('no camera image received yet')
        return from_image_msg(msg)


def _image_type():
    from sensor_msgs.msg import Image
    return Image


class ExecutorNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('vla_executor', **node_options)
        self.p = declare_parameters(self, ExecutorConfig)
        # The camera topic is what a real VLA sees; a simulated world brings its own view and ignores it.
        self._camera = TopicCamera(self, self.p.camera_topic)
        self.stack = build_stack(self.p.robot, self.p.vla, vars(self.p), camera=self._camera)
        self._retired_stacks: list = []  # stacks of earlier tasks (see _use_task)
        self._world_lock = threading.Lock()  # physics, rendering and state reads
        self._busy = threading.Lock()
        self._estopped = threading.Event()
        self._episode = 0
        self._closing = threading.Event()
        reentrant = ReentrantCallbackGroup()
        self.actions_pub = self.create_publisher(ExecutedAction, names.TOPIC_EXECUTED_ACTIONS, RECORD)
        # Latched: the episode manager sends no goal to a stopped arm, the console shows the truth.
        self.estop_pub = self.create_publisher(Bool, names.TOPIC_ESTOP_STATE, LATCHED)
        self.estop_pub.publish(Bool(data=False))
        self.server = ActionServer(
            self, ExecutePrompt, names.ACTION_EXECUTE, execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=reentrant)
        # Emergency stop has its own group so it is served while a goal executes.
        self.create_service(EmergencyStop, names.SRV_EMERGENCY_STOP, self._on_estop,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(ResetScene, names.SRV_RESET_SCENE, self._on_reset, callback_group=reentrant)
        self.create_service(GetState, names.SRV_GET_STATE, self._on_get_state, callback_group=reentrant)
        if self.stack.judge is not None:
            self.create_service(EvaluateEpisode, names.SRV_SIM_SUCCESS, self._on_sim_success,
                                callback_group=reentrant)
        self.rendering = self.stack.view is not None and self.p.sim_camera_rate_hz > 0
        if self.rendering:
            self.sim_image_pub = self.create_publisher(_image_type(), names.TOPIC_SIM_CAMERA, SENSOR)
            self.create_timer(1.0 / self.p.sim_camera_rate_hz, self._publish_sim_image,
                              callback_group=MutuallyExclusiveCallbackGroup())
        self._announced_task: str | None = None  # the simulated task whose state was last logged
        if self.stack.task is None:
            self.get_logger().info(f'ready: robot={self.p.robot} vla={self.p.vla} state={self._state_label()}')
        else:
            # A simulator builds the scene (and the state) of the task the first reset names: say so then.
            self.get_logger().info(f'ready: robot={self.p.robot} vla={self.p.vla} '
                                   f'state_featurizer={self.p.state_featurizer} (the simulated task and its state '
                                   'are logged at the first reset)')

    def _state_label(self) -> str:
        label = type(self.stack.featurizer).__name__
        if self.stack.task is not None and self.stack.state_camera is None:
            label += ' (PRIVILEGED simulator state: the oracle ablation)'
        return label

    def _use_task(self, task: str) -> None:
        """Build the stack of the task the episode manager resolved, when this world simulates another one."""
        if not task or self.stack.task is None or task == self.stack.task:
            return  # a real scene serves any task; a person sets it up
        # The old world is not freed while the node runs: its offscreen GL contexts may still be current in
        # other callback threads, and the next render there (OSMesaMakeCurrent) then touches freed memory:
        # a segfault (test_executor_node.py::test_switching_tasks_...). Task changes are rare.
        self._retired_stacks.append(self.stack)
        if self.p.vla != 'sim' and callable(getattr(self.stack.vla, 'close', None)):
            self.stack.vla.close()  # a policy server's connection (vla:=openpi on the simulated arm)
        self.stack = build_stack(self.p.robot, self.p.vla, vars(self.p), camera=self._camera, task=task)

    def _announce_task(self) -> None:
        """Log the simulated task and the state Q_sem gets, once per task the resets name (also the first)."""
        if self.stack.task is not None and self.stack.task != self._announced_task:
            self._announced_task = self.stack.task
            self.get_logger().info(f'simulating task {self.stack.task}: state={self._state_label()}')

    # --- action ---------------------------------------------------------------------------
    def _on_goal(self, goal):
        if self._estopped.is_set():
            self.get_logger().warning(f'rejecting goal {goal.prompt!r}: emergency stop engaged')
            return GoalResponse.REJECT
        if self._busy.locked():
            self.get_logger().warning(f'rejecting goal {goal.prompt!r}: another prompt is executing')
            return GoalResponse.REJECT
        if not goal.prompt.strip():
            self.get_logger().warning('rejecting a goal with an empty prompt')
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle):
        goal = goal_handle.request
        result = ExecutePrompt.Result()
        if not self._busy.acquire(blocking=False):
            goal_handle.abort()
            result.outcome, result.message = ExecutePrompt.Result.REJECTED, 'busy'
            return result
        try:
            return self._run_goal(goal_handle, goal, result)
        except Exception:  # noqa: BLE001 - rclpy's RCLError once the context is gone
            if self.context.ok():
                raise
            # Ctrl-C or the graph stopping invalidated the context mid-goal: no one can get a result.
            result.outcome, result.message = ExecutePrompt.Result.CANCELLED, 'executor shutting down'
            return result
        finally:
            self._busy.release()

    def _run_goal(self, goal_handle, goal, result):
        steps = goal.max_control_steps or self.p.max_control_steps
        period = 1.0 / self.stack.robot.control_hz if self.p.realtime else 0.0
        feedback = ExecutePrompt.Feedback()

        def on_step(step, action):
            feedback.control_steps_done = step
            feedback.last_action = [float(a) for a in action]
            goal_handle.publish_feedback(feedback)
            executed = ExecutedAction(episode=goal.episode, decision_step=goal.decision_step, control_step=step,
                                      prompt=goal.prompt, action=[float(a) for a in action])
            executed.header.stamp = self.get_clock().now().to_msg()  # when the arm was commanded
            self.actions_pub.publish(executed)
            if period:
                time.sleep(period)

        def should_stop():
            return (self._estopped.is_set() or goal_handle.is_cancel_requested or self._closing.is_set()
                    or not self.context.ok())

        try:
            with self._world_lock:
                run = execute_prompt(self.stack.robot, self.stack.camera, self.stack.vla, goal.prompt,
                                     steps, should_stop=should_stop, on_step=on_step)
                executed = [*goal.history, goal.prompt]  # the state after this prompt counts it
                result.state_features = self._features(self._state_frame(self._latest_frame()), executed).tolist()
        except Exception as exc:  # noqa: BLE001 - a failing backend must not kill the node
            if not self.context.ok():
                raise  # shutting down, not a backend failure (handled in _execute)
            self.get_logger().error(f'executing {goal.prompt!r} failed: {exc}')
            goal_handle.abort()
            result.outcome, result.message = ExecutePrompt.Result.FAILED, str(exc)
            return result
        result.control_steps = run.control_steps
        result.clipped_steps = run.clipped_steps
        result.message = '; '.join(run.messages)
        if run.outcome == CANCELLED:
            if self._estopped.is_set():
                result.outcome = ExecutePrompt.Result.ESTOPPED
                goal_handle.abort()
            elif goal_handle.is_cancel_requested:
                result.outcome = ExecutePrompt.Result.CANCELLED
                goal_handle.canceled()
            else:  # the node is shutting down: nobody asked to cancel, so abort
                result.outcome, result.message = ExecutePrompt.Result.CANCELLED, 'executor shutting down'
                goal_handle.abort()
            return result
        done_early = run.outcome == SKILL_DONE
        result.outcome = ExecutePrompt.Result.SKILL_DONE if done_early else ExecutePrompt.Result.COMPLETED
        goal_handle.succeed()
        return result

    # --- services -------------------------------------------------------------------------
    def _on_estop(self, request, response):
        if request.engage:
            self._estopped.set()
            self.stack.robot.halt()  # at once, not at the next control step
            self.get_logger().error(f'EMERGENCY STOP: {printable(request.reason or "no reason given")}')
            response.message = 'engaged'
        else:
            self._estopped.clear()
            self.get_logger().warning('emergency stop released')
            response.message = 'released'
        self.estop_pub.publish(Bool(data=bool(request.engage)))
        response.success = True
        return response

    def _on_reset(self, request, response):
        if self._estopped.is_set():
            response.success, response.message = False, 'emergency stop engaged'
            return response
        with self._world_lock:
            try:
                self._use_task(request.task)
            except ValueError as exc:
                response.success, response.message = False, str(exc)
                return response
            self._announce_task()
            self.stack.robot.home()
            if self.stack.scene is not None:
                self.stack.scene.reset_scene(seed=request.seed)
        response.success = True
        response.message = 'scene reset by the backend' if self.stack.scene is not None else 'arm at home'
        return response

    def _on_get_state(self, request, response):
        with self._world_lock:
            # One frame serves the features and the image, so the reward node judges what the learner saw.
            frame = self._latest_frame()
            response.state_features = self._features(self._state_frame(frame), list(request.history)).tolist()
            image = self.stack.view.read() if self.rendering else frame
            if self.stack.annotator is not None:
                response.scene_view = [seen_object_to_msg(o) for o in self.stack.annotator.scene_view()]
        if image is not None:
            response.image = to_image_msg(image, stamp=self.get_clock().now().to_msg())
        response.stamp = self.get_clock().now().to_msg()
        response.success = True
        return response

    def _on_sim_success(self, request, response):
        judge = self.stack.judge
        with self._world_lock:
            success, confidence = judge.evaluate(None, request.task)
            check = getattr(judge, 'failed_for_good', None)
            failed = bool(check(None, request.task)) if check is not None else False
        response.decided = success is not None
        response.reward = RewardSignal(episode=request.episode, decision_step=request.decision_step,
                                       value=1.0 if success else 0.0, source=RewardSignal.SOURCE_DETECTOR,
                                       confidence=float(confidence), detail='world state', failed_for_good=failed)
        return response

    def _features(self, frame, history: list[str]) -> np.ndarray:
        # Joint state, frame and executed prompts: the inputs the in-process env gives the same featurizer.
        return np.asarray(self.stack.featurizer.features(frame, self.stack.robot.joint_state(), history), np.float32)

    def _state_frame(self, camera_frame):
        """Return the frame the featurizer reads: the stack's own (the simulator's small render), else the camera's."""
        return self.stack.state_camera.read() if self.stack.state_camera is not None else camera_frame

    def _latest_frame(self):
        if self.stack.camera is None:
            return None  # the simulated VLA reads the world, not frames; the state frame is its own render
        try:
            return self.stack.camera.read()
        except RuntimeError as exc:
            self.get_logger().warning(f'state features without an image: {exc}', throttle_duration_sec=10.0)
            return None

    def _publish_sim_image(self):
        if self._busy.locked():
            return  # keep physics fast while a prompt runs; frames resume between prompts
        with self._world_lock:
            image = self.stack.view.read()
        self.sim_image_pub.publish(to_image_msg(image, stamp=self.get_clock().now().to_msg()))

    def close(self):
        """Stop a running prompt and wait for it to end before the action server is destroyed.

        Destroying the server under a running goal makes its feedback and result calls fail.
        """
        self._closing.set()
        if self._busy.acquire(timeout=10.0):
            self._busy.release()


NODE_CLASS = ExecutorNode


def main(argv=None):
    return run_node('vla_executor', __doc__.splitlines()[0], ExecutorConfig, ExecutorNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
